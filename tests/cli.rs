//! The command line as a whole: what happens when stdout cannot take the result. A full disk
//! is a failure (exit 2, said on stderr); a reader that stopped early, as `head` does, is not.

mod common;

use std::process::{Command, Output, Stdio};

use common::TestRegistry;

/// The commands that print their result on stdout; the client commands read the registry
/// built in `dist`, named by `$PERSTACK_REGISTRY`.
const PRINTING_COMMANDS: [&[&str]; 6] = [
    &["plan"],
    &["plan", "--format", "json"],
    &["keygen"],
    &["keygen", "--format", "json"],
    &["resolve", "tic-tac-toe"],
    &["fetch", "tic-tac-toe@1.0.0"],
];

/// A built registry, for the commands that print from one.
fn built() -> TestRegistry {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    registry
}

/// Runs the binary in the registry's root with stdout going to `stdout`.
fn run_with_stdout(registry: &TestRegistry, args: &[&str], stdout: impl Into<Stdio>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args(args)
        .current_dir(registry.root())
        .env_remove("RUST_BACKTRACE")
        .env("PERSTACK_REGISTRY", "dist")
        .env("XDG_CACHE_HOME", registry.root().join("cache"))
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run perstack-registry")
}

#[test]
fn a_full_stdout_is_a_failure_said_on_stderr() {
    let registry = built();
    for args in PRINTING_COMMANDS {
        let dev_full = std::fs::File::create("/dev/full").expect("open /dev/full");
        let run = run_with_stdout(&registry, args, dev_full);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        let message = "error: cannot write to stdout: No space left on device (os error 28)\n";
        assert_eq!(stderr, message, "{args:?}");
    }
}

#[test]
fn a_reader_that_stopped_early_is_no_failure() {
    let registry = built();
    for args in PRINTING_COMMANDS {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let run = run_with_stdout(&registry, args, writer);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}
