//! The benchmark scripts, run at a size CI affords: they must keep working, and their tables
//! must say what the figures in bench/RESULTS.md claim (the git rows take the no-change
//! shortcut and the changed-experts-only path). The figures themselves are never asserted:
//! timings belong in benchmarks, not tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_perstack-registry")
}

fn expect_success(what: &str, output: &Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// git with no user or system configuration.
fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "init.defaultBranch=main", "-c", "gc.auto=0"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .expect("run git");
    expect_success(&format!("git {args:?}"), &output);
}

/// The cells of the table rows `stdout` prints for `label`.
fn rows<'a>(stdout: &'a str, label: &str) -> Vec<Vec<&'a str>> {
    stdout
        .lines()
        .filter(|line| line.starts_with(&format!("| {label} |")))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect()
}

#[test]
#[ignore = "needs GNU time and b3sum; .ci/run installs them"]
fn the_build_benchmark_runs_at_a_small_size() {
    let temp = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(root().join("bench/run.sh"))
        .env("SIZES", "250")
        .env("PER_EXPERT", "5")
        .env("RUNS", "1")
        .env("BUILD_ARGS", "--no-site")
        .env("PERSTACK_REGISTRY_BIN", binary())
        .env("TMPDIR", temp.path())
        .output()
        .unwrap();
    let stdout = expect_success("bench/run.sh", &output);
    // Three tables: the timings, the input and peak memory, and the git rows.
    let tables = rows(&stdout, "250");
    assert_eq!(tables.len(), 3, "{stdout}");
    for row in &tables {
        for cell in &row[1..] {
            assert!(
                cell.parse::<f64>().is_ok(),
                "not a number: {cell:?} in {row:?}"
            );
        }
    }
    // The generated data was removed with the script's temporary directory.
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
}

#[test]
fn the_one_version_benchmark_sees_the_build_read_only_the_changed_expert() {
    let temp = tempfile::tempdir().unwrap();
    let checkout = temp.path().join("checkout");
    let generated = Command::new("python3")
        .arg(root().join("bench/gen-registry.py"))
        .arg(checkout.join("registry-data"))
        .args(["--versions", "250", "--per-expert", "5"])
        .output()
        .expect("run python3");
    expect_success("bench/gen-registry.py", &generated);
    git(&checkout, &["init", "-q"]);
    git(&checkout, &["add", "-A"]);
    git(&checkout, &["commit", "-q", "-m", "generated"]);
    let out = temp.path().join("out");
    // The generated files are seconds old: the first build does not trust their stamps and
    // records no commit, the second does.
    std::thread::sleep(std::time::Duration::from_secs(3));
    for _ in 0..2 {
        let built = Command::new(binary())
            .args(["build", "--quiet", "--no-site", "--data"])
            .arg(checkout.join("registry-data"))
            .arg("--out")
            .arg(&out)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        expect_success("build", &built);
    }
    let output = Command::new("bash")
        .arg(root().join("bench/one-version.sh"))
        .arg(&checkout)
        .arg(&out)
        .arg("2")
        .env("PERSTACK_REGISTRY_BIN", binary())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    let stdout = expect_success("bench/one-version.sh", &output);
    for run in ["1", "2"] {
        let row = &rows(&stdout, run)[0];
        assert_eq!(row.last(), Some(&"changed experts only"), "{stdout}");
        for cell in &row[1..5] {
            let number = cell.split_whitespace().next().unwrap();
            assert!(
                number.parse::<f64>().is_ok(),
                "not a number: {cell:?} in {row:?}"
            );
        }
    }
}
