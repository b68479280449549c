//! `build` in a git checkout: the loader asks git what changed since the commit the last build
//! recorded and takes every other expert directory from the build cache. These tests run the
//! real `git` in temporary repositories and show that the result is what a full walk gives,
//! that write-once still sees deletions and renames, and that anything git cannot vouch for
//! (a rewritten history, no git at all) falls back to the full walk.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{
    Run, TestRegistry, age_files, commit_all, copy_tree, git, tree, tree_without_state,
    version_file,
};
use perstack_registry::common::diagnostic::Severity;
use perstack_registry::data::load::{self, LoadedRegistry};

/// A valid registry in a fresh git repository, committed, with one build made from it.
fn built_checkout() -> TestRegistry {
    let registry = TestRegistry::valid();
    registry.version("solo", "1.0.0", "");
    age_files(&registry);
    git(registry.root(), &["init", "-q"]);
    fs::write(registry.root().join(".gitignore"), "/dist/\n*.bak\n").unwrap();
    commit_all(registry.root(), "registry");
    run(&registry, &["build", "--quiet"], true).expect_code(0);
    registry
}

/// Runs the binary in the registry's root with git's configuration isolated from the
/// machine's, and with no `git` on `PATH` unless `with_git`. No Watchman answers it: its
/// socket is a path where none listens.
fn run(registry: &TestRegistry, args: &[&str], with_git: bool) -> Run {
    run_watched(
        registry,
        args,
        with_git,
        &registry.root().join("no-watchman"),
    )
}

/// [`run`], asking the Watchman that listens on `socket`.
fn run_watched(registry: &TestRegistry, args: &[&str], with_git: bool, socket: &Path) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_perstack-registry"));
    command
        .args(args)
        .current_dir(registry.root())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("WATCHMAN_SOCK", socket)
        .env_remove("RUST_BACKTRACE");
    if !with_git {
        // Watchman stays reachable (its path is absolute below), git does not.
        let no_git = registry.root().join("no-git");
        fs::create_dir_all(&no_git).unwrap();
        if let Some(watchman) = find_on_path("watchman") {
            let link = no_git.join("watchman");
            if !link.exists() {
                std::os::unix::fs::symlink(watchman, link).unwrap();
            }
        }
        command.env("PATH", &no_git);
    }
    Run {
        output: command.output().expect("run perstack-registry"),
    }
}

fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// Builds into a copy of the output as it was before the build under test, without the cache,
/// and asserts both outputs are byte-identical.
fn assert_same_as_full_build(registry: &TestRegistry, before: &Path) {
    let full = registry.root().join("full");
    copy_tree(before, &full);
    run(
        registry,
        &["build", "--quiet", "--no-cache", "--out", "full"],
        true,
    )
    .expect_code(0);
    assert_eq!(tree(&registry.out()), tree(&full));
    fs::remove_dir_all(&full).unwrap();
}

/// A copy of the current output, to build a full build beside the next incremental one.
fn snapshot_out(registry: &TestRegistry) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&registry.out(), copy.path());
    copy
}

/// Edits a committed version file behind git's back: git is told the file is unchanged
/// (`--assume-unchanged`), so only a build that reads the file itself sees the edit. A build
/// that trusts git takes the file from its cache; one that walks the directory finds a
/// published version changed and refuses it. (A website page rendered again reads its
/// definition and would stop the build too, so these builds are `--no-site`.)
fn edit_behind_gits_back(registry: &TestRegistry, relative: &str) {
    git(
        registry.root(),
        &[
            "update-index",
            "--assume-unchanged",
            &format!("registry-data/{relative}"),
        ],
    );
    let path = registry.data().join(relative);
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str("# edited\n");
    fs::write(path, text).unwrap();
}

/// Asserts a build read the file [`edit_behind_gits_back`] edited, and so refused it.
fn expect_edit_refused(walked: &Run) {
    walked.expect_code(1);
    assert!(
        walked
            .stderr()
            .contains("version solo@1.0.0 was published with BLAKE3"),
        "{}",
        walked.stderr()
    );
}

#[test]
fn a_published_version_found_through_git_builds_what_a_full_build_does() {
    let registry = built_checkout();
    let before = snapshot_out(&registry);
    registry.version("solo", "1.1.0", "");
    commit_all(registry.root(), "solo 1.1.0");
    run(&registry, &["build", "--quiet"], true).expect_code(0);
    assert!(
        registry
            .out()
            .join("api/registry/v1/experts/solo@1.1.0")
            .exists()
    );
    assert_same_as_full_build(&registry, before.path());
}

#[test]
fn unchanged_directories_are_taken_from_the_cache_and_without_git_everything_is_walked() {
    let registry = built_checkout();
    edit_behind_gits_back(&registry, "solo/1.0.0.toml");
    // Without the website, so that only the loader decides whether the edit is read.
    let trusted = run(&registry, &["build", "--no-site"], true);
    trusted.expect_code(0);
    let walked = run(&registry, &["build", "--no-site"], false);
    expect_edit_refused(&walked);
}

#[test]
fn a_renamed_or_deleted_version_file_is_still_refused() {
    let registry = built_checkout();
    let root = registry.root();
    git(
        root,
        &[
            "mv",
            "registry-data/solo/1.0.0.toml",
            "registry-data/solo/1.0.1.toml",
        ],
    );
    registry.file("solo/1.0.1.toml", version_file("solo", "1.0.1", ""));
    commit_all(root, "rename solo 1.0.0 to 1.0.1");
    let renamed = run(&registry, &["build"], true);
    renamed.expect_code(1);
    assert!(
        renamed
            .stderr()
            .contains("version solo@1.0.0 was published and cannot be removed"),
        "{}",
        renamed.stderr()
    );

    git(root, &["revert", "--no-edit", "HEAD"]);
    run(&registry, &["build", "--quiet"], true).expect_code(0);
    git(
        root,
        &["rm", "-q", "registry-data/@acme/researcher/1.0.0.toml"],
    );
    registry.file("@acme/researcher/expert.toml", "");
    commit_all(root, "delete researcher 1.0.0");
    let deleted = run(&registry, &["build"], true);
    deleted.expect_code(1);
    assert!(
        deleted
            .stderr()
            .contains("version @acme/researcher@1.0.0 was published and cannot be removed"),
        "{}",
        deleted.stderr()
    );
}

#[test]
fn a_rewritten_history_falls_back_to_the_full_walk() {
    let registry = built_checkout();
    let root = registry.root();
    // The recorded commit is amended: the new HEAD does not descend from it.
    let before = snapshot_out(&registry);
    registry.version("solo", "1.1.0", "");
    age_files(&registry);
    git(root, &["add", "-A"]);
    git(
        root,
        &["commit", "-q", "--amend", "-m", "registry, with solo 1.1.0"],
    );
    run(&registry, &["build", "--quiet"], true).expect_code(0);
    assert_same_as_full_build(&registry, before.path());

    // An unrelated root with the same files: git's diff against the recorded commit would
    // say nothing changed, but it is not an ancestor, so every file is read again.
    git(root, &["checkout", "-q", "--orphan", "other"]);
    commit_all(root, "unrelated root");
    edit_behind_gits_back(&registry, "solo/1.0.0.toml");
    let walked = run(&registry, &["build", "--no-site"], true);
    expect_edit_refused(&walked);
}

#[test]
fn uncommitted_untracked_and_ignored_files_are_seen() {
    let registry = built_checkout();
    let before = snapshot_out(&registry);
    // Untracked: a new version never committed.
    registry.version("solo", "1.1.0", "");
    // Modified: a tag in an expert.toml the last build read.
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\nbeta = \"1.0.0\"\n",
    );
    run(&registry, &["build", "--quiet"], true).expect_code(0);
    assert_same_as_full_build(&registry, before.path());

    // Ignored by .gitignore, yet not part of the format: refused as the walk refuses it.
    registry.file("solo/notes.bak", "notes");
    let ignored = run(&registry, &["build"], true);
    ignored.expect_code(1);
    assert!(
        ignored.stderr().contains("notes.bak"),
        "{}",
        ignored.stderr()
    );
    registry.remove("solo/notes.bak");

    // Committing what the last build read while dirty changes nothing, and reverting the
    // untracked version after the commit is seen too.
    commit_all(registry.root(), "solo 1.1.0 and the beta tag");
    run(&registry, &["build", "--quiet"], true).expect_code(0);
    let before = snapshot_out(&registry);
    registry.version("solo", "1.2.0", "");
    run(&registry, &["build", "--quiet"], true).expect_code(0);
    assert_same_as_full_build(&registry, before.path());
}

/// What a load found, in a form two loads can be compared by: every expert with its versions'
/// records, its invalid versions and its metadata, and every error.
fn summary(loaded: &LoadedRegistry) -> (BTreeMap<String, String>, Vec<String>) {
    let experts = loaded
        .experts
        .iter()
        .map(|(name, expert)| {
            let versions: Vec<String> = expert
                .versions
                .iter()
                .map(|(version, loaded)| format!("{version} {:?}", loaded.record))
                .collect();
            let text = format!(
                "{:?} {versions:?} {:?} {:?}",
                expert.dir, expert.invalid_versions, expert.meta
            );
            (name.as_str().to_owned(), text)
        })
        .collect();
    let mut errors: Vec<String> = loaded
        .problems
        .iter()
        .filter(|problem| problem.severity == Severity::Error)
        .map(|problem| {
            format!(
                "{} {} {}",
                problem.code,
                problem.file.display(),
                problem.message
            )
        })
        .collect();
    errors.sort();
    (experts, errors)
}

#[test]
fn the_loader_through_git_loads_what_the_full_walk_loads_after_each_edit() {
    let registry = built_checkout();
    let root = registry.root();
    let cache = registry.out().join(".perstack-build/cache.bin");
    let data = Path::new("registry-data");
    // Paths as the build names them, relative to the working directory.
    std::env::set_current_dir(root).unwrap();
    let compare = |step: &str| {
        let (through_git, cache) = load::load_with_cache(data, Some(&cache), &|_, _| {}).unwrap();
        assert!(
            cache.and_then(|cache| cache.next_git).is_some(),
            "git was not asked"
        );
        let walked = load::load(data).unwrap();
        assert_eq!(summary(&through_git), summary(&walked), "after: {step}");
    };
    compare("nothing");
    registry.version("solo", "1.1.0", "");
    compare("an untracked version");
    commit_all(root, "solo 1.1.0");
    compare("committing it");
    registry.version("@acme/fresh", "0.1.0", "");
    compare("a new expert in a scope");
    registry.file("@acme/README.md", "scope notes");
    compare("a stray file in a scope directory");
    registry.file("solo/notes.txt", "notes");
    compare("a stray file in an expert directory");
    registry.file("solo/deeper/1.0.0.toml", "");
    compare("a directory in an expert directory");
    registry.symlink("solo/2.0.0.toml", "1.0.0.toml");
    compare("a symbolic link");
    registry.version("Bad_Name", "1.0.0", "");
    compare("an expert directory with an invalid name");
    registry.file("solo/1.0.0.toml", "not = [toml");
    compare("a version file broken");
    registry.remove("solo/1.0.0.toml");
    compare("a version file deleted");
    registry.file("tic-tac-toe/expert.toml", "[tags]\nstable = \"9.9.9\"\n");
    compare("a tag to a version that does not exist");
    registry.file("registry.toml", "[limits]\nmax-version-bytes = 10\n");
    compare("a size limit every version file breaks");
    commit_all(root, "everything");
    compare("committing everything");
    git(root, &["rm", "-q", "-r", "registry-data/@acme/researcher"]);
    compare("an expert removed");
}

/// Whether a build returned the last one's result because git or Watchman showed nothing
/// changed.
fn took_shortcut(run: &Run) -> bool {
    run.stderr()
        .contains("shows nothing changed since the last build; --no-cache rebuilds anyway")
}

/// Builds (not quietly, to read its summary) and asserts whether it took the shortcut.
fn build_expecting(registry: &TestRegistry, args: &[&str], with_git: bool, shortcut: bool) {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let built = run(registry, &all, with_git);
    built.expect_code(0);
    assert_eq!(took_shortcut(&built), shortcut, "{}", built.stderr());
}

#[test]
fn a_rebuild_that_git_shows_nothing_changed_for_returns_the_last_build_untouched() {
    let registry = built_checkout();
    let before = tree(&registry.out());
    build_expecting(&registry, &[], true, true);
    assert_eq!(tree(&registry.out()), before);
    let plan = run(&registry, &["plan", "--format", "json"], true);
    plan.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout()).unwrap();
    assert_eq!(
        plan["files"],
        serde_json::json!([]),
        "a deploy has nothing to upload"
    );
    assert_eq!(plan["serial"], 1);

    // A commit that touches nothing below the data directory changes nothing either.
    fs::write(registry.root().join("NOTES.md"), "notes\n").unwrap();
    commit_all(registry.root(), "notes");
    build_expecting(&registry, &[], true, true);
    assert_eq!(tree(&registry.out()), before);
}

#[test]
fn anything_git_the_options_or_the_output_show_changed_makes_a_full_build() {
    let registry = built_checkout();

    // A committed new version.
    // (Every new file is aged: one modified in the seconds before a build is read again by
    // the next whatever git says, and so is never skipped.)
    registry.version("solo", "1.1.0", "");
    age_files(&registry);
    commit_all(registry.root(), "solo 1.1.0");
    build_expecting(&registry, &[], true, false);
    assert!(
        registry
            .out()
            .join("api/registry/v1/experts/solo@1.1.0")
            .exists()
    );
    build_expecting(&registry, &[], true, true);

    // An untracked version file: built, and the build it made is not one to skip to, since
    // what it read is not a commit.
    registry.version("solo", "1.2.0", "");
    age_files(&registry);
    build_expecting(&registry, &[], true, false);
    assert!(
        registry
            .out()
            .join("api/registry/v1/experts/solo@1.2.0")
            .exists()
    );
    commit_all(registry.root(), "solo 1.2.0");
    build_expecting(&registry, &[], true, false);
    build_expecting(&registry, &[], true, true);

    // Other options.
    build_expecting(&registry, &["--no-site"], true, false);
    build_expecting(&registry, &["--no-site"], true, true);
    build_expecting(&registry, &[], true, false);
    build_expecting(&registry, &["--no-cache"], true, false);
    build_expecting(&registry, &[], true, false);

    // A root that is not the one the last build wrote: something else wrote the output.
    let root = registry.out().join("v1/root.json");
    let mut bytes = fs::read(&root).unwrap();
    bytes.push(b'\n');
    fs::write(&root, &bytes).unwrap();
    build_expecting(&registry, &[], true, false);
    build_expecting(&registry, &[], true, true);

    // A build killed while writing: the next one completes its work.
    fs::write(registry.out().join(".perstack-build/writing"), "").unwrap();
    build_expecting(&registry, &[], true, false);
    build_expecting(&registry, &[], true, true);

    // Without git, nothing vouches for the data.
    build_expecting(&registry, &[], false, false);
}

#[test]
fn a_build_with_warnings_is_never_skipped_so_they_are_shown_again() {
    let registry = built_checkout();
    registry.version("solo", "1.1.0", "unknownField = 1\n");
    age_files(&registry);
    commit_all(registry.root(), "solo 1.1.0 with a field Perstack ignores");
    for _ in 0..2 {
        let built = run(&registry, &["build"], true);
        built.expect_code(0);
        assert!(!took_shortcut(&built), "{}", built.stderr());
        assert!(
            built.stderr().contains("unknownField"),
            "{}",
            built.stderr()
        );
    }
}

/// A Watchman daemon of the test's own, listening on a socket in a temporary directory, so
/// neither the machine's daemon nor another test's is asked. Stopped when dropped.
struct Watchman {
    dir: tempfile::TempDir,
    daemon: std::process::Child,
}

impl Watchman {
    const NEEDS: &str = "needs watchman (Debian's package): bash .ci/run installs it";

    /// Starts a daemon and waits until it answers.
    fn start() -> Watchman {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Command::new("watchman")
            .arg("--foreground")
            .arg("--no-save-state")
            .arg(format!("--sockname={}", dir.path().join("sock").display()))
            .arg(format!("--logfile={}", dir.path().join("log").display()))
            .arg(format!("--pidfile={}", dir.path().join("pid").display()))
            .arg(format!(
                "--statefile={}",
                dir.path().join("state").display()
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(Watchman::NEEDS);
        let watchman = Watchman { dir, daemon };
        for _ in 0..200 {
            if watchman.try_command(&["get-pid"]).is_some() {
                return watchman;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("watchman did not answer on {}", watchman.socket().display());
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("sock")
    }

    fn try_command(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("watchman")
            .args(["--no-spawn", "--no-local", "--sockname"])
            .arg(self.socket())
            .args(args)
            .output()
            .expect(Watchman::NEEDS);
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn command(&self, args: &[&str]) -> String {
        self.try_command(args)
            .unwrap_or_else(|| panic!("watchman {args:?} failed"))
    }

    /// Watches the registry's repository, as its documentation says to.
    fn watch(&self, registry: &TestRegistry) {
        let root = registry.root().to_str().unwrap();
        self.command(&["watch-project", root]);
    }
}

impl Drop for Watchman {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Builds asking `watchman` (git only `with_git`), asserts whether it took the shortcut and
/// returns the run.
#[track_caller]
fn watched_build(
    registry: &TestRegistry,
    watchman: &Watchman,
    with_git: bool,
    shortcut: bool,
) -> Run {
    let built = run_watched(
        registry,
        &["build", "--no-site"],
        with_git,
        &watchman.socket(),
    );
    assert_eq!(took_shortcut(&built), shortcut, "{}", built.stderr());
    built
}

#[test]
#[ignore = "needs watchman: bash .ci/run installs it and runs ignored tests"]
fn with_watchman_the_shortcut_needs_no_git_and_still_sees_what_git_does_not() {
    let registry = built_checkout();
    let watchman = Watchman::start();
    watchman.watch(&registry);
    run(&registry, &["build", "--quiet", "--no-site"], true).expect_code(0);

    // The record holds no clock yet: git vouches for the data, and the shortcut records one.
    watched_build(&registry, &watchman, true, true).expect_code(0);
    // Now Watchman alone does: without git on PATH, the shortcut is still taken.
    let before = tree(&registry.out());
    watched_build(&registry, &watchman, false, true).expect_code(0);
    watched_build(&registry, &watchman, false, true).expect_code(0);
    assert_eq!(tree(&registry.out()), before);

    // A published version edited where git does not look: git would vouch for it, but
    // Watchman saw it, so the build is not skipped; it reads the file and refuses the change.
    // (With git on PATH, the full build's loader would ask git alone and take the file from
    // its cache, as it does without Watchman.)
    edit_behind_gits_back(&registry, "solo/1.0.0.toml");
    expect_edit_refused(&watched_build(&registry, &watchman, false, false));

    // Put back as it was and known to git again: still a change to Watchman, so a build
    // looks; the next one is skipped again.
    let edited = "registry-data/solo/1.0.0.toml";
    git(
        registry.root(),
        &["update-index", "--no-assume-unchanged", edited],
    );
    git(registry.root(), &["checkout", "--", edited]);
    age_files(&registry);
    watched_build(&registry, &watchman, true, false).expect_code(0);
    watched_build(&registry, &watchman, false, true).expect_code(0);

    // An untracked version and an ignored file are changes too.
    registry.version("solo", "1.1.0", "");
    age_files(&registry);
    watched_build(&registry, &watchman, false, false).expect_code(0);
    assert!(
        registry
            .out()
            .join("api/registry/v1/experts/solo@1.1.0")
            .exists()
    );
    commit_all(registry.root(), "solo 1.1.0");
    watched_build(&registry, &watchman, true, false).expect_code(0);
    watched_build(&registry, &watchman, false, true).expect_code(0);
    registry.file("solo/notes.bak", "notes");
    let ignored = watched_build(&registry, &watchman, false, false);
    ignored.expect_code(1);
    assert!(
        ignored.stderr().contains("notes.bak"),
        "{}",
        ignored.stderr()
    );
}

#[test]
#[ignore = "needs watchman: bash .ci/run installs it and runs ignored tests"]
fn a_restarted_or_recrawled_watchman_is_not_trusted_and_git_is_asked_again() {
    let registry = built_checkout();
    let watchman = Watchman::start();
    watchman.watch(&registry);
    run(&registry, &["build", "--quiet", "--no-site"], true).expect_code(0);
    watched_build(&registry, &watchman, true, true).expect_code(0);
    watched_build(&registry, &watchman, false, true).expect_code(0);

    // Stopped: a change made meanwhile is seen by no daemon. The next daemon's clocks are not
    // the recorded one's, so the build asks git, which sees the edit.
    drop(watchman);
    let path = registry.data().join("solo/1.0.0.toml");
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str("# edited while no daemon watched\n");
    fs::write(&path, text).unwrap();
    let watchman = Watchman::start();
    watchman.watch(&registry);
    watched_build(&registry, &watchman, false, false).expect_code(1);
    expect_edit_refused(&watched_build(&registry, &watchman, true, false));

    // Put back: git vouches again and the shortcut records the new daemon's clock.
    git(
        registry.root(),
        &["checkout", "--", "registry-data/solo/1.0.0.toml"],
    );
    age_files(&registry);
    watched_build(&registry, &watchman, true, false).expect_code(0);
    watched_build(&registry, &watchman, true, true).expect_code(0);
    watched_build(&registry, &watchman, false, true).expect_code(0);

    // A recrawl (what Watchman does after inotify dropped events) puts a warning in every
    // answer: Watchman is not trusted then, and without git nothing vouches for the data.
    let root = registry.root().to_str().unwrap();
    watchman.command(&["debug-recrawl", root]);
    watched_build(&registry, &watchman, false, false).expect_code(0);
    // That build had no git to vouch for it, so it left no record: git does again.
    watched_build(&registry, &watchman, true, false).expect_code(0);
    watched_build(&registry, &watchman, true, true).expect_code(0);
}

#[test]
#[ignore = "needs watchman: bash .ci/run installs it and runs ignored tests"]
fn a_watch_told_to_ignore_part_of_the_data_is_not_asked() {
    let registry = built_checkout();
    fs::write(
        registry.root().join(".watchmanconfig"),
        r#"{"ignore_dirs": ["registry-data/solo"]}"#,
    )
    .unwrap();
    commit_all(registry.root(), "watchman config");
    let watchman = Watchman::start();
    watchman.watch(&registry);
    run(&registry, &["build", "--quiet", "--no-site"], true).expect_code(0);
    // Git vouches, and the shortcut is taken; Watchman alone never is, since it would not
    // report an edit of solo's files.
    watched_build(&registry, &watchman, true, true).expect_code(0);
    watched_build(&registry, &watchman, false, false).expect_code(0);
}

#[test]
#[ignore = "needs watchman: bash .ci/run installs it and runs ignored tests"]
fn with_watchman_a_change_git_is_told_nothing_of_is_still_published() {
    let registry = built_checkout();
    let watchman = Watchman::start();
    watchman.watch(&registry);
    run(&registry, &["build", "--quiet", "--no-site"], true).expect_code(0);
    watched_build(&registry, &watchman, true, true).expect_code(0);

    // A tag added in a file git is told is unchanged: git alone would show nothing changed.
    let meta = "registry-data/tic-tac-toe/expert.toml";
    git(
        registry.root(),
        &["update-index", "--assume-unchanged", meta],
    );
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\nbeta = \"1.0.0\"\n",
    );
    age_files(&registry);
    watched_build(&registry, &watchman, true, false).expect_code(0);
    let readable = fs::read_to_string(registry.out().join("v1/experts/tic-tac-toe.json")).unwrap();
    assert!(readable.contains("\"beta\""), "{readable}");
}

#[test]
#[ignore = "needs watchman: bash .ci/run installs it and runs ignored tests"]
fn with_watchman_a_publish_reads_only_the_changed_expert_and_never_runs_git_status() {
    let registry = built_checkout();
    let watchman = Watchman::start();
    watchman.watch(&registry);
    run(&registry, &["build", "--quiet", "--no-site"], true).expect_code(0);
    watched_build(&registry, &watchman, true, true).expect_code(0);

    // git, through a wrapper that writes down each command it is asked.
    let wrapper = registry.root().join("logged-git");
    fs::create_dir_all(&wrapper).unwrap();
    let log = registry.root().join("git-commands.log");
    let real_git = find_on_path("git").expect("git on PATH");
    let script = wrapper.join("git");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real_git.display()
        ),
    )
    .unwrap();
    let mut permissions = fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(&script, permissions).unwrap();
    let path = format!(
        "{}:{}",
        wrapper.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let build = |args: &[&str]| Run {
        output: Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
            .args(args)
            .current_dir(registry.root())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("WATCHMAN_SOCK", watchman.socket())
            .env("PATH", &path)
            .output()
            .expect("run perstack-registry"),
    };

    let before = snapshot_out(&registry);
    registry.version("solo", "1.1.0", "");
    commit_all(registry.root(), "solo 1.1.0");
    let _ = fs::remove_file(&log);
    let built = build(&["build", "--no-site"]);
    built.expect_code(0);
    assert!(
        built
            .stderr()
            .contains("read only the 1 expert(s) git shows changed"),
        "{}",
        built.stderr()
    );
    let asked = fs::read_to_string(&log).unwrap();
    assert!(!asked.lines().any(|command| command == "status"), "{asked}");

    // What a full build from the same previous output writes.
    let full = registry.root().join("full");
    copy_tree(before.path(), &full);
    build(&[
        "build",
        "--quiet",
        "--no-site",
        "--no-cache",
        "--out",
        "full",
    ])
    .expect_code(0);
    assert_eq!(
        tree_without_state(&registry.out()),
        tree_without_state(&full)
    );
    fs::remove_dir_all(&full).unwrap();

    // That build matched a commit: the next one, with nothing changed, is the shortcut.
    watched_build(&registry, &watchman, false, true).expect_code(0);
}
