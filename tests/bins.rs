//! Format 2's hashed bins end to end: what a client transfers after a publish, consistency
//! while a publish happens, a host serving bins of mixed publishes, and the migration from a
//! format-1 registry (one snapshot of every expert).

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use common::server::{Fault, TestServer};
use common::{TestRegistry, run_in};
use perstack_registry::common::transport::Source;
use perstack_registry::format::reader::PublishedRegistry;
use serde_json::{Value, json};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap();
    bytes.push(b'\n');
    bytes
}

/// A registry of `count` experts `@s/e<i>`, each with version 1.0.0.
fn many(count: usize) -> TestRegistry {
    let registry = TestRegistry::empty();
    for i in 0..count {
        registry.version(&format!("@s/e{i}"), "1.0.0", "");
    }
    registry
}

fn build(registry: &TestRegistry) {
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
}

/// The slot of `name` at levels 0 and 1: the first twelve bits of the BLAKE3 of the name.
fn slots(name: &str) -> (u8, u8) {
    let hash = blake3::hash(name.as_bytes());
    let bytes = hash.as_bytes();
    (bytes[0] >> 2, ((bytes[0] & 3) << 4) | (bytes[1] >> 4))
}

/// The first expert of `many` whose level-0 slot differs from `name`'s.
fn elsewhere(name: &str, count: usize) -> String {
    (0..count)
        .map(|i| format!("@s/e{i}"))
        .find(|other| slots(other).0 != slots(name).0)
        .unwrap()
}

fn top_bin(out: &Path) -> String {
    let root = read_json(&out.join("v1/root.json"));
    format!("v1/bins/{}.json", root["bins"]["blake3"].as_str().unwrap())
}

fn size(out: &Path, relative: &str) -> usize {
    fs::metadata(out.join(relative)).unwrap().len() as usize
}

/// What a client and a mirror download, and what a deploy uploads, at a few thousand experts
/// (two levels of bins: a top bin and 64 leaves of about 47 experts). After one publish
/// elsewhere, a client that resolved before downloads only the root and the new top bin: its
/// leaf and index document are unchanged, so it has them. At 200,000 experts (three levels, a
/// top bin, 64 mid bins and 4,096 leaves of about 49 experts) the same publish costs it the root
/// and the top bin, plus one mid bin when the publish shares its top slot (1 in 64): under
/// 16 KB (bench/RESULTS.md has the measured figures).
#[test]
fn after_one_publish_a_client_downloads_only_the_root_and_the_changed_bins() {
    const EXPERTS: usize = 3000;
    let registry = many(EXPERTS);
    build(&registry);
    let root = registry.root();
    let out = registry.out();
    assert_eq!(read_json(&out.join("v1/root.json"))["bins"]["depth"], 2);
    let server = TestServer::serve(&out);
    let cache = root.join("cache");
    let resolve = |key: &str| {
        run_in(
            root,
            &[
                "resolve",
                key,
                "--registry",
                &server.url,
                "--cache",
                path(&cache),
            ],
        )
        .expect_code(0);
    };

    // Cold: the root, the top bin, one leaf and the index document; nothing else.
    let key = "@s/e0";
    resolve(key);
    let served = server.served();
    let paths: Vec<&str> = served.iter().map(|(p, _)| p.as_str()).collect();
    let (index, _) = common::listed_experts(&out)[key].clone();
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert_eq!(paths[0], "v1/root.json");
    assert_eq!(paths[1], top_bin(&out));
    assert!(paths[2].starts_with("v1/bins/"));
    assert_eq!(paths[3], index);
    let cold: usize = served.iter().map(|(_, bytes)| bytes).sum();
    assert!(cold <= 64 * 1024, "a cold resolve read {cold} bytes");
    let leaf = paths[2].to_owned();

    // One publish elsewhere: the root and the top bin change, this key's leaf does not.
    let other = elsewhere(key, EXPERTS);
    registry.version(&other, "1.1.0", "");
    build(&registry);
    assert!(out.join(&leaf).exists());
    server.reset_requests();
    resolve(key);
    let new_top = top_bin(&out);
    // What the registry's metadata costs. A client that saw the publish log's tree head before
    // also reads log tiles to check the new head extends it (`client::publog`'s split-view
    // check): those are the log's cost, counted apart, each tile read once.
    type Served = Vec<(String, usize)>;
    let (log, served): (Served, Served) = server
        .served()
        .into_iter()
        .partition(|(path, _)| path.starts_with("v1/log/"));
    let log_paths: std::collections::BTreeSet<&str> = log.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(log_paths.len(), log.len(), "a log tile read twice: {log:?}");
    // The proof from the old size to the new needs the new right edge: at most one tile per
    // level of the log (two levels at this size), each at most 256 hashes of 32 bytes.
    let levels = log_paths
        .iter()
        .map(|path| path.split('/').nth(3).unwrap())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(levels.len(), log.len(), "one tile per level: {log:?}");
    let log_bytes: usize = log.iter().map(|(_, bytes)| bytes).sum();
    assert!(
        log_bytes <= 2 * 256 * 32,
        "the log check read {log_bytes} bytes: {log:?}"
    );
    assert_eq!(
        served,
        [
            ("v1/root.json".to_owned(), size(&out, "v1/root.json")),
            (new_top.clone(), size(&out, &new_top)),
        ]
    );
    let after: usize = served.iter().map(|(_, bytes)| bytes).sum();
    assert!(after <= 16 * 1024, "after one publish: {after} bytes");

    // The deploy plan of that publish: one blob, its index document and readable copy, the
    // top bin and the changed leaf, the root (and API documents).
    let plan: Value =
        serde_json::from_str(&registry.run(&["plan", "--format", "json"]).stdout()).unwrap();
    let metadata: Vec<&str> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| ["index", "bin", "readable", "root"].contains(&f["kind"].as_str().unwrap()))
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let bins = metadata
        .iter()
        .filter(|p| p.starts_with("v1/bins/"))
        .count();
    assert_eq!(bins, 2, "{metadata:?}");
    assert_eq!(metadata.len(), 5, "{metadata:?}");
    let planned: usize = metadata.iter().map(|p| size(&out, p)).sum();
    assert!(planned <= 64 * 1024, "the plan adds {planned} bytes");
}

/// A mirror brought up to date after one publish transfers the root, the bins on the changed
/// path, the changed index document, the new blob, and of the publish log the checkpoint and
/// the one entry bundle holding the new entry: nothing it already holds.
#[test]
fn mirroring_after_one_publish_transfers_only_what_changed() {
    const EXPERTS: usize = 300;
    let registry = many(EXPERTS);
    build(&registry);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let dest = root.join("mirror");
    run_in(root, &["mirror", &server.url, path(&dest), "--quiet"]).expect_code(0);
    let old_bins: Vec<String> = common::bins(&dest).into_iter().map(|(p, _)| p).collect();

    let added = common::version_file("@s/e7", "1.1.0", "");
    registry.version("@s/e7", "1.1.0", "");
    build(&registry);
    server.reset_requests();
    run_in(root, &["mirror", &server.url, path(&dest), "--quiet"]).expect_code(0);
    let mut requested: Vec<String> = server.served().into_iter().map(|(p, _)| p).collect();
    requested.sort();
    let blob = blake3::hash(added.as_bytes()).to_hex().to_string();
    let index = common::listed_experts(&out)["@s/e7"].0.clone();
    let leaf = common::bins(&out)
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| p != &top_bin(&out) && !old_bins.contains(p))
        .unwrap();
    let root_doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("v1/root.json")).unwrap()).unwrap();
    let log_size = root_doc["log"]["size"].as_u64().unwrap();
    let mut expected = vec![
        "v1/root.json".to_owned(),
        top_bin(&out),
        leaf,
        index,
        format!("v1/blobs/{}/{blob}.toml", &blob[..2]),
        "v1/log/checkpoint".to_owned(),
        format!(
            "v1/log/tile/entries/{:03}.p/{}",
            log_size / 256,
            log_size % 256
        ),
    ];
    expected.sort();
    assert_eq!(requested, expected);
    run_in(root, &["verify", path(&dest)]).expect_code(0);
}

/// A reader that opened a root before a publish keeps reading the registry that root names:
/// the publish adds bins and never rewrites one, so the old bins are all still there. It sees
/// the old registry or, opened again, the new one; never a mix.
#[test]
fn a_reader_mid_way_through_a_publish_sees_the_old_registry_or_the_new_never_a_mix() {
    const EXPERTS: usize = 200;
    let registry = many(EXPERTS);
    build(&registry);
    let out = registry.out();
    let first = "@s/e0";
    let second = elsewhere(first, EXPERTS);
    let open = || {
        PublishedRegistry::open(Arc::new(Source::dir(&out)))
            .unwrap()
            .unwrap()
    };
    let versions = |registry: &PublishedRegistry, name: &str| -> Vec<String> {
        let doc = registry.read_index(name).unwrap().unwrap();
        doc.versions.keys().cloned().collect()
    };

    let before = open();
    // Half-way: one expert read through the old root, then the registry is published anew.
    assert_eq!(versions(&before, first), ["1.0.0"]);
    registry.version(first, "1.1.0", "");
    registry.version(&second, "1.1.0", "");
    build(&registry);
    assert_eq!(versions(&before, first), ["1.0.0"]);
    assert_eq!(
        versions(&before, &second),
        ["1.0.0"],
        "still the old registry"
    );

    let after = open();
    assert_eq!(after.root.serial, before.root.serial + 1);
    assert_eq!(versions(&after, first), ["1.0.0", "1.1.0"]);
    assert_eq!(versions(&after, &second), ["1.0.0", "1.1.0"]);
    assert_eq!(after.experts().unwrap().len(), EXPERTS);
}

/// A host (a CDN, a proxy) that serves a bin of one publish where another's should be cannot
/// make a client mix them: the bin does not hash to what its parent names, and the client
/// refuses it, naming the file.
#[test]
fn a_client_refuses_a_bin_that_does_not_match_its_parent() {
    const EXPERTS: usize = 200;
    let registry = many(EXPERTS);
    build(&registry);
    let root = registry.root();
    let out = registry.out();
    let key = "@s/e0";
    let leaf_of = |out: &Path| {
        common::bins(out)
            .into_iter()
            .find(|(_, bin)| bin["experts"].get(key).is_some())
            .unwrap()
            .0
    };
    let old_leaf = leaf_of(&out);
    let old_bytes = fs::read(out.join(&old_leaf)).unwrap();
    registry.version(key, "1.1.0", "");
    build(&registry);
    let new_leaf = leaf_of(&out);
    assert_ne!(old_leaf, new_leaf);

    let server = TestServer::serve(&out);
    server.fault(&new_leaf, Fault::Body(old_bytes));
    let run = run_in(
        root,
        &[
            "resolve",
            key,
            "--registry",
            &server.url,
            "--cache",
            path(&root.join("cache")),
        ],
    );
    run.expect_code(1);
    let old_hash = old_leaf
        .strip_prefix("v1/bins/")
        .unwrap()
        .strip_suffix(".json")
        .unwrap();
    let new_hash = new_leaf
        .strip_prefix("v1/bins/")
        .unwrap()
        .strip_suffix(".json")
        .unwrap();
    assert_eq!(
        run.stderr(),
        format!(
            "error: {}{new_leaf}: content hashes to {old_hash}, but its parent expects {new_hash}: the registry is damaged, or its host serves a stale copy of this bin\n",
            server.url
        )
    );
    assert!(
        !root
            .join("cache")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|dir| dir.path().join(&new_leaf).exists()),
        "the stale bin is not stored"
    );
}

/// Rewrites the format-2 registry in `out` as an older version of this program wrote it:
/// a format-1 root naming a snapshot of every expert, and no bins.
fn downgrade_to_format_1(out: &Path) {
    let mut experts = serde_json::Map::new();
    for (name, (index, _)) in common::listed_experts(out) {
        let hash = index
            .strip_prefix("v1/index/")
            .unwrap()
            .strip_suffix(".json")
            .unwrap()
            .to_owned();
        experts.insert(name, json!({ "path": index, "blake3": hash }));
    }
    let snapshot = pretty(&json!({ "format": 1, "experts": experts }));
    let hash = blake3::hash(&snapshot).to_hex().to_string();
    let snapshot_path = format!("v1/snapshots/{hash}.json");
    fs::create_dir_all(out.join("v1/snapshots")).unwrap();
    fs::write(out.join(&snapshot_path), &snapshot).unwrap();
    let mut root = read_json(&out.join("v1/root.json"));
    let object = root.as_object_mut().unwrap();
    object.remove("bins");
    let mut old = serde_json::Map::new();
    for (key, value) in std::mem::take(object) {
        old.insert(key.clone(), value);
        if key == "serial" {
            old.insert(
                "snapshot".to_owned(),
                json!({ "path": snapshot_path, "blake3": hash, "size": snapshot.len() }),
            );
        }
    }
    old.insert("format".to_owned(), json!(1));
    fs::write(out.join("v1/root.json"), pretty(&Value::Object(old))).unwrap();
    fs::remove_dir_all(out.join("v1/bins")).unwrap();
}

/// The first format-2 build over a format-1 registry applies the write-once rules against its
/// snapshot, then writes bins and a format-2 root with the next serial, leaving the snapshot
/// for readers of the old root; clients read both formats.
#[test]
fn a_format_1_registry_is_read_and_migrated_by_the_next_build() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    downgrade_to_format_1(&out);
    let old_root = read_json(&out.join("v1/root.json"));
    assert_eq!(old_root["format"], 1);
    let snapshot = old_root["snapshot"]["path"].as_str().unwrap().to_owned();
    let root = registry.root();

    // Clients read a format-1 registry, and a full mirror of one is a copy of it.
    run_in(root, &["verify", path(&out)]).expect_code(0);
    let resolved = run_in(
        root,
        &["resolve", "@acme/researcher", "--registry", path(&out)],
    );
    resolved.expect_code(0);
    assert!(resolved.stdout().contains("1.1.0"), "{}", resolved.stdout());
    let mirror = root.join("mirror");
    run_in(root, &["mirror", path(&out), path(&mirror), "--quiet"]).expect_code(0);
    assert_eq!(
        fs::read(mirror.join("v1/root.json")).unwrap(),
        fs::read(out.join("v1/root.json")).unwrap()
    );
    assert!(mirror.join(&snapshot).exists());
    run_in(root, &["verify", path(&mirror)]).expect_code(0);
    // A partial mirror of it writes bins and a format-2 root of its own.
    let partial = root.join("partial");
    run_in(
        root,
        &[
            "mirror",
            path(&out),
            path(&partial),
            "--scope",
            "@acme",
            "--quiet",
        ],
    )
    .expect_code(0);
    assert_eq!(read_json(&partial.join("v1/root.json"))["format"], 2);
    run_in(root, &["verify", path(&partial)]).expect_code(0);

    // Write-once holds against the format-1 registry: a published version may not change.
    let original = fs::read(registry.data().join("tic-tac-toe/1.0.0.toml")).unwrap();
    registry.file(
        "tic-tac-toe/1.0.0.toml",
        common::version_file("tic-tac-toe", "1.0.0", "# edited\n"),
    );
    let refused = registry.run(&["build", "--no-site"]);
    refused.expect_code(1);
    assert!(
        refused.stderr().contains("tic-tac-toe"),
        "{}",
        refused.stderr()
    );
    assert_eq!(read_json(&out.join("v1/root.json")), old_root);

    // A new version migrates the registry.
    registry.file("tic-tac-toe/1.0.0.toml", &original);
    registry.version("tic-tac-toe", "1.1.0", "");
    build(&registry);
    let new_root = read_json(&out.join("v1/root.json"));
    assert_eq!(new_root["format"], 2);
    assert_eq!(new_root["serial"], 2);
    assert!(out.join(&snapshot).exists(), "the snapshot stays");
    let plan = registry.run(&["plan"]).stdout();
    assert!(plan.contains("v1/bins/"), "{plan}");
    run_in(root, &["verify", path(&out)]).expect_code(0);

    // And write-once keeps holding against the format-2 registry it became.
    registry.file(
        "tic-tac-toe/1.0.0.toml",
        common::version_file("tic-tac-toe", "1.0.0", "# edited\n"),
    );
    registry.run(&["build", "--no-site"]).expect_code(1);
}

/// `--previous` may name a format-1 registry (a deployed copy not yet migrated).
#[test]
fn a_format_1_previous_registry_is_compared_with() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--no-site", "--out", "deployed"])
        .expect_code(0);
    downgrade_to_format_1(&registry.root().join("deployed"));
    registry.version("tic-tac-toe", "1.1.0", "");
    registry
        .run(&["build", "--quiet", "--no-site", "--previous", "deployed"])
        .expect_code(0);
    assert_eq!(read_json(&registry.out().join("v1/root.json"))["serial"], 2);
    registry.remove("tic-tac-toe/1.0.0.toml");
    let refused = registry.run(&["build", "--no-site", "--previous", "deployed"]);
    refused.expect_code(1);
}

/// A root of a format this program does not know is refused, saying which formats it reads.
#[test]
fn a_root_of_an_unknown_format_is_refused() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    let mut root = read_json(&out.join("v1/root.json"));
    root["format"] = json!(3);
    fs::write(out.join("v1/root.json"), pretty(&root)).unwrap();
    let run = run_in(
        registry.root(),
        &["resolve", "tic-tac-toe", "--registry", path(&out)],
    );
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("format 3 is not supported (this program reads formats 1 and 2)"),
        "{}",
        run.stderr()
    );
}

/// Versions before format 2 parse the root into this shape (the fields `RootDoc` required at
/// commit 6a814c0) before they look at `format`, so they refuse a format-2 root for its
/// missing `snapshot`, not for its format: docs/format.md says so, and this checks it.
#[test]
fn format_1_readers_refuse_a_format_2_root_for_its_missing_snapshot() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Format1Pointer {
        path: String,
        blake3: String,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Format1Root {
        format: u64,
        serial: u64,
        snapshot: Format1Pointer,
    }
    let registry = TestRegistry::valid();
    build(&registry);
    let bytes = fs::read(registry.out().join("v1/root.json")).unwrap();
    let err = serde_json::from_slice::<Format1Root>(&bytes)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("missing field `snapshot` at line "),
        "{err}"
    );
}

/// A registry whose leaf lists an expert that belongs in another leaf (every hash verifying)
/// would answer a lookup and a full walk differently; readers refuse it, naming the bin.
#[test]
fn a_leaf_listing_a_name_that_hashes_elsewhere_is_refused() {
    const EXPERTS: usize = 200;
    let registry = many(EXPERTS);
    build(&registry);
    let out = registry.out();
    let moved = "@s/e0";
    let here = slots(moved).0;
    let mut root = read_json(&out.join("v1/root.json"));
    let top_path = top_bin(&out);
    let mut top = read_json(&out.join(&top_path));
    let (from_slot, to_slot) = {
        let children = top["bins"].as_object().unwrap();
        let from = format!("{here:02x}");
        let to = children.keys().find(|k| **k != from).unwrap().clone();
        (from, to)
    };
    let leaf_of = |slot: &str| -> (String, Value) {
        let hash = top["bins"][slot]["blake3"].as_str().unwrap();
        let path = format!("v1/bins/{hash}.json");
        (path.clone(), read_json(&out.join(path)))
    };
    let (_, from_leaf) = leaf_of(&from_slot);
    let (_, mut to_leaf) = leaf_of(&to_slot);
    to_leaf["experts"][moved] = from_leaf["experts"][moved].clone();
    let bytes = pretty(&to_leaf);
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let wrong = format!("v1/bins/{hash}.json");
    fs::write(out.join(&wrong), &bytes).unwrap();
    top["bins"][&to_slot] = json!({ "blake3": hash, "size": bytes.len() });
    let bytes = pretty(&top);
    let top_hash = blake3::hash(&bytes).to_hex().to_string();
    fs::write(out.join(format!("v1/bins/{top_hash}.json")), &bytes).unwrap();
    root["bins"]["blake3"] = json!(top_hash);
    root["bins"]["size"] = json!(bytes.len());
    fs::write(out.join("v1/root.json"), pretty(&root)).unwrap();

    let message = format!("lists \"{moved}\", whose name's hash puts it in another bin");
    let verify = run_in(registry.root(), &["verify", path(&out)]);
    verify.expect_code(1);
    assert!(
        verify
            .stderr()
            .contains(&format!("{wrong}: error: {message}")),
        "{}",
        verify.stderr()
    );
    // A client looking up another name in that leaf refuses the whole leaf too.
    let neighbour = to_leaf["experts"]
        .as_object()
        .unwrap()
        .keys()
        .find(|name| *name != moved)
        .unwrap()
        .clone();
    let resolve = run_in(
        registry.root(),
        &["resolve", &neighbour, "--registry", path(&out)],
    );
    resolve.expect_code(1);
    assert!(resolve.stderr().contains(&message), "{}", resolve.stderr());
}
