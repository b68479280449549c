//! `build` end to end: the output layout and hashes, determinism, incremental and atomic
//! writes, and the write-once guarantees, all through the real binary.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{TestRegistry, copy_tree, tree, version_file};
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Asserts that every file the root reaches exists and hashes to the name or hash that points
/// at it, and that the readable documents equal their hash-named twins.
fn assert_consistent(out: &Path) {
    let root = read_json(&out.join("v1/root.json"));
    let mut versions = 0;
    for (name, (path, size)) in common::listed_experts(out) {
        let index_bytes = fs::read(out.join(&path)).unwrap();
        assert_eq!(format!("v1/index/{}.json", blake3_hex(&index_bytes)), path);
        assert_eq!(index_bytes.len() as u64, size, "{path}");
        let readable = fs::read(out.join(format!("v1/experts/{name}.json"))).unwrap();
        assert_eq!(readable, index_bytes, "readable document of {name}");
        let index: Value = serde_json::from_slice(&index_bytes).unwrap();
        for (version, entry) in index["versions"].as_object().unwrap() {
            let blob = fs::read(out.join(entry["path"].as_str().unwrap())).unwrap();
            assert_eq!(blake3_hex(&blob), entry["blake3"], "{name}@{version}");
            assert_eq!(blob.len() as u64, entry["size"].as_u64().unwrap());
            versions += 1;
        }
    }
    assert_eq!(root["versions"], versions);
}

#[test]
fn builds_a_registry_whose_files_are_named_by_their_hash() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();
    assert_consistent(&out);
    for (relative, bytes) in tree(&out) {
        let stem = Path::new(&relative).file_stem().unwrap().to_str().unwrap();
        let hash_named = ["v1/blobs/", "v1/index/", "v1/bins/"]
            .iter()
            .any(|prefix| relative.starts_with(prefix));
        if hash_named {
            assert_eq!(stem, blake3_hex(&bytes), "{relative}");
        }
    }
    let source = fs::read(registry.data().join("@acme/researcher/1.1.0.toml")).unwrap();
    let hash = blake3_hex(&source);
    assert_eq!(
        fs::read(out.join(format!("v1/blobs/{}/{hash}.toml", &hash[..2]))).unwrap(),
        source,
        "blobs are the version files byte for byte"
    );
}

#[test]
fn the_expert_index_follows_the_documented_shape() {
    let registry = TestRegistry::valid();
    registry
        .version("@acme/researcher", "2.0.0-beta.1", "")
        .version(
            "@acme/searcher",
            "1.1.0",
            "[experts.\"@acme/searcher\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\nrequiredEnv = [\"B_TOKEN\", \"A_TOKEN\"]\n[experts.\"@acme/searcher\".skills.\"other\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\nargs = [\"other\"]\nrequiredEnv = [\"A_TOKEN\"]\n",
        );
    registry.run(&["build"]).expect_code(0);
    let researcher = read_json(&registry.out().join("v1/experts/@acme/researcher.json"));
    let versions: Vec<&String> = researcher["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "2.0.0-beta.1"]);
    assert_eq!(
        researcher["dist-tags"],
        serde_json::json!({"latest": "1.1.0"})
    );
    let old = &researcher["versions"]["1.0.0"];
    assert_eq!(old["status"], "deprecated");
    assert_eq!(old["reason"], "Use 1.1.0");
    assert_eq!(old["delegates"], serde_json::json!(["@acme/searcher"]));
    assert!(researcher["versions"]["1.1.0"].get("reason").is_none());

    let searcher = read_json(&registry.out().join("v1/experts/@acme/searcher.json"));
    assert_eq!(
        searcher["versions"]["1.1.0"]["requiredEnv"],
        serde_json::json!(["A_TOKEN", "B_TOKEN"])
    );
    let tic = read_json(&registry.out().join("v1/experts/tic-tac-toe.json"));
    assert_eq!(
        tic["dist-tags"],
        serde_json::json!({"latest": "1.0.0", "stable": "1.0.0"})
    );
}

#[test]
fn latest_falls_back_to_prereleases_and_then_to_nothing() {
    let registry = TestRegistry::valid();
    registry
        .version("only-pre", "1.0.0-rc.1", "")
        .version("only-pre", "1.0.0-rc.2", "")
        .version("retired", "1.0.0", "")
        .file(
            "retired/expert.toml",
            "[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"Leaked a token\"\n",
        );
    registry.run(&["build"]).expect_code(0);
    let only_pre = read_json(&registry.out().join("v1/experts/only-pre.json"));
    assert_eq!(
        only_pre["dist-tags"],
        serde_json::json!({"latest": "1.0.0-rc.2"})
    );
    let retired = read_json(&registry.out().join("v1/experts/retired.json"));
    assert_eq!(retired["dist-tags"], serde_json::json!({}));
}

/// Writes the same registry in the opposite order, so directory entries come back from the
/// file system in a different order.
fn reversed_copy(from: &Path, to: &Path) {
    let files: Vec<(String, Vec<u8>)> = tree(from).into_iter().rev().collect();
    for (relative, bytes) in files {
        let target = to.join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, bytes).unwrap();
    }
}

#[test]
fn output_is_byte_identical_whatever_the_order_threads_or_locale() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-data");
    let work = tempfile::tempdir().unwrap();
    copy_tree(&sample, &work.path().join("a"));
    reversed_copy(&sample, &work.path().join("b"));

    let build = |data: &str, out: &str, threads: &str, locale: &str| {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
            .args(["build", "--quiet", "--data", data, "--out", out])
            .current_dir(work.path())
            .env("RAYON_NUM_THREADS", threads)
            .env("LC_ALL", locale)
            .env("TZ", "Pacific/Kiritimati")
            .status()
            .unwrap();
        assert!(status.success());
    };
    build("a", "out-a", "1", "C");
    build("b", "out-b", "4", "tr_TR.UTF-8");
    let a = tree(&work.path().join("out-a"));
    let b = tree(&work.path().join("out-b"));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a == b, "outputs differ");
    assert_consistent(&work.path().join("out-a"));
}

#[test]
fn a_build_with_no_change_writes_nothing_and_keeps_the_serial() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let before = tree(&registry.out());
    let modified = fs::metadata(registry.out().join("v1/root.json"))
        .unwrap()
        .modified()
        .unwrap();
    let run = registry.run(&["build"]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("serial 1, 0 files written"),
        "{}",
        run.stderr()
    );
    assert_eq!(tree(&registry.out()), before);
    let modified_after = fs::metadata(registry.out().join("v1/root.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(modified, modified_after, "root.json was rewritten");
}

#[test]
fn a_new_version_writes_only_new_files_and_bumps_the_serial() {
    // The website's share of an incremental build is tested in tests/site.rs.
    let registry = TestRegistry::valid();
    registry.run(&["build", "--no-site"]).expect_code(0);
    let before = tree(&registry.out());
    registry.version("tic-tac-toe", "1.1.0", "");
    registry.run(&["build", "--no-site"]).expect_code(0);
    let after = tree(&registry.out());

    let mut added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    added.sort();
    let changed: Vec<&String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    // One blob, one index document, one bin (the registry is small enough for a single level),
    // one Perstack API document and the publish log's new partial tile and entry bundle are
    // new; the
    // readable document of the expert, its API documents whose tags moved, its version list,
    // its publish log hint file and the root changed; nothing else moved.
    assert_eq!(added.len(), 6, "{added:?}");
    assert_eq!(
        added
            .iter()
            .filter(|p| p.starts_with("v1/log/tile/"))
            .count(),
        2
    );
    assert!(added.contains(&&"api/registry/v1/experts/tic-tac-toe@1.1.0".to_owned()));
    assert_eq!(
        added.iter().filter(|p| p.starts_with("v1/blobs/")).count(),
        1
    );
    assert_eq!(
        added.iter().filter(|p| p.starts_with("v1/index/")).count(),
        1
    );
    assert_eq!(
        added.iter().filter(|p| p.starts_with("v1/bins/")).count(),
        1
    );
    assert_eq!(
        changed,
        [
            "api/registry/v1/experts/tic-tac-toe/index.html",
            "api/registry/v1/experts/tic-tac-toe/versions",
            "api/registry/v1/experts/tic-tac-toe@1.0.0",
            "api/registry/v1/experts/tic-tac-toe@latest",
            "api/registry/v1/experts/tic-tac-toe@stable",
            "v1/experts/tic-tac-toe.json",
            "v1/log/checkpoint",
            "v1/log/experts/tic-tac-toe.json",
            "v1/root.json"
        ]
    );
    assert_eq!(read_json(&registry.out().join("v1/root.json"))["serial"], 2);
    assert_consistent(&registry.out());
}

#[test]
fn headers_cache_hash_named_files_forever_and_the_root_briefly() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let headers = fs::read_to_string(registry.out().join("_headers")).unwrap();
    assert!(
        headers.contains("/v1/blobs/*\n  Cache-Control: public, max-age=31536000, immutable\n")
    );
    assert!(
        headers.contains("/v1/root.json\n  Cache-Control: public, max-age=60, must-revalidate\n")
    );
}

/// Builds `registry`, applies `change`, and asserts the next build is refused with exactly
/// `expected` and leaves the output untouched.
fn assert_refused(registry: &TestRegistry, change: impl FnOnce(&TestRegistry), expected: &[&str]) {
    registry.run(&["build"]).expect_code(0);
    let before = tree(&registry.out());
    change(registry);
    let run = registry.run(&["build"]);
    run.expect_code(1);
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    let (last, diagnostics) = lines.split_last().unwrap();
    assert_eq!(diagnostics, expected);
    assert!(last.contains("nothing was written"), "{last}");
    assert_eq!(
        tree(&registry.out()),
        before,
        "a refused build changed the output"
    );
}

#[test]
fn changing_a_published_version_is_refused() {
    let registry = TestRegistry::valid();
    let old = blake3_hex(version_file("tic-tac-toe", "1.0.0", "").as_bytes());
    let new_text = version_file("tic-tac-toe", "1.0.0", "tags = [\"game\"]\n");
    let new = blake3_hex(new_text.as_bytes());
    let expected = format!(
        "registry-data/tic-tac-toe/1.0.0.toml: error: version tic-tac-toe@1.0.0 was published with BLAKE3 {old}, but the file now hashes to {new}; published versions never change, so publish a new version instead"
    );
    assert_refused(
        &registry,
        |r| {
            r.file("tic-tac-toe/1.0.0.toml", &new_text);
        },
        &[&expected],
    );
}

#[test]
fn removing_a_published_version_is_refused() {
    let registry = TestRegistry::valid();
    assert_refused(
        &registry,
        |r| {
            r.remove("@acme/researcher/1.1.0.toml");
        },
        &[
            "registry-data/@acme/researcher/1.1.0.toml: error: version @acme/researcher@1.1.0 was published and cannot be removed; restore the file",
        ],
    );
}

#[test]
fn removing_a_published_expert_is_refused() {
    let registry = TestRegistry::valid();
    registry.version("unused", "1.0.0", "");
    assert_refused(
        &registry,
        |r| {
            fs::remove_dir_all(r.data().join("unused")).unwrap();
        },
        &["registry-data/unused: error: expert \"unused\" was published and cannot be removed"],
    );
}

#[test]
fn undeprecating_or_reviving_a_disabled_version_is_refused() {
    let registry = TestRegistry::valid();
    registry.version("tic-tac-toe", "0.9.0", "").file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\n[versions.\"0.9.0\"]\nstatus = \"disabled\"\nreason = \"Broken\"\n",
    );
    assert_refused(
        &registry,
        |r| {
            r.remove("@acme/researcher/expert.toml").file(
                "tic-tac-toe/expert.toml",
                "[tags]\nstable = \"1.0.0\"\n[versions.\"0.9.0\"]\nstatus = \"deprecated\"\nreason = \"Old\"\n",
            );
        },
        &[
            "registry-data/@acme/researcher/expert.toml: error: version @acme/researcher@1.0.0 is deprecated in the published registry and cannot become available: deprecated never returns to available, and disabled is final",
            "registry-data/tic-tac-toe/expert.toml: error: version tic-tac-toe@0.9.0 is disabled in the published registry and cannot become deprecated: deprecated never returns to available, and disabled is final",
        ],
    );
}

#[test]
fn removing_a_published_tag_is_refused() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\nlegacy = \"1.0.0\"\n",
    );
    assert_refused(
        &registry,
        |r| {
            r.file("tic-tac-toe/expert.toml", "[tags]\nstable = \"1.0.0\"\n");
        },
        &[
            "registry-data/tic-tac-toe/expert.toml: error: tag \"legacy\" of \"tic-tac-toe\" was published and cannot silently vanish; point it at another version, or retire it with `perstack-registry untag tic-tac-toe legacy`",
        ],
    );
}

#[test]
fn retiring_a_published_tag_is_allowed() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\nlegacy = \"1.0.0\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\n[retired-tags]\nlegacy = \"No longer maintained\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    let tic = read_json(&registry.out().join("v1/experts/tic-tac-toe.json"));
    assert_eq!(
        tic["dist-tags"],
        serde_json::json!({"latest": "1.0.0", "stable": "1.0.0"})
    );
}

#[test]
fn moving_a_tag_and_deprecating_are_allowed() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    registry.version("tic-tac-toe", "1.1.0", "").file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.1.0\"\n[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"Use 1.1.0\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    let tic = read_json(&registry.out().join("v1/experts/tic-tac-toe.json"));
    assert_eq!(tic["dist-tags"]["stable"], "1.1.0");
    assert_eq!(tic["versions"]["1.0.0"]["status"], "deprecated");
}

#[test]
fn the_previous_registry_can_live_elsewhere() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--out", "deployed"]).expect_code(0);
    registry.file(
        "tic-tac-toe/1.0.0.toml",
        version_file("tic-tac-toe", "1.0.0", "tags = [\"x\"]\n"),
    );
    let run = registry.run(&["build", "--previous", "deployed"]);
    run.expect_code(1);
    assert!(run.stderr().contains("was published with BLAKE3"));
    assert!(!registry.out().join("v1/root.json").exists());

    let missing = registry.run(&["build", "--previous", "nowhere"]);
    missing.expect_code(2);
    assert!(
        missing.stderr().contains("nowhere/v1/root.json"),
        "{}",
        missing.stderr()
    );
}

#[test]
fn a_damaged_previous_registry_is_reported_not_trusted() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let root = read_json(&registry.out().join("v1/root.json"));
    let snapshot = registry.out().join(format!(
        "v1/bins/{}.json",
        root["bins"]["blake3"].as_str().unwrap()
    ));
    let good = fs::read(&snapshot).unwrap();
    // The same length, other bytes: the hash check catches it.
    let mut bytes = good.clone();
    bytes[0] = b' ';
    fs::write(&snapshot, &bytes).unwrap();
    registry.version("tic-tac-toe", "1.1.0", "");
    let run = registry.run(&["build"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("the registry is damaged"),
        "{}",
        run.stderr()
    );
    // Longer than the root says: not read past the size the root gives.
    let mut bytes = good;
    bytes.push(b' ');
    fs::write(&snapshot, bytes).unwrap();
    let run = registry.run(&["build"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("larger than the")
            && run
                .stderr()
                .contains("bytes the registry's metadata allows"),
        "{}",
        run.stderr()
    );
}

#[test]
fn serial_counts_publishes_across_builds() {
    let registry = TestRegistry::valid();
    let mut serials = BTreeMap::new();
    for (step, version) in ["1.1.0", "1.2.0"].iter().enumerate() {
        registry.run(&["build"]).expect_code(0);
        serials.insert(
            step,
            read_json(&registry.out().join("v1/root.json"))["serial"].clone(),
        );
        registry.version("tic-tac-toe", version, "");
    }
    registry.run(&["build"]).expect_code(0);
    assert_eq!(serials[&0], 1);
    assert_eq!(serials[&1], 2);
    assert_eq!(read_json(&registry.out().join("v1/root.json"))["serial"], 3);
}

/// Adds `count` experts with two versions each, numbered from `first`.
fn add_many(registry: &TestRegistry, first: usize, count: usize) {
    let padding = "Read the task carefully and work step by step. ".repeat(20);
    for n in first..first + count {
        for version in ["1.0.0", "1.1.0"] {
            registry.version(
                &format!("@bulk/expert-{n}"),
                version,
                &format!("tags = [\"bulk\"]\n# {padding}\n"),
            );
        }
    }
}

#[test]
fn a_crashed_build_leaves_the_previous_registry_valid_and_the_next_one_completes_it() {
    let registry = TestRegistry::valid();
    add_many(&registry, 0, 200);
    registry.run(&["build", "--quiet"]).expect_code(0);
    let first_root = fs::read(registry.out().join("v1/root.json")).unwrap();
    add_many(&registry, 200, 1500);

    // Crash the build in the middle of its 1000th file, half written, as SIGKILL would: past
    // the first blobs, long before the root.
    let status =
        common::run_until_crash(registry.root(), &["build", "--quiet", "--no-cache"], 1000);
    assert!(
        !status.success(),
        "the build finished before its crash point"
    );
    assert_consistent(&registry.out());
    assert_eq!(
        fs::read(registry.out().join("v1/root.json")).unwrap(),
        first_root,
        "a crashed build changed the root"
    );
    // The first build's plan is gone and the crashed one left none a deploy could take for
    // its own.
    assert!(!registry.out().join(".perstack-build/plan.json").exists());
    registry.run(&["plan"]).expect_code(2);
    let blob_count = tree(&registry.out())
        .keys()
        .filter(|k| k.starts_with("v1/blobs/"))
        .count();
    assert!(
        blob_count > 400,
        "the crash came before the new blobs: {blob_count}"
    );

    registry.run(&["build", "--quiet"]).expect_code(0);
    assert_consistent(&registry.out());
    let leftovers: Vec<String> = walkdir::WalkDir::new(registry.out())
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".~perstack-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files remain: {leftovers:?}"
    );
    assert!(!registry.out().join(".perstack-build/writing").exists());
    assert!(!registry.out().join(".perstack-build/plan-spool").exists());
    registry.run(&["plan"]).expect_code(0);

    // The resumed registry is the one a clean build of the same history produces.
    let clean = tempfile::tempdir().unwrap();
    let rebuilt = |out: &Path| {
        common::run_in(
            registry.root(),
            &["build", "--quiet", "--out", out.to_str().unwrap()],
        )
    };
    let resumed = tree(&registry.out());
    rebuilt(clean.path()).expect_code(0);
    let clean_tree = tree(clean.path());
    // The clean build has serial 1 and no first-generation bins; all else is identical but
    // the recent list and the publish log, which like the serial count publishes (a clean
    // build's log is one genesis batch), and the website manifest that lists the recent list.
    for (path, bytes) in &clean_tree {
        if !["v1/root.json", "recent.json", "index.html"].contains(&path.as_str())
            && !path.starts_with("v1/log/")
            && !path.starts_with("v1/site/")
        {
            assert_eq!(resumed.get(path), Some(bytes), "{path}");
        }
    }
}

/// Validates `document` against the schema file `schema` in schemas/.
fn assert_matches_schema(schema: &str, document: &Value, what: &str) {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(schema);
    let validator = jsonschema::validator_for(&read_json(&schema_path)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match {schema}: {errors:#?}"
    );
}

#[test]
fn every_document_of_the_sample_registry_matches_its_schema() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-data");
    let out = tempfile::tempdir().unwrap();
    let run = common::run_in(
        out.path(),
        &[
            "build",
            "--quiet",
            "--data",
            sample.to_str().unwrap(),
            "--out",
            "dist",
        ],
    );
    run.expect_code(0);
    let dist = out.path().join("dist");
    assert_consistent(&dist);
    let root = read_json(&dist.join("v1/root.json"));
    assert_matches_schema("root.schema.json", &root, "root.json");
    for (path, bin) in common::bins(&dist) {
        assert_matches_schema("bin.schema.json", &bin, &path);
    }
    for (name, (path, _)) in common::listed_experts(&dist) {
        let index = read_json(&dist.join(path));
        assert_matches_schema("expert-index.schema.json", &index, &name);
    }
}

#[test]
fn the_schemas_reject_documents_that_break_the_format() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let mut index = read_json(&registry.out().join("v1/experts/@acme/researcher.json"));
    index["versions"]["1.0.0"]
        .as_object_mut()
        .unwrap()
        .remove("reason");
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/expert-index.schema.json");
    let validator = jsonschema::validator_for(&read_json(&schema_path)).unwrap();
    assert!(
        !validator.is_valid(&index),
        "a deprecated version without reason passed"
    );
}

#[test]
fn progress_is_shown_on_a_terminal_and_never_in_pipes() {
    let registry = TestRegistry::valid();
    // Piped stderr: only the one-line summary.
    let run = registry.run(&["build"]);
    run.expect_code(0);
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("built dist: 3 experts, 4 versions, serial 1, "),
        "{stderr}"
    );

    // A terminal (util-linux `script` provides a pseudo-terminal): progress, then the summary.
    let binary = env!("CARGO_BIN_EXE_perstack-registry");
    let typescript = registry.root().join("typescript");
    let output = std::process::Command::new("script")
        .args(["-qec", &format!("{binary} build --no-cache --out tty-dist")])
        .arg(&typescript)
        .current_dir(registry.root())
        .output()
        .expect("script (util-linux) runs");
    assert!(output.status.success());
    let shown = String::from_utf8_lossy(&fs::read(&typescript).unwrap()).into_owned();
    assert!(shown.contains("checking 0/4"), "{shown}");
    assert!(shown.contains("\r\x1b[2Kbuilt tty-dist:"), "{shown}");

    // --quiet silences both.
    let quiet = registry.run(&["build", "--quiet", "--out", "quiet-dist"]);
    quiet.expect_code(0);
    assert_eq!(quiet.stderr(), "");
}

/// A link planted in the output (as a committed dist/ could hold) is refused by name: the build
/// neither writes through it nor leaves it where a registry file belongs.
#[test]
fn links_planted_in_the_output_are_refused_and_nothing_outside_changes() {
    let registry = TestRegistry::valid();
    let outside = registry.root().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(registry.out().join("v1")).unwrap();
    std::os::unix::fs::symlink(&outside, registry.out().join("v1/blobs")).unwrap();
    let run = registry.run(&["build", "--quiet"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("refusing to write through"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("v1/blobs"), "{}", run.stderr());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!registry.out().join("v1/root.json").exists());
}

/// A lock planted as a link (in a committed dist/, say) is refused, and the file it points at is
/// not truncated.
#[test]
fn a_lock_planted_as_a_link_is_refused_and_its_target_untouched() {
    let registry = TestRegistry::valid();
    let precious = registry.root().join("precious");
    fs::write(&precious, "do not truncate").unwrap();
    fs::create_dir_all(registry.out().join(".perstack-build")).unwrap();
    std::os::unix::fs::symlink(&precious, registry.out().join(".perstack-build/lock")).unwrap();
    let run = registry.run(&["build", "--quiet"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("refusing to write through"),
        "{}",
        run.stderr()
    );
    assert_eq!(fs::read_to_string(&precious).unwrap(), "do not truncate");
}

/// A previous registry whose root claims the highest serial there is is refused, instead of
/// the next serial wrapping to 0 (which every client would refuse as a rollback).
#[test]
fn a_previous_root_with_the_highest_serial_is_refused_not_wrapped() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--out", "deployed"])
        .expect_code(0);
    let root_path = registry.root().join("deployed/v1/root.json");
    let mut root = read_json(&root_path);
    root["serial"] = serde_json::json!(u64::MAX);
    fs::write(&root_path, serde_json::to_vec_pretty(&root).unwrap()).unwrap();
    registry.version("tic-tac-toe", "1.1.0", "");
    let run = registry.run(&["build", "--quiet", "--previous", "deployed"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("serial 18446744073709551615 is the highest a root can have"),
        "{}",
        run.stderr()
    );
    assert!(!registry.out().join("v1/root.json").exists());
}
