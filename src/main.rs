//! The `perstack-registry` command: parses arguments, runs the library, prints, and maps the
//! outcome to an exit status (0 success, 1 invalid data or refused change, 2 usage or I/O).

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use perstack_registry::build::{self, BuildOptions, BuildOutcome};
use perstack_registry::cli::{BuildArgs, CheckArgs, Cli, Command};
use perstack_registry::diagnostic::{Diagnostics, Severity};
use perstack_registry::printer::{self, TerminalProgress};

const INVALID: u8 = 1;
const FAILURE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check(args),
        Command::Build(args) => run_build(args),
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let output = &args.output;
    let (registry, problems) = match build::check(&args.data.data) {
        Ok(result) => result,
        Err(err) => return failure(&err),
    };
    let problems = sorted(problems);
    printer::print_diagnostics(&problems, output.format, output.quiet);
    match registry {
        Some(registry) => {
            printer::status(
                output.quiet,
                &format!(
                    "{} is valid: {} experts, {} versions",
                    args.data.data.display(),
                    registry.experts.len(),
                    registry.version_count()
                ),
            );
            ExitCode::SUCCESS
        }
        None => {
            summarize_problems(&problems, &args.data.data.display().to_string());
            ExitCode::from(INVALID)
        }
    }
}

fn run_build(args: BuildArgs) -> ExitCode {
    let started = Instant::now();
    let output = &args.output;
    let options = BuildOptions {
        data_dir: args.data.data.clone(),
        out_dir: args.out.clone(),
        previous: args.previous.clone(),
        use_cache: !args.no_cache,
        site: !args.no_site,
    };
    let progress = TerminalProgress::new(output.quiet);
    let outcome = build::build(&options, &progress);
    progress.finish();
    match outcome {
        Err(err) => failure(&err),
        Ok(BuildOutcome::Invalid(problems)) => {
            let problems = sorted(problems);
            printer::print_diagnostics(&problems, output.format, output.quiet);
            summarize_problems(&problems, &args.data.data.display().to_string());
            eprintln!("error: nothing was written");
            ExitCode::from(INVALID)
        }
        Ok(BuildOutcome::Refused(problems)) => {
            let problems = sorted(problems);
            printer::print_diagnostics(&problems, output.format, output.quiet);
            eprintln!(
                "error: refused: {} change(s) to what was already published; nothing was written",
                problems.len()
            );
            ExitCode::from(INVALID)
        }
        Ok(BuildOutcome::Built(report)) => {
            let warnings = sorted(report.warnings.clone());
            printer::print_diagnostics(&warnings, output.format, output.quiet);
            printer::status(
                output.quiet,
                &format!(
                    "built {}: {} experts, {} versions, serial {}, {} files written in {:.2}s",
                    args.out.display(),
                    report.experts,
                    report.versions,
                    report.serial,
                    report.written.len(),
                    started.elapsed().as_secs_f64()
                ),
            );
            ExitCode::SUCCESS
        }
    }
}

fn sorted(
    problems: Vec<perstack_registry::diagnostic::Diagnostic>,
) -> Vec<perstack_registry::diagnostic::Diagnostic> {
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(problems);
    diagnostics.sorted()
}

fn summarize_problems(problems: &[perstack_registry::diagnostic::Diagnostic], what: &str) {
    let errors = problems
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    eprintln!("error: {what} is invalid: {errors} error(s), {warnings} warning(s)");
}

fn failure(err: &dyn std::error::Error) -> ExitCode {
    eprintln!("error: {err}");
    ExitCode::from(FAILURE)
}
