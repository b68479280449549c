//! The client commands (`resolve`, `fetch`, `lock`) against a registry served over HTTP on
//! 127.0.0.1: every kind of key, the cache, tampering, the network behaviour, and lockfiles.

mod common;

use std::fs;
use std::path::PathBuf;

use common::server::{Fault, TestServer};
use common::{Run, TestRegistry, run_in};

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn blob_path(bytes: &[u8]) -> String {
    let hash = blake3_hex(bytes);
    format!("v1/blobs/{}/{hash}.toml", &hash[..2])
}

/// A built registry served over HTTP, and a cache directory for the client.
struct Served {
    registry: TestRegistry,
    server: TestServer,
}

impl Served {
    fn new(registry: TestRegistry) -> Served {
        registry.run(&["build", "--quiet"]).expect_code(0);
        let server = TestServer::serve(&registry.out());
        Served { registry, server }
    }

    fn cache(&self) -> PathBuf {
        self.registry.root().join("cache")
    }

    /// Runs a client command against the served registry with the test's cache.
    fn client(&self, args: &[&str]) -> Run {
        let cache = self.cache();
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "--registry",
            &self.server.url,
            "--cache",
            cache.to_str().unwrap(),
        ]);
        self.registry.run(&all)
    }

    fn data(&self, relative: &str) -> Vec<u8> {
        fs::read(self.registry.data().join(relative)).unwrap()
    }

    /// The replica of the served registry inside the cache.
    fn replica(&self) -> PathBuf {
        let mut dirs: Vec<PathBuf> = fs::read_dir(self.cache())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        dirs.pop().unwrap()
    }
}

fn served() -> Served {
    let registry = TestRegistry::valid();
    registry
        .version("@acme/researcher", "2.0.0-beta.1", "")
        .version("tic-tac-toe", "0.9.0", "")
        .file(
            "tic-tac-toe/expert.toml",
            "[tags]\nstable = \"1.0.0\"\n[versions.\"0.9.0\"]\nstatus = \"disabled\"\nreason = \"Broken\"\n",
        );
    Served::new(registry)
}

#[test]
fn resolve_answers_each_kind_of_key_with_version_hash_and_path() {
    let s = served();
    let line = |name: &str, version: &str| {
        let bytes = s.data(&format!("{name}/{version}.toml"));
        format!(
            "{name}@{version} {} {}\n",
            blake3_hex(&bytes),
            blob_path(&bytes)
        )
    };
    for (key, name, version) in [
        ("@acme/researcher", "@acme/researcher", "1.1.0"),
        ("@acme/researcher@latest", "@acme/researcher", "1.1.0"),
        ("@acme/researcher@1.0.0", "@acme/researcher", "1.0.0"),
        ("@acme/researcher@^1", "@acme/researcher", "1.1.0"),
        ("@acme/researcher@~1.0", "@acme/researcher", "1.0.0"),
        (
            "@acme/researcher@>=1.0.0, <1.1.0",
            "@acme/researcher",
            "1.0.0",
        ),
        (
            "@acme/researcher@>=2.0.0-beta.0",
            "@acme/researcher",
            "2.0.0-beta.1",
        ),
        ("tic-tac-toe@stable", "tic-tac-toe", "1.0.0"),
        ("tic-tac-toe@*", "tic-tac-toe", "1.0.0"),
    ] {
        let run = s.client(&["resolve", key]);
        run.expect_code(0);
        assert_eq!(run.stdout(), line(name, version), "{key}");
    }
    let deprecated = s.client(&["resolve", "@acme/researcher@1.0.0"]);
    assert_eq!(
        deprecated.stderr(),
        "warning: @acme/researcher@1.0.0 is deprecated: Use 1.1.0\n"
    );
    let json = s.client(&["resolve", "tic-tac-toe", "--format", "json"]);
    json.expect_code(0);
    let bytes = s.data("tic-tac-toe/1.0.0.toml");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json.stdout()).unwrap(),
        serde_json::json!({
            "key": "tic-tac-toe@1.0.0",
            "name": "tic-tac-toe",
            "version": "1.0.0",
            "blake3": blake3_hex(&bytes),
            "size": bytes.len(),
            "path": blob_path(&bytes),
            "status": "available"
        })
    );
}

#[test]
fn unknown_names_tags_and_unmatched_requirements_each_have_their_message() {
    let s = served();
    for (key, message) in [
        (
            "@acme/nobody",
            "error: unknown expert \"@acme/nobody\": the registry has no expert of that name\n",
        ),
        (
            "tic-tac-toe@beta",
            "error: unknown tag \"beta\" of \"tic-tac-toe\" (its tags: latest, stable)\n",
        ),
        (
            "tic-tac-toe@^2",
            "error: no version of \"tic-tac-toe\" matches \"^2\": versions that are not disabled: 1.0.0\n",
        ),
        (
            "tic-tac-toe@0.9.0",
            "error: tic-tac-toe@0.9.0 is disabled and no longer resolves: Broken\n",
        ),
        (
            "tic-tac-toe@^0.9",
            "error: no version of \"tic-tac-toe\" matches \"^0.9\": versions that are not disabled: 1.0.0\n",
        ),
        (
            "@acme/researcher@^2",
            "error: no version of \"@acme/researcher\" matches \"^2\": versions that are not disabled: 1.0.0, 1.1.0, 2.0.0-beta.1\n",
        ),
    ] {
        let run = s.client(&["resolve", key]);
        run.expect_code(1);
        assert_eq!(run.stderr(), message, "{key}");
    }
    let bad = s.client(&["resolve", "Tic"]);
    bad.expect_code(2);
}

#[test]
fn fetch_verifies_caches_and_never_downloads_a_cached_blob_again() {
    let s = served();
    let bytes = s.data("@acme/researcher/1.1.0.toml");
    let run = s.client(&["fetch", "@acme/researcher@^1"]);
    run.expect_code(0);
    assert_eq!(run.output.stdout, bytes, "fetch prints the definition");
    let blob = blob_path(&bytes);
    assert_eq!(s.server.count(&blob), 1);
    // The whole expert is cached, so any version of it is there from now on.
    let older = s.data("@acme/researcher/1.0.0.toml");
    assert_eq!(s.server.count(&blob_path(&older)), 1);
    s.server.reset_requests();

    let out = s.registry.root().join("researcher.toml");
    let again = s.client(&[
        "fetch",
        "@acme/researcher@1.0.0",
        "--output",
        out.to_str().unwrap(),
    ]);
    again.expect_code(0);
    assert_eq!(fs::read(&out).unwrap(), older);
    assert_eq!(
        s.server.requests(),
        ["v1/root.json"],
        "only the root is revalidated"
    );
    assert_eq!(s.server.statuses("v1/root.json"), [304]);
    // The top bin, the index document and the expert's three blobs came from the cache.
    assert_eq!(
        again.stderr(),
        format!(
            "warning: @acme/researcher@1.0.0 is deprecated: Use 1.1.0\nfetched @acme/researcher@1.0.0 (BLAKE3 {}): 0 file(s) downloaded, 5 from the cache {}\n",
            blake3_hex(&older),
            s.replica().display()
        )
    );
}

#[test]
fn an_altered_blob_is_refused_and_nothing_is_cached() {
    let s = served();
    let bytes = s.data("tic-tac-toe/1.0.0.toml");
    let blob = blob_path(&bytes);
    let mut altered = bytes.clone();
    altered[bytes.len() / 2] ^= 1;
    s.server.fault(&blob, Fault::Body(altered.clone()));
    let run = s.client(&["fetch", "tic-tac-toe"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}{blob}: content hashes to {}, but the registry expects {}: the registry is damaged\n",
            s.server.url,
            blake3_hex(&altered),
            blake3_hex(&bytes)
        )
    );
    assert!(run.output.stdout.is_empty());
    assert!(
        !s.replica().join(&blob).exists(),
        "the altered blob was cached"
    );
    s.server.clear_faults();
    s.client(&["fetch", "tic-tac-toe"]).expect_code(0);
    assert_eq!(fs::read(s.replica().join(&blob)).unwrap(), bytes);
}

#[test]
fn offline_fetch_reads_the_cache_and_the_cache_is_a_registry() {
    let s = served();
    s.client(&["fetch", "tic-tac-toe"]).expect_code(0);
    let url = s.server.url.clone();
    let Served { registry, server } = s;
    drop(server);
    let cache = registry.root().join("cache");
    let offline = |key: &str| {
        registry.run(&[
            "fetch",
            key,
            "--offline",
            "--registry",
            &url,
            "--cache",
            cache.to_str().unwrap(),
        ])
    };
    let run = offline("tic-tac-toe@stable");
    run.expect_code(0);
    assert_eq!(
        run.output.stdout,
        fs::read(registry.data().join("tic-tac-toe/1.0.0.toml")).unwrap()
    );
    let missing = offline("@acme/searcher");
    missing.expect_code(1);
    assert_eq!(
        missing.stderr(),
        "error: unknown expert \"@acme/searcher\": the registry has no expert of that name\n"
    );
    let replica = fs::read_dir(&cache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let verify = run_in(registry.root(), &["verify", replica.to_str().unwrap()]);
    verify.expect_code(0);
    assert!(
        verify.stderr().contains("is intact: 1 experts, 2 versions"),
        "{}",
        verify.stderr()
    );
}

#[test]
fn offline_with_an_empty_cache_says_so() {
    let s = served();
    let run = s.client(&["resolve", "tic-tac-toe", "--offline"]);
    run.expect_code(1);
    assert!(
        run.stderr().starts_with("error: offline, and the cache ")
            && run
                .stderr()
                .ends_with("holds nothing from this registry yet; run once online\n"),
        "{}",
        run.stderr()
    );
    assert!(s.server.requests().is_empty());
}

#[test]
fn server_errors_are_retried_and_redirects_to_another_host_refused() {
    let s = served();
    s.server.fault("v1/root.json", Fault::Status(503, 2));
    s.client(&["resolve", "tic-tac-toe"]).expect_code(0);
    assert_eq!(s.server.statuses("v1/root.json"), [503, 503, 200]);

    s.server.fault("v1/root.json", Fault::Status(503, 10));
    let run = s.client(&["resolve", "tic-tac-toe"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}v1/root.json: HTTP 503 (gave up after 4 attempts)\n",
            s.server.url
        )
    );
    s.server.clear_faults();

    // A redirect on the same host is followed.
    s.server.fault(
        "v1/root.json",
        Fault::Redirect(format!("{}./v1/root.json", s.server.url)),
    );
    s.client(&["resolve", "tic-tac-toe"]).expect_code(0);
    // ...and the conditional request goes along: the root did not change.
    assert_eq!(s.server.statuses("./v1/root.json"), [304]);

    let elsewhere = s.server.url.replace("127.0.0.1", "localhost");
    s.server.fault(
        "v1/root.json",
        Fault::Redirect(format!("{elsewhere}v1/root.json")),
    );
    let run = s.client(&["resolve", "tic-tac-toe"]);
    run.expect_code(1);
    let port = s
        .server
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}v1/root.json: the server redirects to another host (http://127.0.0.1:{port} -> http://localhost:{port}); refusing to follow it (use the final URL as the registry if you trust it)\n",
            s.server.url
        )
    );
}

#[test]
fn lock_pins_every_reachable_delegate_and_fetch_and_verify_honour_it() {
    let s = served();
    let project = s.registry.root().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("perstack.toml"),
        "model = \"claude-sonnet-4-5\"\n[experts.\"lead\"]\ninstruction = \"Lead.\"\ndelegates = [\"helper\", \"@acme/researcher@^1\"]\n[experts.\"helper\"]\ninstruction = \"Help.\"\ndelegates = [\"tic-tac-toe\"]\n",
    )
    .unwrap();
    let toml = project.join("perstack.toml");
    // The Perstack runtime's own lockfile, as `perstack install` writes it, sits beside it.
    let runtime_lock = project.join("perstack.lock");
    let runtime_bytes = fs::read(fixture("runtime-perstack.lock")).unwrap();
    fs::write(&runtime_lock, &runtime_bytes).unwrap();
    let run = s.client(&["lock", toml.to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(fs::read(&runtime_lock).unwrap(), runtime_bytes);
    let lock_path = project.join("perstack-registry.lock");
    let entry = |name: &str, version: &str, requested: &[&str]| {
        let bytes = s.data(&format!("{name}/{version}.toml"));
        let requested: Vec<String> = requested.iter().map(|r| format!("\"{r}\"")).collect();
        format!(
            "\n[[expert]]\nname = \"{name}\"\nversion = \"{version}\"\nblake3 = \"{}\"\npath = \"{}\"\nrequested = [{}]\n",
            blake3_hex(&bytes),
            blob_path(&bytes),
            requested.join(", ")
        )
    };
    // @acme/researcher@1.1.0 delegates to @acme/searcher@1.0.0 and tic-tac-toe@stable.
    let expected = format!(
        "# Written by `perstack-registry lock`: every registry delegate, pinned. Do not edit.\nversion = 1\n{}{}{}",
        entry("@acme/researcher", "1.1.0", &["@acme/researcher@^1"]),
        entry("@acme/searcher", "1.0.0", &["@acme/searcher@1.0.0"]),
        entry(
            "tic-tac-toe",
            "1.0.0",
            &["tic-tac-toe", "tic-tac-toe@stable"]
        ),
    );
    assert_eq!(fs::read_to_string(&lock_path).unwrap(), expected);
    assert_eq!(
        run.stderr(),
        format!(
            "locked 3 registry expert version(s) in {}\n",
            lock_path.display()
        )
    );

    // Never written over, and never misread: the runtime's file is named for what it is.
    let runtime = runtime_lock.to_str().unwrap();
    let refused = s.client(&["lock", toml.to_str().unwrap(), "--output", runtime]);
    refused.expect_code(2);
    assert_eq!(
        refused.stderr(),
        format!(
            "error: {runtime}: refusing to write there: perstack.lock belongs to the Perstack runtime (`perstack install`); write perstack-registry's lockfile to perstack-registry.lock (the default) or another name\n"
        )
    );
    assert_eq!(fs::read(&runtime_lock).unwrap(), runtime_bytes);
    let misread = s.client(&["fetch", "tic-tac-toe", "--locked", "--lockfile", runtime]);
    misread.expect_code(2);
    assert_eq!(
        misread.stderr(),
        format!(
            "error: {runtime}: this is the Perstack runtime's lockfile (written by `perstack install`), not a perstack-registry lockfile; `perstack-registry lock` writes perstack-registry.lock beside perstack.toml\n"
        )
    );
    let garbled = project.join("garbled.lock");
    fs::write(&garbled, "version = 1\n[[expert]]\nname = 3\n").unwrap();
    let garbled = garbled.to_str().unwrap();
    let misread = s.client(&["fetch", "tic-tac-toe", "--locked", "--lockfile", garbled]);
    misread.expect_code(2);
    assert!(
        misread.stderr().starts_with(&format!(
            "error: {garbled}: line 3, column 8: not a perstack-registry lockfile ("
        )),
        "{}",
        misread.stderr()
    );

    let lockfile = lock_path.to_str().unwrap();
    let fetched = s.client(&["fetch", "tic-tac-toe", "--locked", "--lockfile", lockfile]);
    fetched.expect_code(0);
    assert_eq!(fetched.output.stdout, s.data("tic-tac-toe/1.0.0.toml"));
    let not_locked = s.client(&["fetch", "@acme/nobody", "--locked", "--lockfile", lockfile]);
    not_locked.expect_code(1);

    let out = s.registry.out();
    let verify = run_in(
        s.registry.root(),
        &["verify", out.to_str().unwrap(), "--lock", lockfile],
    );
    verify.expect_code(0);
    let over_http = run_in(
        s.registry.root(),
        &["verify", &s.server.url, "--lock", lockfile],
    );
    over_http.expect_code(0);
    // The built registry holds its website, which verify checks against the root's manifest.
    let stderr = over_http.stderr();
    let (summary, website) = stderr.split_once("; its website's ").unwrap();
    assert_eq!(
        summary,
        format!(
            "{} is intact: 3 experts, 6 versions, 20 files and 17 Perstack API documents checked",
            s.server.url
        )
    );
    assert!(
        website.ends_with(" files match the manifest its root pins\n"),
        "{stderr}"
    );

    // A lockfile that disagrees with the registry is refused by both.
    let searcher = blake3_hex(&s.data("@acme/searcher/1.0.0.toml"));
    let wrong = "0".repeat(64);
    fs::write(&lock_path, expected.replace(&searcher, &wrong)).unwrap();
    let refused = s.client(&[
        "fetch",
        "@acme/searcher@1.0.0",
        "--locked",
        "--lockfile",
        lockfile,
    ]);
    refused.expect_code(1);
    assert_eq!(
        refused.stderr(),
        format!(
            "error: @acme/searcher@1.0.0 is locked to BLAKE3 {wrong}, but the registry now publishes {searcher}; refusing it\n"
        )
    );
    let verify = run_in(
        s.registry.root(),
        &["verify", out.to_str().unwrap(), "--lock", lockfile],
    );
    verify.expect_code(1);
    assert!(
        verify.stderr().contains(&format!(
            "perstack-registry.lock: error: @acme/searcher@1.0.0 is locked to BLAKE3 {wrong}, but the registry publishes {searcher}"
        )),
        "{}",
        verify.stderr()
    );
}

/// A file of `tests/fixtures/`.
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn build_reads_the_previous_registry_over_http() {
    let s = served();
    s.registry.file(
        "tic-tac-toe/1.0.0.toml",
        common::version_file("tic-tac-toe", "1.0.0", "tags = [\"x\"]\n"),
    );
    let run = s
        .registry
        .run(&["build", "--out", "next", "--previous", &s.server.url]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("was published with BLAKE3"),
        "{}",
        run.stderr()
    );
    assert!(s.server.count("v1/root.json") >= 1);
}

/// A blob served larger than the size its index document gives is refused after that many
/// bytes: a hostile server cannot make a client hold more than the registry promised.
#[test]
fn a_blob_larger_than_its_index_says_is_refused_without_reading_it_all() {
    let s = served();
    let bytes = s.data("tic-tac-toe/1.0.0.toml");
    let blob = blob_path(&bytes);
    let mut endless = bytes.clone();
    endless.extend(std::iter::repeat_n(b'#', 8 * 1024 * 1024));
    s.server.fault(&blob, Fault::Body(endless));
    let run = s.client(&["fetch", "tic-tac-toe"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}{blob}: larger than the {} bytes the registry's metadata allows for it; refusing to read more\n",
            s.server.url,
            bytes.len()
        )
    );
    assert!(!s.replica().join(&blob).exists());
}
