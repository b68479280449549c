//! `cache gc`: what it removes and keeps, and that it is safe beside clients in other processes.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::server::TestServer;
use common::{Run, TestRegistry, run_in, tree};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs a client command against `server` with `cache`.
fn client(root: &Path, server: &TestServer, cache: &Path, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--registry", &server.url, "--cache", path(cache)]);
    run_in(root, &all)
}

/// The cache's one registry directory.
fn registry_dir(cache: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(".perstack-client").is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

/// The path of a document's hash-named copy, from the bytes at `readable`.
fn hashed(prefix: &str, bytes: &[u8]) -> String {
    format!("{prefix}/{}.json", blake3::hash(bytes).to_hex())
}

/// The top bin a root pins (the registries here are small enough for one level of bins).
fn top_bin_of(root_json: &Path) -> String {
    let root: serde_json::Value = serde_json::from_slice(&fs::read(root_json).unwrap()).unwrap();
    format!("v1/bins/{}.json", root["bins"]["blake3"].as_str().unwrap())
}

#[test]
fn gc_removes_exactly_what_no_kept_root_reaches() {
    let registry = TestRegistry::valid();
    let root = registry.root();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let out = registry.out();
    let server = TestServer::serve(&out);
    let cache = root.join("cache");
    client(
        root,
        &server,
        &cache,
        &["fetch", "@acme/researcher@1.0.0", "-q"],
    )
    .expect_code(0);
    client(root, &server, &cache, &["resolve", "tic-tac-toe"]).expect_code(0);
    let dir = registry_dir(&cache);

    // What the next publish makes unreachable: the registry's old top bin and the old index
    // document of the expert it changes, the cache's own old top bin, and an index document
    // read only to resolve.
    let old_upstream_snapshot = top_bin_of(&out.join("v1/root.json"));
    let old_own_snapshot = top_bin_of(&dir.join("v1/root.json"));
    let old_index = hashed(
        "v1/index",
        &fs::read(out.join("v1/experts/@acme/researcher.json")).unwrap(),
    );
    let resolved_only = hashed(
        "v1/index",
        &fs::read(out.join("v1/experts/tic-tac-toe.json")).unwrap(),
    );
    registry.version("@acme/researcher", "1.2.0", "");
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    client(root, &server, &cache, &["fetch", "@acme/researcher", "-q"]).expect_code(0);
    let mut garbage = vec![
        old_upstream_snapshot,
        old_own_snapshot,
        old_index,
        resolved_only.clone(),
    ];
    garbage.sort();
    let bytes: u64 = garbage
        .iter()
        .map(|p| fs::metadata(dir.join(p)).unwrap().len())
        .sum();
    // Not a registry directory: never looked into.
    fs::create_dir_all(cache.join("serve-tls")).unwrap();
    fs::write(cache.join("serve-tls/ca.pem"), "certificate").unwrap();

    let before = tree(&cache);
    let id = dir.file_name().unwrap().to_str().unwrap();
    let dry = run_in(root, &["cache", "gc", "--cache", path(&cache), "--dry-run"]);
    dry.expect_code(0);
    assert_eq!(
        dry.stderr(),
        format!(
            "{id}: would remove 4 file(s), {bytes} bytes; kept 6\nwould remove 4 file(s), {bytes} bytes from {}\n",
            cache.display()
        )
    );
    assert_eq!(tree(&cache), before, "a dry run removes nothing");

    let run = run_in(root, &["cache", "gc", "--cache", path(&cache)]);
    run.expect_code(0);
    assert_eq!(
        run.stderr(),
        format!(
            "{id}: removed 4 file(s), {bytes} bytes; kept 6\nremoved 4 file(s), {bytes} bytes from {}\n",
            cache.display()
        )
    );
    let after = tree(&cache);
    let prefix = format!("{id}/");
    let mut removed: Vec<String> = before
        .keys()
        .filter(|p| !after.contains_key(*p))
        .map(|p| p.strip_prefix(&prefix).unwrap().to_owned())
        .collect();
    removed.sort();
    assert_eq!(removed, garbage);
    assert_eq!(after["serve-tls/ca.pem"], b"certificate");

    // The cache is still a whole registry, and every client still works from it.
    run_in(root, &["verify", path(&dir)]).expect_code(0);
    for key in ["@acme/researcher@1.0.0", "@acme/researcher@1.2.0"] {
        client(root, &server, &cache, &["fetch", key, "--offline", "-q"]).expect_code(0);
    }
    server.reset_requests();
    client(root, &server, &cache, &["resolve", "tic-tac-toe"]).expect_code(0);
    assert_eq!(
        server.requests(),
        ["v1/root.json".to_owned(), resolved_only],
        "only the root and the collected index document are asked for again"
    );
    let json = run_in(
        root,
        &["cache", "gc", "--cache", path(&cache), "--format", "json"],
    );
    json.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(report["removed"], 1);
    assert_eq!(report["registries"][0]["id"], id);
}

#[test]
fn gc_waits_for_a_client_holding_the_cache_lock() {
    let registry = TestRegistry::valid();
    let root = registry.root();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let server = TestServer::serve(&registry.out());
    let cache = root.join("cache");
    client(root, &server, &cache, &["fetch", "tic-tac-toe", "-q"]).expect_code(0);
    let lock = fs::OpenOptions::new()
        .write(true)
        .open(registry_dir(&cache).join(".perstack-client/lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut gc = Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args(["cache", "gc", "--cache", path(&cache)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        gc.try_wait().unwrap().is_none(),
        "gc went on while another process held the lock"
    );
    lock.unlock().unwrap();
    assert!(gc.wait().unwrap().success());
}

#[test]
fn gc_beside_fetches_in_other_processes_leaves_every_client_working() {
    let registry = TestRegistry::valid();
    let root = registry.root();
    let experts: Vec<String> = (0..24).map(|n| format!("@bulk/expert-{n}")).collect();
    for name in &experts {
        registry.version(name, "1.0.0", "");
        registry.version(name, "1.1.0", "");
    }
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let server = TestServer::serve(&registry.out());
    let cache = root.join("cache");
    let done = std::sync::atomic::AtomicBool::new(false);
    let gc_runs = std::thread::scope(|scope| {
        let fetchers: Vec<_> = experts
            .chunks(8)
            .map(|chunk| {
                let (server, cache) = (&server, &cache);
                scope.spawn(move || {
                    for name in chunk {
                        let run = client(root, server, cache, &["fetch", name, "-q"]);
                        run.expect_code(0);
                    }
                })
            })
            .collect();
        let gc = scope.spawn(|| {
            let mut runs = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                run_in(root, &["cache", "gc", "--cache", path(&cache), "-q"]).expect_code(0);
                runs += 1;
            }
            runs
        });
        for fetcher in fetchers {
            fetcher.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        gc.join().unwrap()
    });
    assert!(gc_runs >= 2, "gc ran {gc_runs} time(s)");
    let dir = registry_dir(&cache);
    let verify = run_in(root, &["verify", path(&dir)]);
    verify.expect_code(0);
    assert!(
        verify
            .stderr()
            .contains("is intact: 24 experts, 48 versions"),
        "{}",
        verify.stderr()
    );
    run_in(root, &["cache", "gc", "--cache", path(&cache), "-q"]).expect_code(0);
    for name in &experts {
        let key = format!("{name}@1.0.0");
        client(root, &server, &cache, &["fetch", &key, "--offline", "-q"]).expect_code(0);
    }
    run_in(root, &["verify", path(&dir)]).expect_code(0);
}

#[test]
fn a_link_planted_in_a_cache_is_never_followed() {
    let registry = TestRegistry::valid();
    let root = registry.root();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let server = TestServer::serve(&registry.out());
    let cache = root.join("cache");
    client(root, &server, &cache, &["fetch", "tic-tac-toe", "-q"]).expect_code(0);
    let dir = registry_dir(&cache);
    let outside = root.join("outside");
    fs::create_dir_all(outside.join("ab")).unwrap();
    let victim = format!("ab/ab{}.toml", "0".repeat(62));
    fs::write(outside.join(&victim), "precious").unwrap();
    fs::remove_dir_all(dir.join("v1/index")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("v1/index")).unwrap();
    let run = run_in(root, &["cache", "gc", "--cache", path(&cache)]);
    run.expect_code(1);
    let id = dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        run.stderr(),
        format!(
            "warning: {id}: {} is a symbolic link; refusing to collect through it (remove it; fetch fills the cache again)\nremoved 0 file(s), 0 bytes from {cache}\nerror: 1 registry directory(ies) in {cache} left alone\n",
            dir.join("v1/index").display(),
            cache = cache.display()
        )
    );
    assert_eq!(fs::read(outside.join(&victim)).unwrap(), b"precious");
}
