//! Test support: a builder for registries in temporary directories, and a runner for the real
//! `perstack-registry` binary.

#![allow(dead_code)] // each test crate uses a different part of this module

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub mod browser;
pub mod server;

/// A registry-data tree in a temporary directory.
pub struct TestRegistry {
    pub temp: TempDir,
}

impl TestRegistry {
    /// An empty registry-data directory.
    pub fn empty() -> TestRegistry {
        let temp = tempfile::tempdir().expect("temp dir");
        fs::create_dir(temp.path().join("registry-data")).unwrap();
        TestRegistry { temp }
    }

    /// A small valid registry: a scoped expert with two versions that delegates to an unscoped
    /// one, with a tag and a deprecated version.
    pub fn valid() -> TestRegistry {
        let registry = TestRegistry::empty();
        registry
            .version("@acme/searcher", "1.0.0", "")
            .version(
                "@acme/researcher",
                "1.0.0",
                "delegates = [\"@acme/searcher\"]\n",
            )
            .version(
                "@acme/researcher",
                "1.1.0",
                "delegates = [\"@acme/searcher@1.0.0\", \"tic-tac-toe@stable\"]\n",
            )
            .version("tic-tac-toe", "1.0.0", "")
            .file("tic-tac-toe/expert.toml", "[tags]\nstable = \"1.0.0\"\n")
            .file(
                "@acme/researcher/expert.toml",
                "[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"Use 1.1.0\"\n",
            );
        registry
    }

    pub fn root(&self) -> &Path {
        self.temp.path()
    }

    pub fn data(&self) -> PathBuf {
        self.root().join("registry-data")
    }

    pub fn out(&self) -> PathBuf {
        self.root().join("dist")
    }

    /// Writes a file below registry-data/.
    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> &TestRegistry {
        let path = self.data().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
        self
    }

    pub fn remove(&self, relative: &str) -> &TestRegistry {
        fs::remove_file(self.data().join(relative)).unwrap();
        self
    }

    /// Writes a valid version file; `extra` is appended inside the expert table.
    pub fn version(&self, name: &str, version: &str, extra: &str) -> &TestRegistry {
        self.file(
            &format!("{name}/{version}.toml"),
            version_file(name, version, extra),
        )
    }

    /// Runs the binary with the working directory at the temp root.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.root(), args)
    }
}

/// The text of a valid version file.
pub fn version_file(name: &str, version: &str, extra: &str) -> String {
    format!(
        "[experts.\"{name}\"]\nversion = \"{version}\"\ndescription = \"Test expert {name}\"\ninstruction = \"Do the work.\"\n{extra}"
    )
}

/// The result of one run of the binary.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().expect("exited normally")
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Runs the binary in `dir` with the crash-test hook set: it aborts in the middle of the
/// `after`th file it writes (half written, no destructor run, as under SIGKILL). Returns how it
/// ended: success if it finished before writing that many files.
pub fn run_until_crash(dir: &Path, args: &[&str], after: u64) -> std::process::ExitStatus {
    Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args(args)
        .current_dir(dir)
        .env("PERSTACK_REGISTRY_CRASH_AFTER", after.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run perstack-registry")
}

pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run perstack-registry");
    Run { output }
}

/// Every file of a built registry, as [`tree`] gives it, without the build's own state
/// (`.perstack-build/`: its cache, plan and records differ between equivalent builds).
pub fn tree_without_state(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = tree(dir);
    files.retain(|path, _| !path.starts_with(".perstack-build"));
    files
}

/// Sets every data file's modification time far in the past. A file modified in the seconds
/// before a build is read again by the next one whatever git says (its stamp is not trusted
/// yet), and keeps a build from recording its commit, which would hide whether a build
/// trusted git.
pub fn age_files(registry: &TestRegistry) {
    for entry in walkdir::WalkDir::new(registry.data()) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let status = Command::new("touch")
                .args(["-d", "2020-01-01T00:00:00Z"])
                .arg(entry.path())
                .status()
                .expect("run touch");
            assert!(status.success());
        }
    }
}

/// Every file below `dir` with its bytes, by relative path, skipping the build's own state.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let relative = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (relative, fs::read(e.path()).unwrap())
        })
        .filter(|(relative, _)| !relative.starts_with(".perstack-build"))
        .collect()
}

/// Copies a directory tree (files only; the registry has no links).
pub fn copy_tree(from: &Path, to: &Path) {
    for (relative, bytes) in tree(from) {
        let target = to.join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, bytes).unwrap();
    }
}

impl TestRegistry {
    /// Creates a directory (and its parents) below registry-data/.
    pub fn dir(&self, relative: &str) -> &TestRegistry {
        fs::create_dir_all(self.data().join(relative)).unwrap();
        self
    }

    /// Creates a symbolic link at `relative` (below registry-data/) pointing at `target`, which
    /// is written as given: relative targets resolve from the link's own directory.
    pub fn symlink(&self, relative: &str, target: impl AsRef<Path>) -> &TestRegistry {
        let path = self.data().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
        self
    }
}

/// Runs the real `git` in `dir` with a fixed identity and no user or system configuration, so
/// tests do not depend on the machine's git setup. Returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Commits everything in `dir` and returns the new commit's hash.
pub fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// The real perstack.toml files of Perstack's examples, copied from shared/perstack-examples
/// into tests/fixtures (with their LICENSE) so the tests read nothing outside the repository.
pub fn example_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/perstack-examples");
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no example in {}", dir.display());
    files
}

/// The bins a built registry's root reaches, read from `out` as a client would (by hash), top
/// bin first then depth first: (relative path, document).
pub fn bins(out: &Path) -> Vec<(String, serde_json::Value)> {
    fn walk(out: &Path, hash: &str, found: &mut Vec<(String, serde_json::Value)>) {
        let relative = format!("v1/bins/{hash}.json");
        let bytes = fs::read(out.join(&relative))
            .unwrap_or_else(|err| panic!("cannot read {relative}: {err}"));
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), hash, "{relative}");
        let bin: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        found.push((relative, bin.clone()));
        if let Some(children) = bin["bins"].as_object() {
            for child in children.values() {
                walk(out, child["blake3"].as_str().unwrap(), found);
            }
        }
    }
    let root: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("v1/root.json")).unwrap()).unwrap();
    let mut found = Vec::new();
    walk(out, root["bins"]["blake3"].as_str().unwrap(), &mut found);
    found
}

/// The experts a built registry's bins list: name -> (index document path, its size).
pub fn listed_experts(out: &Path) -> std::collections::BTreeMap<String, (String, u64)> {
    bins(out)
        .iter()
        .filter_map(|(_, bin)| bin["experts"].as_object())
        .flatten()
        .map(|(name, pointer)| {
            let path = format!("v1/index/{}.json", pointer["blake3"].as_str().unwrap());
            (name.clone(), (path, pointer["size"].as_u64().unwrap()))
        })
        .collect()
}
