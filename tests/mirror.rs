//! `mirror` and `verify`: full and partial copies over HTTP, resuming after `kill -9`, and
//! audits that list every problem.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use common::server::{Fault, TestServer};
use common::{TestRegistry, copy_tree, run_in, tree};

/// The files of the registry layout (what `mirror` copies): without the build's and the
/// clients' own state, and without the website a build also writes and its manifest
/// (`v1/site/`), which only `--with-site` copies.
fn registry_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(path, _)| {
            (path.starts_with("v1/") && !path.starts_with("v1/site/"))
                || path.starts_with("api/")
                || path == "_headers"
        })
        .collect()
}

fn mirror(root: &Path, source: &str, dest: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["mirror", source, dest.to_str().unwrap()];
    args.extend(extra);
    run_in(root, &args)
}

#[test]
fn a_full_mirror_is_identical_to_the_source_and_a_second_run_downloads_nothing() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let server = TestServer::serve(&registry.out());
    let dest = registry.root().join("mirror");
    let run = mirror(registry.root(), &server.url, &dest, &[]);
    run.expect_code(0);
    assert_eq!(registry_files(&dest), registry_files(&registry.out()));
    assert_eq!(
        run.stderr(),
        format!(
            "mirrored {} into {}: 3 experts, 4 versions, serial 1; 8 file(s) downloaded, 0 already present\n",
            server.url,
            dest.display()
        )
    );
    server.reset_requests();
    let again = mirror(registry.root(), &server.url, &dest, &[]);
    again.expect_code(0);
    assert_eq!(server.requests(), ["v1/root.json"]);
    assert_eq!(server.statuses("v1/root.json"), [304]);
    assert!(
        again
            .stderr()
            .contains("0 file(s) downloaded, 8 already present")
    );
    run_in(registry.root(), &["verify", dest.to_str().unwrap()]).expect_code(0);
}

#[test]
fn a_partial_mirror_holds_only_its_scopes_and_passes_verify() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let dest = registry.root().join("acme");
    let out = registry.out();
    let run = mirror(
        registry.root(),
        out.to_str().unwrap(),
        &dest,
        &["--scope", "@acme"],
    );
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("(partial): 2 experts, 3 versions, serial 1"),
        "{}",
        run.stderr()
    );
    let files = registry_files(&dest);
    assert!(files.contains_key("v1/experts/@acme/researcher.json"));
    assert!(files.contains_key("api/registry/v1/experts/@acme/researcher@1.1.0"));
    assert!(!files.keys().any(|path| path.contains("tic-tac-toe")));
    assert_eq!(
        files["v1/upstream-root.json"],
        fs::read(out.join("v1/root.json")).unwrap()
    );
    let verify = run_in(registry.root(), &["verify", dest.to_str().unwrap()]);
    verify.expect_code(0);
    assert_eq!(
        verify.stderr(),
        format!(
            "{} is intact: 2 experts, 3 versions, 9 files and 11 Perstack API documents checked\n",
            dest.display()
        )
    );
    let bad = mirror(
        registry.root(),
        out.to_str().unwrap(),
        &dest,
        &["--scope", "acme"],
    );
    bad.expect_code(2);
    assert_eq!(
        bad.stderr(),
        "error: --scope \"acme\" is not a scope (expected @name)\n"
    );
}

/// Adds `count` experts with two versions each.
fn add_many(registry: &TestRegistry, count: usize) {
    let padding = "Read the task carefully and work step by step. ".repeat(10);
    for n in 0..count {
        for version in ["1.0.0", "1.1.0"] {
            registry.version(
                &format!("@bulk/expert-{n}"),
                version,
                &format!("# {padding}\n"),
            );
        }
    }
}

#[test]
fn a_mirror_crashed_midway_resumes_without_downloading_again_and_ends_identical() {
    let registry = TestRegistry::valid();
    add_many(&registry, 1500);
    registry.run(&["build", "--quiet"]).expect_code(0);
    let server = TestServer::serve(&registry.out());
    let dest = registry.root().join("mirror");

    // Crash the mirror in the middle of its 2500th file, half written, as SIGKILL would: past
    // the index documents, among the blobs.
    let status = common::run_until_crash(
        registry.root(),
        &["mirror", "--quiet", &server.url, dest.to_str().unwrap()],
        2500,
    );
    assert!(
        !status.success(),
        "the mirror finished before its crash point"
    );
    assert!(!dest.join("v1/root.json").exists());
    let blobs = tree(&dest)
        .keys()
        .filter(|k| k.starts_with("v1/blobs/"))
        .count();
    assert!(blobs > 100, "the crash came before the blobs: {blobs}");

    let had: Vec<String> = tree(&dest)
        .keys()
        .filter(|k| !k.starts_with(".perstack-client"))
        .cloned()
        .collect();
    server.reset_requests();
    let run = mirror(registry.root(), &server.url, &dest, &[]);
    run.expect_code(0);
    let requested = server.requests();
    let again: Vec<&String> = had.iter().filter(|p| requested.contains(p)).collect();
    assert!(
        again.is_empty(),
        "downloaded again: {:?}",
        &again[..again.len().min(5)]
    );
    assert_eq!(registry_files(&dest), registry_files(&registry.out()));
    let leftovers: Vec<String> = tree(&dest)
        .into_keys()
        .filter(|k| {
            k.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".~perstack-"))
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files remain: {leftovers:?}"
    );
}

#[test]
fn verify_lists_every_problem() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let copy = registry.root().join("copy");
    copy_tree(&registry.out(), &copy);
    let blob_of = |relative: &str| {
        let hash = blake3::hash(&fs::read(registry.data().join(relative)).unwrap())
            .to_hex()
            .to_string();
        (format!("v1/blobs/{}/{hash}.toml", &hash[..2]), hash)
    };
    let (altered, altered_hash) = blob_of("tic-tac-toe/1.0.0.toml");
    let mut bytes = fs::read(copy.join(&altered)).unwrap();
    bytes[0] ^= 1;
    fs::write(copy.join(&altered), &bytes).unwrap();
    let (removed, _) = blob_of("@acme/searcher/1.0.0.toml");
    fs::remove_file(copy.join(&removed)).unwrap();
    fs::write(copy.join("v1/experts/@acme/researcher.json"), "{}\n").unwrap();

    let index_hash =
        blake3::hash(&fs::read(registry.out().join("v1/experts/@acme/researcher.json")).unwrap())
            .to_hex();

    let run = run_in(registry.root(), &["verify", copy.to_str().unwrap()]);
    run.expect_code(1);
    // Problems are listed in path order, then the summary.
    let mut expected = vec![
        format!(
            "{altered}: error: content hashes to {}, but its name and the registry say {altered_hash}",
            blake3::hash(&bytes).to_hex()
        ),
        format!("{removed}: error: missing, but the registry points at it"),
        format!(
            "v1/experts/@acme/researcher.json: error: differs from v1/index/{index_hash}.json, which the registry names"
        ),
    ];
    expected.sort();
    expected.push(format!("error: {} has 3 problem(s)", copy.display()));
    assert_eq!(run.stderr().lines().collect::<Vec<_>>(), expected);
    let json = run_in(
        registry.root(),
        &["verify", copy.to_str().unwrap(), "--format", "json"],
    );
    json.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(report["errors"], 3);
}

/// Rewrites the built registry in `dir` so that `expert`'s index document is `edit`ed, with the
/// hash-named index document, the bins and the root all consistent again: what a hostile
/// registry serves, every hash verifying. The registries here have one level of bins.
fn tamper_index(dir: &Path, expert: &str, edit: impl Fn(&mut serde_json::Value)) {
    let read = |relative: &str| -> serde_json::Value {
        serde_json::from_slice(&fs::read(dir.join(relative)).unwrap()).unwrap()
    };
    let write_hashed = |prefix: &str, value: &serde_json::Value| -> String {
        let mut bytes = serde_json::to_vec_pretty(value).unwrap();
        bytes.push(b'\n');
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let relative = format!("{prefix}/{hash}.json");
        fs::write(dir.join(&relative), bytes).unwrap();
        hash
    };
    let mut root = read("v1/root.json");
    assert_eq!(root["bins"]["depth"], 1, "one level of bins");
    let mut top = read(&format!(
        "v1/bins/{}.json",
        root["bins"]["blake3"].as_str().unwrap()
    ));
    let pointer = &mut top["experts"][expert];
    let mut index = read(&format!(
        "v1/index/{}.json",
        pointer["blake3"].as_str().unwrap()
    ));
    edit(&mut index);
    let index_hash = write_hashed("v1/index", &index);
    let index_size = fs::metadata(dir.join(format!("v1/index/{index_hash}.json")))
        .unwrap()
        .len();
    *pointer = serde_json::json!({"blake3": index_hash, "size": index_size});
    let top_hash = write_hashed("v1/bins", &top);
    let top_size = fs::metadata(dir.join(format!("v1/bins/{top_hash}.json")))
        .unwrap()
        .len();
    root["bins"]["blake3"] = serde_json::json!(top_hash);
    root["bins"]["size"] = serde_json::json!(top_size);
    let mut bytes = serde_json::to_vec_pretty(&root).unwrap();
    bytes.push(b'\n');
    fs::write(dir.join("v1/root.json"), bytes).unwrap();
}

/// A registry whose index document names a tag or a version as a path outside the mirror is
/// refused before anything is written from it, over HTTP as from a directory.
#[test]
fn a_hostile_index_document_cannot_make_a_mirror_write_outside_its_destination() {
    for (label, edit) in [
        (
            "tag",
            Box::new(|index: &mut serde_json::Value| {
                index["dist-tags"]["../../../../escaped"] = serde_json::json!("1.0.0");
            }) as Box<dyn Fn(&mut serde_json::Value)>,
        ),
        (
            "version",
            Box::new(|index: &mut serde_json::Value| {
                let entry = index["versions"]["1.0.0"].clone();
                index["versions"]["../../../../escaped"] = entry;
            }),
        ),
    ] {
        let registry = TestRegistry::valid();
        registry.run(&["build", "--quiet"]).expect_code(0);
        let hostile = registry.root().join("hostile");
        copy_tree(&registry.out(), &hostile);
        tamper_index(&hostile, "tic-tac-toe", edit);
        let server = TestServer::serve(&hostile);
        let before = tree(registry.root());
        for source in [server.url.clone(), hostile.to_str().unwrap().to_owned()] {
            let dest = registry.root().join("deep/a/b/mirror");
            let run = mirror(registry.root(), &source, &dest, &[]);
            run.expect_code(1);
            assert!(
                run.stderr().contains("has an invalid dist-tag")
                    || run.stderr().contains("lists an invalid version"),
                "{label}: {}",
                run.stderr()
            );
            let after = tree(registry.root());
            let outside: Vec<&String> = after
                .keys()
                .filter(|path| !before.contains_key(*path) && !path.starts_with("deep/a/b/mirror/"))
                .collect();
            assert!(outside.is_empty(), "{label}: written outside: {outside:?}");
            assert!(!dest.join("v1/root.json").exists(), "{label}");
        }
    }
}

/// A man in the middle (or a hostile host) serving endless or compressed data cannot make a
/// mirror hold more than the registry's metadata promises: the top bin stops at the size the
/// root gives, a blob at the size its index document gives (counted after decompression, so a
/// gzip bomb stops there too), a blob said to be larger than any version file is never
/// requested, and a root stops at 1 MiB.
#[test]
fn endless_and_compressed_bodies_stop_at_the_size_the_metadata_gives() {
    use std::io::Write;

    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let out = registry.out();
    let root: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("v1/root.json")).unwrap()).unwrap();
    let snapshot_path = format!("v1/bins/{}.json", root["bins"]["blake3"].as_str().unwrap());
    let snapshot_size = root["bins"]["size"].as_u64().unwrap();
    assert_eq!(
        snapshot_size,
        fs::metadata(out.join(&snapshot_path)).unwrap().len()
    );
    let server = TestServer::serve(&out);
    let dest = registry.root().join("mirror");
    let expect_refused = |fault_path: &str, fault: Fault, expected: &str| {
        server.clear_faults();
        server.fault(fault_path, fault);
        let _ = fs::remove_dir_all(&dest);
        let run = mirror(registry.root(), &server.url, &dest, &[]);
        run.expect_code(1);
        assert!(
            run.stderr().contains(expected),
            "{fault_path}: {}",
            run.stderr()
        );
        assert!(!dest.join("v1/root.json").exists());
    };

    let mut endless = fs::read(out.join(&snapshot_path)).unwrap();
    endless.resize(64 * 1024 * 1024, b' ');
    expect_refused(
        &snapshot_path,
        Fault::Body(endless),
        &format!("larger than the {snapshot_size} bytes the registry's metadata allows"),
    );

    let blob = fs::read(registry.data().join("tic-tac-toe/1.0.0.toml")).unwrap();
    let blob_path = {
        let hash = blake3::hash(&blob).to_hex().to_string();
        format!("v1/blobs/{}/{hash}.toml", &hash[..2])
    };
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&blob).unwrap();
    bomb.write_all(&vec![b'#'; 64 * 1024 * 1024]).unwrap();
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    expect_refused(
        &blob_path,
        Fault::Gzip(bomb),
        &format!(
            "larger than the {} bytes the registry's metadata allows",
            blob.len()
        ),
    );

    let mut huge_root = fs::read(out.join("v1/root.json")).unwrap();
    huge_root.resize(2 * 1024 * 1024, b' ');
    expect_refused(
        "v1/root.json",
        Fault::Body(huge_root),
        "larger than the 1048576 bytes",
    );

    // An index document that says a blob is larger than any version file: refused before the
    // blob is requested at all.
    server.clear_faults();
    let hostile = registry.root().join("hostile");
    copy_tree(&out, &hostile);
    tamper_index(&hostile, "tic-tac-toe", |index| {
        index["versions"]["1.0.0"]["size"] = serde_json::json!(1u64 << 40);
    });
    let hostile_server = TestServer::serve(&hostile);
    let _ = fs::remove_dir_all(&dest);
    let run = mirror(registry.root(), &hostile_server.url, &dest, &[]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("more than any version file may be"),
        "{}",
        run.stderr()
    );
    assert_eq!(hostile_server.count(&blob_path), 0);
}

/// Links planted in a mirror's destination (its lock, a directory of blobs) are refused by
/// name, and the files they point at stay untouched.
#[test]
fn links_planted_in_the_destination_are_refused_and_nothing_outside_changes() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let server = TestServer::serve(&registry.out());
    let outside = registry.root().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("precious"), "do not truncate").unwrap();

    let dest = registry.root().join("mirror-lock");
    fs::create_dir_all(dest.join(".perstack-client")).unwrap();
    std::os::unix::fs::symlink(outside.join("precious"), dest.join(".perstack-client/lock"))
        .unwrap();
    let run = mirror(registry.root(), &server.url, &dest, &[]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("refusing to write through"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains(".perstack-client/lock"),
        "{}",
        run.stderr()
    );

    let dest = registry.root().join("mirror-blobs");
    fs::create_dir_all(dest.join("v1")).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("v1/blobs")).unwrap();
    let run = mirror(registry.root(), &server.url, &dest, &[]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("refusing to write through"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("v1/blobs"), "{}", run.stderr());

    let entries: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["precious"]);
    assert_eq!(
        fs::read_to_string(outside.join("precious")).unwrap(),
        "do not truncate"
    );
}

/// Text a registry serves (here a deprecation reason) reaches the terminal with its control
/// characters escaped: it cannot clear the screen or rewrite what the user reads.
#[test]
fn text_from_a_registry_is_printed_with_control_characters_escaped() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let hostile = registry.root().join("hostile");
    copy_tree(&registry.out(), &hostile);
    tamper_index(&hostile, "tic-tac-toe", |index| {
        index["versions"]["1.0.0"]["status"] = serde_json::json!("deprecated");
        index["versions"]["1.0.0"]["reason"] =
            serde_json::json!("\u{1b}[2J\u{1b}[Hall good \u{202e}txt.exe");
    });
    let run = run_in(
        registry.root(),
        &[
            "resolve",
            "tic-tac-toe",
            "--registry",
            hostile.to_str().unwrap(),
        ],
    );
    run.expect_code(0);
    let stderr = run.stderr();
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{202e}'),
        "{stderr:?}"
    );
    assert!(
        stderr.contains("is deprecated: \\u{1b}[2J\\u{1b}[Hall good \\u{202e}txt.exe"),
        "{stderr:?}"
    );
}

/// `verify` renders every expert's Perstack API documents again from its index document and
/// blobs and compares: a tampered, missing or stale document is reported by name, in one run,
/// from a directory and from an archive; over HTTP, a disabled version's document is stale.
#[test]
fn verify_reports_tampered_missing_and_stale_api_documents_by_name() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\n\n[versions.\"0.9.0\"]\nstatus = \"disabled\"\nreason = \"Broken\"\n",
    );
    registry.version("tic-tac-toe", "0.9.0", "");
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let out = registry.out();
    assert!(
        !out.join("api/registry/v1/experts/tic-tac-toe@0.9.0")
            .exists()
    );
    run_in(registry.root(), &["verify", out.to_str().unwrap()]).expect_code(0);

    let copy = registry.root().join("copy");
    copy_tree(&out, &copy);
    let api = copy.join("api/registry/v1");
    let tampered = api.join("experts/@acme/researcher@1.1.0");
    let mut bytes = fs::read(&tampered).unwrap();
    bytes.splice(0..0, *b" ");
    fs::write(&tampered, bytes).unwrap();
    fs::remove_file(api.join("experts/tic-tac-toe/versions")).unwrap();
    fs::write(api.join("experts/tic-tac-toe@0.9.0"), "{}\n").unwrap();
    fs::write(api.join("experts/tic-tac-toe@beta"), "{}\n").unwrap();
    fs::write(api.join("experts/@acme/gone@1.0.0"), "{}\n").unwrap();
    fs::write(api.join("format.json"), "{\n  \"format\": 1\n}\n").unwrap();
    let index = |name: &str| {
        let bytes = fs::read(out.join(format!("v1/experts/{name}.json"))).unwrap();
        format!("v1/index/{}.json", blake3::hash(&bytes).to_hex())
    };
    let stale = "served, but the registry publishes no version or tag whose document belongs here (disabled, retired, or not in this registry)";
    let mut expected = vec![
        "api/registry/v1/experts/@acme/gone@1.0.0: error: ".to_owned() + stale,
        format!(
            "api/registry/v1/experts/@acme/researcher@1.1.0: error: differs from the Perstack API document rendered from {}",
            index("@acme/researcher")
        ),
        format!(
            "api/registry/v1/experts/tic-tac-toe/versions: error: missing: the Perstack API document rendered from {}",
            index("tic-tac-toe")
        ),
        "api/registry/v1/experts/tic-tac-toe@0.9.0: error: ".to_owned() + stale,
        "api/registry/v1/experts/tic-tac-toe@beta: error: ".to_owned() + stale,
        "api/registry/v1/format.json: error: differs from the Perstack API document rendered from this program's API format".to_owned(),
    ];
    expected.sort();
    // The same tree as an archive, packed by the `tar` crate as any tool would.
    let archive = registry.root().join("copy.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    for (path, bytes) in tree(&copy) {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .unwrap();
    }
    builder.finish().unwrap();
    drop(builder);
    for source in [copy.clone(), archive] {
        let run = run_in(registry.root(), &["verify", source.to_str().unwrap()]);
        run.expect_code(1);
        let mut lines: Vec<String> = run.stderr().lines().map(str::to_owned).collect();
        let summary = lines.pop().unwrap();
        assert_eq!(lines, expected, "{}", source.display());
        assert_eq!(
            summary,
            format!("error: {} has 6 problem(s)", source.display())
        );
    }

    // Over HTTP nothing can be listed, but a disabled version's document must be missing.
    let server = TestServer::serve(&copy);
    let run = run_in(registry.root(), &["verify", &server.url]);
    run.expect_code(1);
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.contains(
            &"api/registry/v1/experts/tic-tac-toe@0.9.0: error: served, but version 0.9.0 is disabled"
        ),
        "{lines:#?}"
    );
    assert!(
        !run.stderr().contains("tic-tac-toe@beta"),
        "{}",
        run.stderr()
    );
    assert_eq!(server.count("api/registry/v1/experts/tic-tac-toe@beta"), 0);

    // A partial mirror holds the documents of its scopes only; another expert's is stale.
    let partial = registry.root().join("partial");
    mirror(
        registry.root(),
        out.to_str().unwrap(),
        &partial,
        &["--scope", "@acme"],
    )
    .expect_code(0);
    run_in(registry.root(), &["verify", partial.to_str().unwrap()]).expect_code(0);
    fs::copy(
        out.join("api/registry/v1/experts/tic-tac-toe@1.0.0"),
        partial.join("api/registry/v1/experts/tic-tac-toe@1.0.0"),
    )
    .unwrap();
    let run = run_in(registry.root(), &["verify", partial.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stderr().starts_with(&format!(
            "api/registry/v1/experts/tic-tac-toe@1.0.0: error: {stale}\n"
        )),
        "{}",
        run.stderr()
    );
}

/// The whole tree but the build's and the clients' own state.
fn served_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(".perstack-client/"))
        .collect()
}

/// The website's files in a tree: what is neither the registry layout nor its manifest.
fn website_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    served_files(dir)
        .into_iter()
        .filter(|(path, _)| {
            !(path.starts_with("v1/") || path.starts_with("api/") || path == "_headers")
        })
        .collect()
}

/// The website manifest's documents in a tree.
fn manifest_documents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(path, _)| path.starts_with("v1/site/"))
        .collect()
}

/// `--with-site` copies every file of the website, from a directory and through an archive, so
/// the mirror serves what the source serves; without it only the registry is copied (not the
/// website's manifest either). A link in the source's website is never followed.
#[test]
fn with_site_a_mirror_serves_the_whole_website_too() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    assert!(out.join("index.html").is_file());

    let plain = root.join("plain");
    mirror(root, out.to_str().unwrap(), &plain, &[]).expect_code(0);
    assert_eq!(served_files(&plain), registry_files(&out));
    let verify = run_in(root, &["verify", plain.to_str().unwrap()]);
    verify.expect_code(0);
    assert!(!verify.stderr().contains("website"), "{}", verify.stderr());

    let dest = root.join("complete");
    let run = mirror(root, out.to_str().unwrap(), &dest, &["--with-site"]);
    run.expect_code(0);
    let site_files = website_files(&out).len();
    assert!(
        run.stderr()
            .ends_with(&format!("already present; {site_files} website file(s)\n")),
        "{}",
        run.stderr()
    );
    assert_eq!(served_files(&dest), served_files(&out));

    let archive = root.join("complete.tar");
    mirror(root, out.to_str().unwrap(), &archive, &["--with-site"]).expect_code(0);
    let unpacked = root.join("unpacked");
    mirror(root, archive.to_str().unwrap(), &unpacked, &["--with-site"]).expect_code(0);
    assert_eq!(served_files(&unpacked), served_files(&out));
    let verify = run_in(root, &["verify", archive.to_str().unwrap()]);
    verify.expect_code(0);
    assert!(
        verify.stderr().ends_with(&format!(
            "; its website's {site_files} files match the manifest its root pins\n"
        )),
        "{}",
        verify.stderr()
    );

    let outside = root.join("outside-secret");
    fs::write(&outside, "secret").unwrap();
    let linked = root.join("linked");
    copy_tree(&out, &linked);
    let asset = website_files(&out)
        .into_keys()
        .find(|path| path.starts_with("assets/"))
        .unwrap();
    fs::remove_file(linked.join(&asset)).unwrap();
    std::os::unix::fs::symlink(&outside, linked.join(&asset)).unwrap();
    let dest = root.join("from-linked");
    let run = mirror(root, linked.to_str().unwrap(), &dest, &["--with-site"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}: a symbolic link; refusing to copy it (the website holds only files)\n",
            linked.join(&asset).display()
        )
    );
    assert!(!dest.join(&asset).exists());
    assert!(!dest.join("v1/root.json").exists());
}

#[test]
fn with_site_over_http_a_mirror_holds_a_website_byte_identical_to_the_source() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let dest = root.join("mirror");
    let run = mirror(root, &server.url, &dest, &["--with-site"]);
    run.expect_code(0);
    assert!(!website_files(&out).is_empty());
    assert_eq!(website_files(&dest), website_files(&out));
    assert_eq!(manifest_documents(&dest), manifest_documents(&out));
    assert_eq!(served_files(&dest), served_files(&out));
    run_in(root, &["verify", dest.to_str().unwrap()]).expect_code(0);

    // Nothing changed: the root answers 304 and nothing else is asked for.
    server.reset_requests();
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    assert_eq!(server.requests(), ["v1/root.json"]);
}

/// One publish changes some pages (the expert's, its versions', lists and search files), and
/// a second mirror reads only the manifest documents on the changed files' paths and fetches
/// only the changed files: no unchanged page is requested.
#[test]
fn after_one_publish_a_second_mirror_with_site_fetches_only_the_changed_files_and_manifest_documents()
 {
    let registry = TestRegistry::valid();
    add_many(&registry, 120);
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let dest = root.join("mirror");
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    let site_before = website_files(&out);
    let manifest_before = manifest_documents(&out);
    let site_bytes: usize = site_before.values().map(Vec::len).sum();

    registry.version("@bulk/expert-7", "1.2.0", "# A new version.\n");
    registry.run(&["build", "--quiet"]).expect_code(0);
    let site_after = website_files(&out);
    let changed: Vec<&String> = site_after
        .iter()
        .filter(|(path, bytes)| site_before.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .collect();
    let new_documents: Vec<String> = manifest_documents(&out)
        .into_keys()
        .filter(|path| !manifest_before.contains_key(path))
        .collect();
    assert!(changed.len() < site_after.len() / 4, "{changed:?}");

    server.reset_requests();
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    assert_eq!(website_files(&dest), site_after);
    let requested = server.requests();
    let site_requests: Vec<&String> = requested
        .iter()
        .filter(|path| !(path.starts_with("v1/") || path.starts_with("api/")))
        .collect();
    for path in &site_requests {
        assert!(
            changed.contains(path),
            "{path} did not change but was requested"
        );
    }
    assert!(!requested.contains(&"experts/@bulk/expert-50/index.html".to_owned()));
    let manifest_requests: Vec<&String> = requested
        .iter()
        .filter(|path| path.starts_with("v1/site/"))
        .collect();
    assert_eq!(
        manifest_requests.len(),
        new_documents.len(),
        "{manifest_requests:?}"
    );
    let site_served: usize = server
        .served()
        .iter()
        .filter(|(path, _)| !(path.starts_with("v1/") || path.starts_with("api/")))
        .map(|(_, bytes)| bytes)
        .sum();
    assert!(
        site_served * 4 < site_bytes,
        "{site_served} of {site_bytes} website bytes transferred"
    );
    run_in(root, &["verify", dest.to_str().unwrap()]).expect_code(0);
}

#[test]
fn a_website_file_tampered_on_the_server_is_refused_naming_its_url_and_the_mirror_keeps_its_previous_state()
 {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let dest = root.join("mirror");
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    let website_before = website_files(&dest);
    let root_before = fs::read(dest.join("v1/root.json")).unwrap();

    registry.version("tic-tac-toe", "1.1.0", "");
    registry.run(&["build", "--quiet"]).expect_code(0);
    let page = "experts/tic-tac-toe/index.html";
    assert_ne!(website_files(&out)[page], website_before[page]);
    server.fault(
        page,
        Fault::Body(b"<p>not the page the root pins</p>".to_vec()),
    );
    let run = mirror(root, &server.url, &dest, &["--with-site"]);
    run.expect_code(1);
    assert!(
        run.stderr().starts_with(&format!(
            "error: {}{page}: content hashes to {}",
            server.url,
            blake3::hash(b"<p>not the page the root pins</p>").to_hex()
        )),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("the website manifest lists"));
    assert_eq!(website_files(&dest), website_before);
    assert_eq!(fs::read(dest.join("v1/root.json")).unwrap(), root_before);

    server.clear_faults();
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    assert_eq!(website_files(&dest), website_files(&out));
}

/// A run that wrote website files but not its root (killed, or refused after writing) leaves a
/// marker, and the next run checks every file against its own bytes rather than trusting the
/// previous manifest: here a page the manifest did not change is repaired.
#[test]
fn after_a_run_that_wrote_the_website_but_not_its_root_every_file_is_checked_again() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let dest = root.join("mirror");
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    assert!(!dest.join(".perstack-client/site-writing").exists());
    registry.version("tic-tac-toe", "1.1.0", "");
    registry.run(&["build", "--quiet"]).expect_code(0);
    let unchanged = "api.html";
    fs::write(dest.join(unchanged), "left by a run killed before its root").unwrap();
    fs::write(dest.join(".perstack-client/site-writing"), "").unwrap();
    server.reset_requests();
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    assert_eq!(website_files(&dest), website_files(&out));
    assert_eq!(server.count(unchanged), 1);
    assert!(!dest.join(".perstack-client/site-writing").exists());
}

/// An archive carries the website and its manifest, and the next archive takes every file the
/// one it replaces still holds from it: after a publish, only the changed pages are downloaded.
#[test]
fn a_new_archive_with_site_downloads_only_the_pages_the_previous_archive_lacks() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let archive = root.join("registry.tar");
    mirror(root, &server.url, &archive, &["--with-site"]).expect_code(0);
    let unpacked = root.join("unpacked");
    mirror(root, archive.to_str().unwrap(), &unpacked, &["--with-site"]).expect_code(0);
    assert_eq!(served_files(&unpacked), served_files(&out));

    let before = website_files(&out);
    registry.version("tic-tac-toe", "1.1.0", "");
    registry.run(&["build", "--quiet"]).expect_code(0);
    server.reset_requests();
    mirror(root, &server.url, &archive, &["--with-site"]).expect_code(0);
    let after = website_files(&out);
    assert!(server.count("experts/tic-tac-toe/index.html") == 1);
    for path in server.requests() {
        if !(path.starts_with("v1/") || path.starts_with("api/")) {
            assert_ne!(before.get(&path), after.get(&path), "{path} did not change");
        }
    }
    let again = root.join("unpacked-again");
    mirror(root, archive.to_str().unwrap(), &again, &["--with-site"]).expect_code(0);
    assert_eq!(website_files(&again), after);
    run_in(root, &["verify", archive.to_str().unwrap()]).expect_code(0);
}

#[test]
fn a_site_manifest_document_that_does_not_match_its_pin_is_refused() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let pinned: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("v1/root.json")).unwrap()).unwrap();
    let top = format!(
        "v1/site/{}.json",
        pinned["site"]["blake3"].as_str().unwrap()
    );
    // Still a well-formed document of the right level and size, but not the one the root pins.
    let text = fs::read_to_string(out.join(&top)).unwrap();
    let bytes = text
        .replacen("\"format\": 2", "\"format\":2 ", 1)
        .into_bytes();
    assert_ne!(bytes, text.as_bytes());
    let server = TestServer::serve(&out);
    server.fault(&top, Fault::Body(bytes.clone()));
    let dest = root.join("mirror");
    let run = mirror(root, &server.url, &dest, &["--with-site"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}{top}: content hashes to {}, but the registry expects {}: the registry is damaged\n",
            server.url,
            blake3::hash(&bytes).to_hex(),
            pinned["site"]["blake3"].as_str().unwrap()
        )
    );
    assert!(!dest.join("v1/root.json").exists());
    assert!(website_files(&dest).is_empty());

    // A longer one is not even read past the size the root gives.
    server.fault(&top, Fault::Body(format!("{text} ").into_bytes()));
    let run = mirror(root, &server.url, &dest, &["--with-site"]);
    run.expect_code(1);
    assert!(
        run.stderr().starts_with(&format!(
            "error: {}{top}: larger than the {} bytes",
            server.url,
            text.len()
        )),
        "{}",
        run.stderr()
    );
    assert!(!dest.join("v1/root.json").exists());
}

/// The manifest documents the root of `dir` reaches, by path: the whole tree it pins.
fn pinned_manifest(dir: &Path) -> BTreeSet<String> {
    let root: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("v1/root.json")).unwrap()).unwrap();
    let mut pending = vec![root["site"]["blake3"].as_str().unwrap().to_owned()];
    let mut reached = BTreeSet::new();
    while let Some(hash) = pending.pop() {
        let path = format!("v1/site/{hash}.json");
        let document: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join(&path)).unwrap()).unwrap();
        if let Some(children) = document["children"].as_object() {
            pending.extend(
                children
                    .values()
                    .map(|child| child["blake3"].as_str().unwrap().to_owned()),
            );
        }
        reached.insert(path);
    }
    reached
}

/// Makes the root of `dir` pin its manifest as format 1 did (a `fanout`, no `format`), as a
/// registry built before format 2 does.
fn pin_as_format_1(dir: &Path) {
    let path = dir.join("v1/root.json");
    let text = fs::read_to_string(&path).unwrap();
    let older = text.replacen(
        "\"format\": 2,\n    \"depth\"",
        "\"fanout\": 64,\n    \"depth\"",
        1,
    );
    assert_ne!(older, text);
    fs::write(&path, older).unwrap();
}

/// A destination whose root pins a manifest of format 1 (mirrored before format 2) still
/// updates: the new manifest is read whole, since nothing of the old one can be compared with
/// it (every document it lacks is downloaded; those it holds, it reads), and every listed file
/// is checked against its own bytes, so only the changed ones, and one damaged in the
/// destination, are fetched.
#[test]
fn a_mirror_holding_a_format_1_manifest_reads_the_new_one_whole_and_fetches_only_changed_files() {
    let registry = TestRegistry::valid();
    add_many(&registry, 120);
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let dest = root.join("mirror");
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    pin_as_format_1(&dest);
    let site_before = website_files(&out);
    let held = manifest_documents(&dest);
    let damaged = "api.html";
    fs::write(dest.join(damaged), "not what the manifest lists").unwrap();

    registry.version("@bulk/expert-7", "1.2.0", "# A new version.\n");
    registry.run(&["build", "--quiet"]).expect_code(0);
    let site_after = website_files(&out);
    server.reset_requests();
    mirror(root, &server.url, &dest, &["--with-site"]).expect_code(0);
    assert_eq!(website_files(&dest), site_after);
    let requested = server.requests();
    let manifest_requests: BTreeSet<String> = requested
        .iter()
        .filter(|path| path.starts_with("v1/site/"))
        .cloned()
        .collect();
    let lacked: BTreeSet<String> = pinned_manifest(&out)
        .into_iter()
        .filter(|path| !held.contains_key(path))
        .collect();
    assert!(!lacked.is_empty());
    assert_eq!(manifest_requests, lacked);
    for path in &requested {
        if !(path.starts_with("v1/") || path.starts_with("api/") || path == damaged) {
            assert_ne!(
                site_before.get(path),
                site_after.get(path),
                "{path} did not change"
            );
        }
    }
    assert_eq!(server.count(damaged), 1);
    assert_eq!(server.count("experts/@bulk/expert-7/index.html"), 1);
    run_in(root, &["verify", dest.to_str().unwrap()]).expect_code(0);
}

/// A source whose root pins a manifest of format 1 stays readable, and a mirror of its website
/// is refused saying why.
#[test]
fn a_source_pinning_a_format_1_manifest_is_mirrored_without_its_website_only() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let out = registry.out();
    pin_as_format_1(&out);
    let server = TestServer::serve(&out);
    let run = mirror(root, &server.url, &root.join("with-site"), &["--with-site"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}v1/root.json: the site manifest is format 1; this program reads format 2 (rebuild the registry with this version)\n",
            server.url
        )
    );
    mirror(root, &server.url, &root.join("without"), &[]).expect_code(0);
}

#[test]
fn verify_names_a_page_altered_or_missing_in_a_mirror() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let root = registry.root();
    let dest = root.join("mirror");
    mirror(
        root,
        registry.out().to_str().unwrap(),
        &dest,
        &["--with-site"],
    )
    .expect_code(0);
    run_in(root, &["verify", dest.to_str().unwrap()]).expect_code(0);
    let page = "experts/@acme/researcher/index.html";
    let mut bytes = fs::read(dest.join(page)).unwrap();
    let size = bytes.len();
    let listed = blake3::hash(&bytes).to_hex();
    bytes[size / 2] ^= 1;
    fs::write(dest.join(page), &bytes).unwrap();
    fs::remove_file(dest.join("search.html")).unwrap();
    let run = run_in(root, &["verify", dest.to_str().unwrap()]);
    run.expect_code(1);
    assert_eq!(
        run.stderr().lines().collect::<Vec<_>>(),
        [
            format!(
                "{page}: error: altered: content hashes to {} ({size} bytes), but the website manifest lists {listed} ({size} bytes)",
                blake3::hash(&bytes).to_hex()
            ),
            "search.html: error: missing, but the website manifest lists it".to_owned(),
            format!("error: {} has 2 problem(s)", dest.display()),
        ]
    );
}

/// Two builds of the same data give the same manifest bytes on one thread or many; and the
/// manifest of a build whose pages came from the page cache (most of them skipped) lists the
/// website's files as they are.
#[test]
fn two_builds_give_identical_manifest_bytes_whatever_the_thread_count_and_the_page_cache() {
    let registry = TestRegistry::valid();
    add_many(&registry, 80);
    let build = |out: &str, threads: &str| {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
            .args(["build", "--quiet", "--out", out])
            .current_dir(registry.root())
            .env("RAYON_NUM_THREADS", threads)
            .status()
            .unwrap();
        assert!(status.success());
    };
    build("one", "1");
    build("many", "8");
    let one = registry.root().join("one");
    let many = registry.root().join("many");
    let pin = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(&fs::read(dir.join("v1/root.json")).unwrap())
            .unwrap()["site"]
            .clone()
    };
    // Levels of documents rendered in parallel.
    assert!(pin(&one)["depth"].as_u64() >= Some(2), "{}", pin(&one));
    assert_eq!(pin(&one), pin(&many));
    assert_eq!(manifest_documents(&one), manifest_documents(&many));

    registry.version("@bulk/expert-3", "1.2.0", "");
    build("many", "8");
    assert_ne!(pin(&one), pin(&many));
    assert_eq!(pin(&many)["files"], website_files(&many).len());
    run_in(registry.root(), &["verify", "many"]).expect_code(0);
}

#[test]
fn with_site_over_http_a_registry_built_without_a_website_is_refused_with_a_clear_error() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let root = registry.root();
    let pinned: serde_json::Value =
        serde_json::from_slice(&fs::read(registry.out().join("v1/root.json")).unwrap()).unwrap();
    assert!(pinned.get("site").is_none());
    let server = TestServer::serve(&registry.out());
    let dest = root.join("mirror");
    let run = mirror(root, &server.url, &dest, &["--with-site"]);
    run.expect_code(2);
    assert!(
        run.stderr().starts_with(&format!(
            "error: --with-site needs a website manifest or a source whose files can be listed: {} is served over HTTP",
            server.url
        )),
        "{}",
        run.stderr()
    );
    assert_eq!(server.requests(), ["v1/root.json"]);
    assert!(!dest.join("v1/root.json").exists());
}

/// A mirror renders the `/versions` list newest first in SemVer order, as the build does, not
/// in the order of the version strings (1.10.0 is newer than 1.9.0, 2.0.0 than 2.0.0-rc.1), so
/// `verify` finds the build's documents and a mirror's identical.
#[test]
fn a_mirror_orders_versions_by_semver_as_the_build_does() {
    let registry = TestRegistry::empty();
    for version in [
        "1.9.0",
        "1.10.0",
        "2.0.0-rc.1",
        "2.0.0",
        "2.0.0-rc.1.10",
        "2.0.0-rc.1.9",
    ] {
        registry.version("@acme/ordered", version, "");
    }
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let out = registry.out();
    let listing: serde_json::Value = serde_json::from_slice(
        &fs::read(out.join("api/registry/v1/experts/@acme/ordered/versions")).unwrap(),
    )
    .unwrap();
    let order: Vec<&str> = listing["data"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "2.0.0",
            "2.0.0-rc.1.10",
            "2.0.0-rc.1.9",
            "2.0.0-rc.1",
            "1.10.0",
            "1.9.0"
        ]
    );
    run_in(registry.root(), &["verify", out.to_str().unwrap()]).expect_code(0);
    let dest = registry.root().join("mirror");
    mirror(registry.root(), out.to_str().unwrap(), &dest, &[]).expect_code(0);
    assert_eq!(registry_files(&dest), registry_files(&out));
}
