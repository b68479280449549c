//! `build --no-site` in a git checkout after a publish: git names the changed expert
//! directories, and the build reads, checks and renders only those experts (and the experts
//! their delegates name), patching the published bins along their paths. These tests run the
//! real `git` and compare every output byte and the deploy plan with a full build's, and show
//! that anything another expert could see, or that git cannot vouch for, makes a full build.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Run, TestRegistry, age_files, commit_all, copy_tree, git, tree, tree_without_state};

/// Runs the binary in the registry's root with git's configuration isolated from the
/// machine's.
fn run(registry: &TestRegistry, args: &[&str]) -> Run {
    Run {
        output: Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
            .args(args)
            .current_dir(registry.root())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run perstack-registry"),
    }
}

/// A valid registry in a fresh git repository, committed, built once without the website.
fn built_checkout() -> TestRegistry {
    let registry = TestRegistry::valid();
    registry.version("solo", "1.0.0", "");
    age_files(&registry);
    git(registry.root(), &["init", "-q"]);
    fs::write(registry.root().join(".gitignore"), "/dist/\n/full/\n").unwrap();
    commit_all(registry.root(), "registry");
    run(&registry, &["build", "--no-site"]).expect_code(0);
    registry
}

/// How many experts a build said it read alone, if it read only the changed ones.
fn read_only(built: &Run) -> Option<usize> {
    let stderr = built.stderr();
    let (_, rest) = stderr.split_once("(read only the ")?;
    rest.split_once(' ')?.0.parse().ok()
}

/// Builds without the website, asserting it succeeded and whether it read only `expected`
/// changed experts (`None`: a full build).
fn build_reading(registry: &TestRegistry, expected: Option<usize>) {
    let built = run(registry, &["build", "--no-site"]);
    built.expect_code(0);
    assert_eq!(read_only(&built), expected, "{}", built.stderr());
}

/// Builds without the cache into a copy of the output as it was before (`before`), and asserts
/// the output and the deploy plan are byte for byte those of the build under test.
fn assert_same_as_full_build(registry: &TestRegistry, before: &Path) {
    let full = registry.root().join("full");
    copy_tree(before, &full);
    let built = run(
        registry,
        &["build", "--no-site", "--no-cache", "--out", "full"],
    );
    built.expect_code(0);
    assert_eq!(read_only(&built), None);
    assert_eq!(
        tree_without_state(&registry.out()),
        tree_without_state(&full)
    );
    let plan = |dir: &Path| fs::read(dir.join(".perstack-build/plan.json")).unwrap();
    assert_eq!(plan(&registry.out()), plan(&full));
    fs::remove_dir_all(&full).unwrap();
}

fn snapshot_out(registry: &TestRegistry) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&registry.out(), copy.path());
    copy
}

#[test]
fn publishes_read_only_the_changed_experts_and_build_what_a_full_build_does() {
    let registry = built_checkout();

    // A new version, and a new expert in a new scope whose delegate names an expert git did
    // not change (read so the delegate resolves).
    let before = snapshot_out(&registry);
    registry.version("solo", "1.1.0", "").version(
        "@newco/fresh",
        "0.1.0",
        "delegates = [\"tic-tac-toe@stable\"]\n",
    );
    commit_all(registry.root(), "publish");
    build_reading(&registry, Some(2));
    assert!(
        registry
            .out()
            .join("api/registry/v1/experts/@newco/fresh@0.1.0")
            .exists()
    );
    assert_same_as_full_build(&registry, before.path());

    // A tag that moves to a new version.
    let before = snapshot_out(&registry);
    registry
        .version("tic-tac-toe", "1.1.0", "")
        .file("tic-tac-toe/expert.toml", "[tags]\nstable = \"1.1.0\"\n");
    commit_all(registry.root(), "tic-tac-toe 1.1.0, stable");
    build_reading(&registry, Some(1));
    assert_same_as_full_build(&registry, before.path());

    // Nothing since: the no-change shortcut, not this path.
    let unchanged = run(&registry, &["build", "--no-site"]);
    unchanged.expect_code(0);
    assert!(unchanged.stderr().contains("git shows nothing changed"));
}

#[test]
fn a_version_not_committed_yet_is_read_and_the_next_build_walks_everything() {
    let registry = built_checkout();
    let before = snapshot_out(&registry);
    registry.version("solo", "1.1.0", "");
    build_reading(&registry, Some(1));
    assert_same_as_full_build(&registry, before.path());

    // The working tree did not match a commit, so nothing is recorded to start from.
    let before = snapshot_out(&registry);
    commit_all(registry.root(), "solo 1.1.0");
    build_reading(&registry, None);
    assert_same_as_full_build(&registry, before.path());
}

/// One edit of the registry under test.
type Change = &'static dyn Fn(&TestRegistry);

#[test]
fn what_another_expert_could_see_or_git_cannot_place_makes_a_full_build() {
    // Each change would be visible to other experts' delegates, or lies outside an expert
    // directory: the full build checks every expert.
    let changes: [(&str, Change); 4] = [
        ("a status change", &|registry| {
            registry.file(
                "solo/expert.toml",
                "[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"old\"\n",
            );
        }),
        ("a retired tag", &|registry| {
            registry.file(
                "tic-tac-toe/expert.toml",
                "[retired-tags]\nstable = \"no longer maintained\"\n",
            );
        }),
        ("registry.toml", &|registry| {
            registry.file("registry.toml", "# settings\n");
        }),
        ("a stray file in a scope", &|registry| {
            registry.file("@acme/README.md", "scope notes\n");
        }),
    ];
    for (what, change) in changes {
        let registry = built_checkout();
        change(&registry);
        registry.version("solo", "1.1.0", "");
        commit_all(registry.root(), what);
        let built = run(&registry, &["build", "--no-site"]);
        assert_eq!(read_only(&built), None, "{what}: {}", built.stderr());
    }

    // The website lists every expert, so a build that renders it reads them all.
    let registry = built_checkout();
    registry.version("solo", "1.1.0", "");
    commit_all(registry.root(), "solo 1.1.0");
    let built = run(&registry, &["build"]);
    built.expect_code(0);
    assert_eq!(read_only(&built), None, "{}", built.stderr());
}

#[test]
fn bad_input_is_reported_by_the_full_build_with_every_other_problem() {
    // A delegate that does not resolve, in a new version: the full build reports it.
    let registry = built_checkout();
    registry.version("solo", "1.1.0", "delegates = [\"nobody-here\"]\n");
    commit_all(registry.root(), "broken delegate");
    let built = run(&registry, &["build", "--no-site"]);
    built.expect_code(1);
    assert!(
        built.stderr().contains("solo/1.1.0.toml") && built.stderr().contains("nobody-here"),
        "{}",
        built.stderr()
    );

    // A published version removed: refused by the write-once rules, nothing written.
    let registry = built_checkout();
    let before = tree(&registry.out());
    registry
        .remove("solo/1.0.0.toml")
        .version("solo", "1.1.0", "");
    commit_all(registry.root(), "solo without 1.0.0");
    let refused = run(&registry, &["build", "--no-site"]);
    refused.expect_code(1);
    assert!(refused.stderr().contains("refused"), "{}", refused.stderr());
    assert_eq!(tree_without_state(&registry.out()), before);
}

#[test]
fn after_changed_only_builds_a_full_build_from_the_cache_still_sees_every_change() {
    // The build cache still describes the commit of the last full build; git's diff from there
    // covers what the builds since read alone.
    let registry = built_checkout();
    for version in ["1.1.0", "1.2.0"] {
        registry.version("solo", version, "");
        commit_all(registry.root(), version);
        build_reading(&registry, Some(1));
    }
    let before = snapshot_out(&registry);
    registry
        .version("@acme/searcher", "1.1.0", "")
        .file("registry.toml", "# settings\n");
    commit_all(registry.root(), "searcher 1.1.0 and settings");
    build_reading(&registry, None);
    assert_same_as_full_build(&registry, before.path());
}
