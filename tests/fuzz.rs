//! Runs every cargo-fuzz target in `fuzz/` briefly, starting from its committed corpus, so a
//! change that makes a parser panic on an input the fuzzer already knows (or finds within
//! seconds) fails CI. The long campaigns are recorded in `fuzz/RESULTS.md`.
//!
//! The run writes nothing into the repository: new inputs go to a temporary corpus (the
//! committed one is only read, as libFuzzer reads every corpus directory after the first),
//! findings to a temporary artifact directory, and the build to `fuzz/target/` (ignored by git).

use std::path::{Path, PathBuf};
use std::process::Command;

/// How long each target runs. The corpus replay comes first and takes most of it.
const SECONDS_PER_TARGET: u32 = 20;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The targets `fuzz/Cargo.toml` declares, in its order.
fn targets() -> Vec<String> {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bin| bin["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks that `cargo +nightly fuzz` runs here, or says why not.
fn check_cargo_fuzz() -> Result<(), String> {
    let probe = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !probe.status.success() {
        return Err(format!(
            "`cargo +nightly fuzz` does not run ({}): install cargo-fuzz with `cargo install cargo-fuzz --locked` (bash .ci/run does)",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    Ok(())
}

#[test]
fn the_fuzz_manifest_declares_a_target_for_every_file_and_a_corpus_for_every_target() {
    let mut files: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            path.file_stem().unwrap().to_str().unwrap().to_owned()
        })
        .collect();
    files.sort();
    let mut declared = targets();
    declared.sort();
    assert_eq!(files, declared);
    for target in &declared {
        let corpus = fuzz_dir().join("corpus").join(target);
        let inputs = std::fs::read_dir(&corpus)
            .unwrap_or_else(|err| panic!("{}: {err}", corpus.display()))
            .count();
        assert!(inputs > 10, "{}: only {inputs} inputs", corpus.display());
    }
}

#[test]
#[ignore = "needs cargo-fuzz and the nightly toolchain: bash .ci/run installs cargo-fuzz and runs ignored tests"]
fn every_fuzz_target_runs_from_its_corpus_without_a_finding() {
    if let Err(why) = check_cargo_fuzz() {
        panic!("{why}");
    }
    let scratch = tempfile::tempdir().unwrap();
    for target in targets() {
        let new_inputs = scratch.path().join("corpus").join(&target);
        let artifacts = scratch.path().join("artifacts").join(&target);
        std::fs::create_dir_all(&new_inputs).unwrap();
        std::fs::create_dir_all(&artifacts).unwrap();
        let output = Command::new("cargo")
            // Without AddressSanitizer: the crate has no unsafe code, and what these short runs
            // look for is panics; the build takes far less time (the long campaigns in
            // fuzz/RESULTS.md use it).
            .args(["+nightly", "fuzz", "run", "--sanitizer", "none", &target])
            .arg(&new_inputs)
            .arg(fuzz_dir().join("corpus").join(&target))
            .arg("--")
            .arg(format!("-max_total_time={SECONDS_PER_TARGET}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-rss_limit_mb=2048")
            .arg("-timeout=10")
            .current_dir(fuzz_dir())
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&output.stderr);
        let findings: Vec<PathBuf> = std::fs::read_dir(&artifacts)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert!(
            output.status.success() && findings.is_empty(),
            "fuzz target {target} failed ({}); findings: {findings:?}\n{}",
            output.status,
            log.lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        // libFuzzer's closing line: "Done N runs in S second(s)".
        assert!(log.contains("Done "), "{target}: no summary\n{log}");
    }
}
