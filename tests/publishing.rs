//! Publishing by git push, end to end in real temporary git repositories: publish from real
//! perstack.toml files, review pull requests with `check --base`, change tags and statuses,
//! and deploy with the plan. Every bad input gets a clear message and changes nothing.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{TestRegistry, commit_all, example_files, git, run_in, version_file};

/// Every file of the repository except git's own, by relative path.
fn repo_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    common::tree(dir)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(".git/"))
        .collect()
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// A git repository with an empty registry, committed.
fn repository() -> (TestRegistry, String) {
    let registry = TestRegistry::empty();
    registry.file("registry.toml", "name = \"Test Registry\"\n");
    // As `init` writes it: the build's output is never committed.
    fs::write(registry.root().join(".gitignore"), "/dist\n").unwrap();
    git(registry.root(), &["init", "-q"]);
    let base = commit_all(registry.root(), "Start the registry");
    (registry, base)
}

#[test]
fn every_example_publishes_and_its_pull_request_passes_review() {
    let (registry, base) = repository();
    let mut published = Vec::new();
    for example in example_files() {
        let run = registry.run(&["publish", example.to_str().unwrap(), "--all"]);
        run.expect_code(0);
        assert!(
            run.stderr().contains("note: left out of the published definitions (run settings, not part of an expert): model"),
            "{}",
            run.stderr()
        );
        for line in run.stdout().lines() {
            let (hash, path) = line.split_once("  ").expect("b3sum-style line");
            let bytes = fs::read(registry.root().join(path)).unwrap();
            assert_eq!(hash, blake3_hex(&bytes), "{path}");
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.starts_with("[experts.") || text.starts_with('#'),
                "{path}"
            );
            assert!(!text.contains("model ="), "{path} kept a run setting");
            published.push(path.to_owned());
        }
    }
    assert_eq!(published.len(), 11, "{published:#?}");
    // gmail-assistant.toml: the delegating expert comes after the experts it delegates to.
    let position = |name: &str| {
        published
            .iter()
            .position(|p| p.contains(&format!("/{name}/")))
            .unwrap()
    };
    for delegate in ["inbox-searcher", "knowledge-finder", "email-composer"] {
        assert!(position(delegate) < position("email-assistant"));
    }
    registry.run(&["check"]).expect_code(0);

    commit_all(registry.root(), "Publish the examples");
    let review = registry.run(&["check", "--base", &base, "--format", "github"]);
    review.expect_code(0);
    let stdout = review.stdout();
    let notices: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::notice"))
        .collect();
    assert_eq!(notices.len(), 11, "{}", review.stdout());
    let bug_finder = fs::read(registry.data().join("bug-finder/1.0.0.toml")).unwrap();
    let expected = format!(
        "::notice file=registry-data/bug-finder/1.0.0.toml::adds bug-finder@1.0.0 (BLAKE3 {}, published 20",
        blake3_hex(&bug_finder)
    );
    assert!(
        notices.iter().any(|notice| notice.starts_with(&expected)),
        "{stdout}"
    );
}

#[test]
fn publish_records_the_time_and_a_recorded_time_never_changes() {
    let (registry, base) = repository();
    let author = registry.root().join("perstack.toml");
    fs::write(&author, version_file("@acme/dated", "1.0.0", "")).unwrap();
    let publish = std::process::Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args(["publish", author.to_str().unwrap()])
        .current_dir(registry.root())
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .unwrap();
    assert!(publish.status.success(), "{publish:?}");
    let meta_path = registry.data().join("@acme/dated/expert.toml");
    let meta = fs::read_to_string(&meta_path).unwrap();
    assert_eq!(
        meta,
        "[versions.\"1.0.0\"]\npublished = \"2026-01-01T00:00:00Z\"\n"
    );

    // The time reaches the index document and the Perstack API documents.
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();
    let api = fs::read_to_string(out.join("api/registry/v1/experts/@acme/dated@1.0.0")).unwrap();
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(api["data"]["expert"]["createdAt"], "2026-01-01T00:00:00Z");
    assert_eq!(api["data"]["expert"]["updatedAt"], "2026-01-01T00:00:00Z");
    let versions =
        fs::read_to_string(out.join("api/registry/v1/experts/@acme/dated/versions")).unwrap();
    let versions: serde_json::Value = serde_json::from_str(&versions).unwrap();
    assert_eq!(
        versions["data"]["versions"][0]["createdAt"],
        "2026-01-01T00:00:00Z"
    );

    // Review lists the new version with its time; a later change to the time is refused.
    let published = commit_all(registry.root(), "Publish @acme/dated");
    let review = registry.run(&["check", "--base", &base]);
    review.expect_code(0);
    assert!(
        review.stderr().contains("published 2026-01-01T00:00:00Z"),
        "{}",
        review.stderr()
    );
    fs::write(
        &meta_path,
        "[versions.\"1.0.0\"]\npublished = \"2025-06-01T00:00:00Z\"\n",
    )
    .unwrap();
    let review = registry.run(&["check", "--base", &published]);
    review.expect_code(1);
    assert!(
        review.stderr().contains(
            "was published at 2026-01-01T00:00:00Z, but expert.toml says 2025-06-01T00:00:00Z"
        ),
        "{}",
        review.stderr()
    );
    // The build refuses it too, against the registry it published before.
    let build = registry.run(&["build"]);
    build.expect_code(1);
    assert!(
        build
            .stderr()
            .contains("a recorded publish time never changes"),
        "{}",
        build.stderr()
    );

    // Removing the time is refused as well; a malformed one is an error at its line.
    fs::write(&meta_path, "").unwrap();
    let review = registry.run(&["check", "--base", &published]);
    review.expect_code(1);
    assert!(
        review.stderr().contains("no longer records it"),
        "{}",
        review.stderr()
    );
    fs::write(
        &meta_path,
        "[versions.\"1.0.0\"]\npublished = \"2026-01-01 00:00\"\n",
    )
    .unwrap();
    let check = registry.run(&["check"]);
    check.expect_code(1);
    assert!(
        check.stderr().contains("expert.toml:2:13") && check.stderr().contains("not a UTC time"),
        "{}",
        check.stderr()
    );
}

#[test]
fn editing_a_published_version_is_refused_at_its_first_changed_line() {
    let (registry, _) = repository();
    registry
        .version("@acme/searcher", "1.0.0", "")
        .version("@acme/searcher", "1.1.0", "");
    let published = commit_all(registry.root(), "Publish @acme/searcher");
    let path = "@acme/searcher/1.0.0.toml";
    let old = fs::read(registry.data().join(path)).unwrap();
    let edited = version_file("@acme/searcher", "1.0.0", "").replace(
        "instruction = \"Do the work.\"",
        "instruction = \"Do the work, then more.\"",
    );
    registry.file(path, &edited);
    registry.remove("@acme/searcher/1.1.0.toml");
    commit_all(registry.root(), "Quietly change a published version");

    let run = registry.run(&["check", "--base", &published, "--format", "github"]);
    run.expect_code(1);
    assert_eq!(
        run.stdout(),
        format!(
            "::error file=registry-data/@acme/searcher/1.0.0.toml,line=4,col=1::version @acme/searcher@1.0.0 was published with BLAKE3 {}, but the file now hashes to {}; published versions never change, so publish a new version instead\n\
             ::error file=registry-data/@acme/searcher/1.1.0.toml::version @acme/searcher@1.1.0 was published and cannot be removed; restore the file\n",
            blake3_hex(&old),
            blake3_hex(edited.as_bytes())
        )
    );
    assert!(
        run.stderr()
            .contains("is invalid: 2 error(s), 0 warning(s)"),
        "{}",
        run.stderr()
    );
}

#[test]
fn deprecating_is_reviewed_and_undeprecating_is_refused() {
    let (registry, _) = repository();
    registry
        .version("tic-tac-toe", "1.0.0", "")
        .version("tic-tac-toe", "1.1.0", "");
    let published = commit_all(registry.root(), "Publish tic-tac-toe");

    let run = registry.run(&[
        "deprecate",
        "tic-tac-toe@1.0.0",
        "--reason",
        "Use 1.1.0: it never loses",
    ]);
    run.expect_code(0);
    assert_eq!(
        run.stderr(),
        "registry-data/tic-tac-toe/expert.toml: tic-tac-toe@1.0.0 is now deprecated\n"
    );
    let review = registry.run(&["check", "--base", &published]);
    review.expect_code(0);
    assert!(
        review.stderr().contains(
            "registry-data/tic-tac-toe/expert.toml:1:11: note: tic-tac-toe@1.0.0: available -> deprecated: Use 1.1.0: it never loses"
        ),
        "{}",
        review.stderr()
    );
    let deprecated = commit_all(registry.root(), "Deprecate tic-tac-toe 1.0.0");

    // There is no command to undeprecate; editing expert.toml by hand is caught in review.
    registry.remove("tic-tac-toe/expert.toml");
    let run = registry.run(&["check", "--base", &deprecated]);
    run.expect_code(1);
    assert!(
        run.stderr().contains(
            "registry-data/tic-tac-toe/expert.toml: error: version tic-tac-toe@1.0.0 is deprecated in the published registry and cannot become available: deprecated never returns to available, and disabled is final"
        ),
        "{}",
        run.stderr()
    );
    git(registry.root(), &["checkout", "-q", "--", "."]);

    registry
        .run(&["disable", "tic-tac-toe@1.0.0", "--reason", "Cheats"])
        .expect_code(0);
    let before = repo_tree(registry.root());
    let run = registry.run(&["deprecate", "tic-tac-toe@1.0.0", "--reason", "Back"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr(),
        "error: tic-tac-toe@1.0.0 is disabled and cannot become deprecated: deprecated never returns to available, and disabled is final\n"
    );
    assert_eq!(repo_tree(registry.root()), before);
}

#[test]
fn tags_move_retire_and_return_keeping_comments() {
    let (registry, _) = repository();
    registry
        .version("tic-tac-toe", "1.0.0", "")
        .version("tic-tac-toe", "1.1.0", "")
        .file(
            "tic-tac-toe/expert.toml",
            "# Tags of tic-tac-toe.\n[tags]\nstable = \"1.0.0\" # what most people pin\nbeta = \"1.1.0\"\n",
        );
    registry.run(&["build", "--quiet"]).expect_code(0);
    let published = commit_all(registry.root(), "Publish tic-tac-toe");

    registry
        .run(&["tag", "tic-tac-toe@1.1.0", "stable"])
        .expect_code(0);
    let run = registry.run(&["untag", "tic-tac-toe", "beta"]);
    run.expect_code(0);
    assert_eq!(
        fs::read_to_string(registry.data().join("tic-tac-toe/expert.toml")).unwrap(),
        "# Tags of tic-tac-toe.\n[tags]\nstable = \"1.1.0\" # what most people pin\n\n[retired-tags]\nbeta = \"removed by untag\"\n"
    );
    let review = registry.run(&["check", "--base", &published]);
    review.expect_code(0);
    let stderr = review.stderr();
    let notes: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("note:"))
        .map(|l| l.split("note: ").nth(1).unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "moves tag \"stable\" of tic-tac-toe from 1.0.0 to 1.1.0",
            "retires tag \"beta\" of tic-tac-toe: removed by untag",
        ]
    );
    // The build accepts the retired tag vanishing, since the removal is recorded.
    registry.run(&["build", "--quiet"]).expect_code(0);

    registry
        .run(&["tag", "tic-tac-toe@1.0.0", "beta"])
        .expect_code(0);
    assert_eq!(
        fs::read_to_string(registry.data().join("tic-tac-toe/expert.toml")).unwrap(),
        "# Tags of tic-tac-toe.\n[tags]\nstable = \"1.1.0\" # what most people pin\nbeta = \"1.0.0\"\n\n[retired-tags]\n"
    );
    registry.run(&["build", "--quiet"]).expect_code(0);
}

#[test]
fn new_names_that_pass_for_existing_ones_are_refused_unless_allowed() {
    let (registry, _) = repository();
    registry.version("@acme/researcher", "1.0.0", "").version(
        "@acme/writer",
        "1.0.0",
        "delegates = [\"@acme/researcher\"]\n",
    );
    let base = commit_all(registry.root(), "Publish");
    registry
        .version("@acme/research-er", "1.0.0", "")
        .version("@acrne/tool", "1.0.0", "")
        .version("@acme/reseacher", "1.0.0", "");
    let run = registry.run(&["check", "--base", &base, "--format", "json"]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let problems: Vec<(String, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["file"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            (
                "name-similar".to_owned(),
                "registry-data/@acme/reseacher".to_owned()
            ),
            (
                "name-confusable".to_owned(),
                "registry-data/@acme/research-er".to_owned()
            ),
            (
                "scope-confusable".to_owned(),
                "registry-data/@acrne".to_owned()
            ),
        ]
    );
    assert_eq!(report["changes"].as_array().unwrap().len(), 3);

    // Allowing the names in the same change that publishes them is refused: the allowance
    // must be approved and merged on its own first.
    registry.file(
        "registry.toml",
        "name = \"Test Registry\"\n[names]\nallow = [\"@acme/research-er\", \"@acrne\", \"@acme/reseacher\"]\n",
    );
    let run = registry.run(&["check", "--base", &base, "--format", "json"]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    // Each allowance is also a settings change, which this registry has no maintainers to
    // approve.
    assert_eq!(
        codes,
        [
            "allowed-in-same-change",
            "allowed-in-same-change",
            "allowed-in-same-change",
            "settings-change-unapproved",
            "settings-change-unapproved",
            "settings-change-unapproved"
        ]
    );
    assert!(
        report["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("this same change adds the [names] allow entry")
    );

    // Merged first, the allowance lets the names through.
    let publications: Vec<_> = ["@acme/research-er", "@acrne/tool", "@acme/reseacher"]
        .iter()
        .map(|name| {
            let dir = registry.data().join(name);
            let bytes = fs::read(dir.join("1.0.0.toml")).unwrap();
            fs::remove_dir_all(&dir).unwrap();
            (dir, bytes)
        })
        .collect();
    let allowed = commit_all(registry.root(), "Allow three names");
    for (dir, bytes) in publications {
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("1.0.0.toml"), bytes).unwrap();
    }
    let run = registry.run(&["check", "--base", &allowed, "--format", "json"]);
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["diagnostics"], serde_json::json!([]));
}

#[test]
fn a_committed_output_directory_and_a_linked_data_directory_are_refused() {
    let (registry, base) = repository();
    registry.version("tic-tac-toe", "1.0.0", "");
    let published = commit_all(registry.root(), "Publish tic-tac-toe");
    // A pull request that force-adds dist/: the next build would trust it as the registry
    // published before.
    fs::create_dir_all(registry.root().join("dist/v1")).unwrap();
    fs::write(registry.root().join("dist/v1/root.json"), "{}").unwrap();
    git(registry.root(), &["add", "-f", "dist/v1/root.json"]);
    let run = registry.run(&["check", "--base", &published]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("dist/v1/root.json: error: 1 file(s) under dist/ are committed, but dist/ is what the build writes"),
        "{}",
        run.stderr()
    );
    git(
        registry.root(),
        &["rm", "-q", "--cached", "dist/v1/root.json"],
    );
    fs::remove_dir_all(registry.root().join("dist")).unwrap();

    // A pull request that moves registry-data/ and links it: the base would look empty.
    fs::rename(registry.data(), registry.root().join("moved")).unwrap();
    std::os::unix::fs::symlink("moved", registry.data()).unwrap();
    let run = registry.run(&["check", "--base", &base]);
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("registry-data: error: the data directory is a symbolic link"),
        "{}",
        run.stderr()
    );
}

#[test]
fn review_works_in_a_shallow_clone_once_the_base_is_fetched() {
    let (registry, base) = repository();
    registry.version("tic-tac-toe", "1.0.0", "");
    commit_all(registry.root(), "Publish tic-tac-toe");
    let clones = tempfile::tempdir().unwrap();
    let origin = format!("file://{}", registry.root().display());
    git(
        clones.path(),
        &["clone", "-q", "--depth=1", &origin, "shallow"],
    );
    let shallow = clones.path().join("shallow");

    let run = run_in(&shallow, &["check", "--base", &base]);
    run.expect_code(2);
    assert_eq!(
        run.stderr(),
        format!(
            "error: revision \"{base}\" is not in this repository; in a shallow clone, fetch it first: git fetch --depth=1 origin {base}\n"
        )
    );
    git(&shallow, &["fetch", "-q", "--depth=1", "origin", &base]);
    let run = run_in(&shallow, &["check", "--base", &base]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("registry-data/tic-tac-toe/1.0.0.toml: note: adds tic-tac-toe@1.0.0"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_plan_lists_exactly_the_new_files_in_safe_order() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let first = registry.run(&["plan"]);
    first.expect_code(0);
    let all: Vec<String> = common::tree(&registry.out()).into_keys().collect();
    let mut listed: Vec<String> = first.stdout().lines().map(str::to_owned).collect();
    assert_eq!(listed.last().unwrap(), "v1/root.json");
    listed.sort();
    assert_eq!(listed, all, "the first plan lists every file");

    let before = common::tree(&registry.out());
    registry.version("tic-tac-toe", "1.1.0", "");
    registry.run(&["build", "--quiet"]).expect_code(0);
    let after = common::tree(&registry.out());
    let changed: Vec<&String> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .collect();
    let run = registry.run(&["plan", "--format", "json"]);
    run.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let files: Vec<(String, String)> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut kinds: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "blob",
            "index",
            "bin",
            "tile",
            "log-hint",
            "readable",
            "api",
            "site",
            "site-manifest",
            "checkpoint",
            "root"
        ]
    );
    let mut paths: Vec<&String> = files.iter().map(|(_, p)| p).collect();
    paths.sort();
    assert_eq!(paths, changed, "the plan lists exactly the new files");
    assert_eq!(plan["serial"], 2);

    // A build with nothing new plans nothing, and a refused build leaves no plan behind.
    registry.run(&["build", "--quiet"]).expect_code(0);
    assert_eq!(registry.run(&["plan"]).stdout(), "");
    registry.remove("tic-tac-toe/1.1.0.toml");
    registry.run(&["build", "--quiet"]).expect_code(1);
    let run = registry.run(&["plan"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr(),
        "error: dist/.perstack-build/plan.json: no plan here; run `perstack-registry build` first\n"
    );
}

#[test]
fn the_plan_is_relative_to_the_previous_registry_elsewhere() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--out", "deployed"])
        .expect_code(0);
    // The deployed copy needs no blobs: the previous index documents say which exist.
    fs::remove_dir_all(registry.root().join("deployed/v1/blobs")).unwrap();
    registry.version("tic-tac-toe", "1.1.0", "");
    registry
        .run(&["build", "--quiet", "--previous", "deployed"])
        .expect_code(0);
    let lines = registry.run(&["plan"]).stdout();
    let mut kinds: Vec<&str> = lines
        .lines()
        .map(|l| match l {
            "v1/log/checkpoint" => l.to_owned(),
            _ => l.split('/').take(2).collect::<Vec<_>>().join("/"),
        })
        .map(|p| match p.as_str() {
            "v1/log" => "tile",
            "v1/log/checkpoint" => "checkpoint",
            "v1/blobs" => "blob",
            "v1/index" => "index",
            "v1/bins" => "bin",
            "v1/experts" => "readable",
            "api/registry" => "api",
            "v1/root.json" => "root",
            "_headers" => "headers",
            "v1/site" => "site-manifest",
            _ => "site",
        })
        .collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "blob",
            "index",
            "bin",
            "tile",
            "readable",
            "api",
            "site",
            "site-manifest",
            "checkpoint",
            "root"
        ]
    );
}

#[test]
fn codeowners_follows_the_scope_owners() {
    let (registry, _) = repository();
    registry.file(
        "registry.toml",
        "name = \"Test Registry\"\n[scopes.\"@mailcraft\"]\nowners = [\"@mailcraft/maintainers\"]\n[scopes.\"@acme\"]\nowners = [\"@acme-org/maintainers\", \"ops@acme.example\"]\n",
    );
    registry.run(&["codeowners"]).expect_code(0);
    assert_eq!(
        fs::read_to_string(registry.root().join(".github/CODEOWNERS")).unwrap(),
        "# Generated by `perstack-registry codeowners` from registry-data/registry.toml; do not edit.\n# Changes to a scope need the review of its owners.\n/registry-data/@acme/ @acme-org/maintainers ops@acme.example\n/registry-data/@mailcraft/ @mailcraft/maintainers\n"
    );
    registry.run(&["codeowners", "--check"]).expect_code(0);
    registry.file("registry.toml", "name = \"Test Registry\"\n");
    let run = registry.run(&["codeowners", "--check"]);
    run.expect_code(1);
    assert!(run.stderr().contains("does not match"), "{}", run.stderr());
}

/// Runs `args` in the repository, asserts the exit code and the exact stderr, and that no file
/// changed.
fn assert_rejected(registry: &TestRegistry, args: &[&str], code: i32, stderr: &str) {
    let before = repo_tree(registry.root());
    let run = registry.run(args);
    run.expect_code(code);
    assert_eq!(run.stderr(), stderr, "{args:?}");
    assert_eq!(repo_tree(registry.root()), before, "{args:?} changed files");
}

#[test]
fn bad_input_gets_a_clear_message_and_changes_nothing() {
    let (registry, _) = repository();
    registry
        .version("tic-tac-toe", "1.0.0", "")
        .file("tic-tac-toe/expert.toml", "[tags]\nstable = \"1.0.0\"\n");
    fs::write(
        registry.root().join("perstack.toml"),
        "model = \"m\"\n[experts.\"tic-tac-toe\"]\nversion = \"1.0.0\"\ndescription = \"d\"\ninstruction = \"i\"\n[experts.\"other\"]\nversion = \"1.0.0\"\ndescription = \"d\"\ninstruction = \"i\"\n",
    )
    .unwrap();
    fs::write(
        registry.root().join("broken.toml"),
        "[experts.\"x\"\nversion = 1\n",
    )
    .unwrap();

    assert_rejected(
        &registry,
        &["publish", "missing.toml"],
        2,
        "error: cannot read missing.toml: No such file or directory (os error 2)\n",
    );
    assert_rejected(
        &registry,
        &["publish", "broken.toml"],
        1,
        "broken.toml:1:13: error: invalid TOML: unclosed table, expected `]`\nerror: 1 problem(s) found; nothing was written\n",
    );
    assert_rejected(
        &registry,
        &["publish", "--expert", "nobody"],
        1,
        "error: perstack.toml defines no expert \"nobody\"; it defines tic-tac-toe, other\n",
    );
    assert_rejected(
        &registry,
        &["publish"],
        2,
        "error: perstack.toml defines 2 experts (tic-tac-toe, other): choose with --expert NAME or --all\n",
    );
    assert_rejected(
        &registry,
        &["publish", "--all"],
        1,
        "perstack.toml:3:11: error: registry-data/tic-tac-toe/1.0.0.toml already exists: tic-tac-toe@1.0.0 is published and never changes; raise `version` to publish a new one\nerror: 1 problem(s) found; nothing was written\n",
    );
    assert_rejected(
        &registry,
        &["tag", "nobody@1.0.0", "stable"],
        1,
        "error: there is no expert \"nobody\" in registry-data (registry-data/nobody does not exist)\n",
    );
    assert_rejected(
        &registry,
        &["tag", "tic-tac-toe@2.0.0", "stable"],
        1,
        "error: \"tic-tac-toe\" has no version 2.0.0 (registry-data/tic-tac-toe/2.0.0.toml does not exist)\n",
    );
    assert_rejected(
        &registry,
        &["tag", "tic-tac-toe", "stable"],
        2,
        "error: \"tic-tac-toe\" is not NAME@VERSION (for example @acme/researcher@1.2.3): it names no version\n",
    );
    assert_rejected(
        &registry,
        &["tag", "tic-tac-toe@1.0.0", "latest"],
        2,
        "error: `latest` is computed by the registry: it cannot be set or removed by hand\n",
    );
    assert_rejected(
        &registry,
        &["untag", "tic-tac-toe", "beta"],
        1,
        "error: \"tic-tac-toe\" has no tag \"beta\"\n",
    );
    assert_rejected(
        &registry,
        &["disable", "tic-tac-toe@1.0.0", "--reason", "Broken"],
        1,
        "error: tag \"stable\" points at tic-tac-toe@1.0.0; move it first (perstack-registry tag tic-tac-toe@<version> stable) or retire it (perstack-registry untag tic-tac-toe stable)\n",
    );
    assert_rejected(
        &registry,
        &["check", "--base", "no-such-revision"],
        2,
        "error: revision \"no-such-revision\" is not in this repository; in a shallow clone, fetch it first: git fetch --depth=1 origin no-such-revision\n",
    );
    assert_rejected(
        &registry,
        &["init", "."],
        1,
        "error: refusing to overwrite ./registry-data/registry.toml, ./.gitignore; nothing was written\n",
    );
    let run = registry.run(&["deprecate", "tic-tac-toe@1.0.0"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("--reason <REASON>"),
        "{}",
        run.stderr()
    );

    registry.file("tic-tac-toe/expert.toml", "[tags\n");
    assert_rejected(
        &registry,
        &["tag", "tic-tac-toe@1.0.0", "beta"],
        1,
        "registry-data/tic-tac-toe/expert.toml:1:6: error: invalid TOML: unclosed table, expected `]`\nerror: 1 problem(s) found; nothing was written\n",
    );
    registry.file(
        "registry.toml",
        "name = \"Test\"\n[scopes.\"acme\"]\nowners = [\"@a\"]\n",
    );
    assert_rejected(
        &registry,
        &["codeowners"],
        1,
        "registry-data/registry.toml:2:9: error: \"acme\" is not a scope: write @ followed by lowercase letters, digits, '-' and '_' (e.g. \"@acme\")\nerror: 1 problem(s) found; nothing was written\n",
    );
}

#[test]
fn settings_changes_are_listed_and_need_the_maintainers_approval() {
    let (registry, _) = repository();
    let keygen = registry.run(&["keygen", "--format", "json"]);
    keygen.expect_code(0);
    let key: serde_json::Value = serde_json::from_str(&keygen.stdout()).unwrap();
    let key = key["public"].as_str().unwrap().to_owned();
    registry.file(
        "registry.toml",
        format!("name = \"Test Registry\"\n[trust]\nkeys = [\"{key}\"]\n[limits]\nmax-version-bytes = 2048\n[site]\nurl = \"https://registry.example.com/\"\nrepository = \"https://code.example.com/acme/registry/registry-data/\"\n"),
    );
    let base = git(registry.root(), &["rev-parse", "HEAD"]);
    let run = registry.run(&["check", "--base", &base]);
    run.expect_code(1);
    let stderr = run.stderr();
    for change in [
        format!("adds trust key {key}"),
        "changes max-version-bytes from 262144 to 2048".to_owned(),
        "changes [site] url from (unset) to https://registry.example.com/".to_owned(),
        "changes [site] repository from (unset) to https://code.example.com/acme/registry/registry-data/".to_owned(),
    ] {
        assert!(
            stderr.contains(&format!(
                "registry-data/registry.toml: error: {change}: the registry's settings decide who is trusted"
            )),
            "{stderr}"
        );
    }

    // With maintainers set at the base, the same kind of change is a warning that says whose
    // approval CODEOWNERS requires, and CODEOWNERS names them for registry.toml and .github/.
    registry.file(
        "registry.toml",
        "name = \"Test Registry\"\n[maintainers]\nowners = [\"@acme/registry-admins\"]\n",
    );
    let with_maintainers = commit_all(registry.root(), "Maintainers");
    let codeowners = registry.run(&["codeowners", "--output", "CODEOWNERS"]);
    codeowners.expect_code(0);
    let text = fs::read_to_string(registry.root().join("CODEOWNERS")).unwrap();
    assert!(
        text.contains(
            "/registry-data/registry.toml @acme/registry-admins\n/.github/ @acme/registry-admins\n"
        ),
        "{text}"
    );
    registry.file(
        "registry.toml",
        format!("name = \"Test Registry\"\n[maintainers]\nowners = [\"@acme/registry-admins\"]\n[trust]\nkeys = [\"{key}\"]\n"),
    );
    let run = registry.run(&["check", "--base", &with_maintainers]);
    run.expect_code(0);
    assert!(
        run.stderr().contains(&format!(
            "registry-data/registry.toml: warning: adds trust key {key}: needs the approval of the maintainers (@acme/registry-admins), which CODEOWNERS requires"
        )),
        "{}",
        run.stderr()
    );
}
