//! The `perstack-registry` command: parses the arguments, runs the command (`cli`), and maps
//! the one error type a command returns to the exit status README "Commands" documents.

/// mimalloc instead of the system allocator: parsing every definition and rendering its
/// documents is allocation-heavy, and the system allocator is slow at it (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::CliError;
use crate::cli::args::Cli;
use perstack_registry::common::diagnostic::ErrorClass;

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Says why the command failed and picks the exit status: 0 when only the reader of stdout
/// stopped early (as `head` does), 1 when the data is at fault (invalid data, a refused change
/// or registry, a key that does not resolve), 2 for a usage mistake or an I/O, git or network
/// failure.
fn fail(err: &CliError) -> ExitCode {
    if err.is_broken_pipe() {
        return ExitCode::SUCCESS;
    }
    for message in err.messages() {
        eprintln!("error: {}", cli::printer::terminal_safe(&message));
    }
    match err.class() {
        ErrorClass::Data => ExitCode::from(1),
        ErrorClass::Environment => ExitCode::from(2),
    }
}
