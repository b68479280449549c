//! The `perstack-registry` command: parses arguments, runs the library, prints, and maps the
//! outcome to an exit status (0 success, 1 invalid data or refused change, 2 usage or I/O).

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use perstack_registry::build::{self, BuildOptions, BuildOutcome};
use perstack_registry::cli::{
    BuildArgs, CheckArgs, Cli, CodeownersArgs, Command, InitArgs, PlanArgs, PlanFormat,
    PublishArgs, ReportFormat, StatusArgs, TagArgs, UntagArgs,
};
use perstack_registry::codeowners;
use perstack_registry::diagnostic::{Diagnostics, Severity};
use perstack_registry::edit::{self, MetaChange};
use perstack_registry::init;
use perstack_registry::model::Status;
use perstack_registry::outcome::CommandError;
use perstack_registry::plan::Plan;
use perstack_registry::printer::Format;
use perstack_registry::printer::{self, TerminalProgress};
use perstack_registry::publish::{self, PublishOptions, Selection};
use perstack_registry::review;

const INVALID: u8 = 1;
const FAILURE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check(args),
        Command::Build(args) => run_build(args),
        Command::Publish(args) => run_publish(args),
        Command::Init(args) => run_init(args),
        Command::Plan(args) => print_plan(args),
        Command::Codeowners(args) => run_codeowners(args),
        Command::Tag(args) => tag(args),
        Command::Untag(args) => untag(args),
        Command::Deprecate(args) => set_status(args, Status::Deprecated),
        Command::Disable(args) => set_status(args, Status::Disabled),
    }
}

fn run_publish(args: PublishArgs) -> ExitCode {
    let selection = if args.all {
        Selection::All
    } else if args.experts.is_empty() {
        Selection::Only
    } else {
        Selection::Named(args.experts.clone())
    };
    let options = PublishOptions {
        source: args.source.clone(),
        data_dir: args.data.data.clone(),
        selection,
        dry_run: args.dry_run,
    };
    let report = match publish::publish(&options) {
        Ok(report) => report,
        Err(err) => {
            let format = match args.format {
                ReportFormat::Json => Format::Json,
                ReportFormat::Human => Format::Human,
            };
            return command_failure(err, format);
        }
    };
    printer::print_diagnostics(&sorted(report.warnings.clone()), Format::Human, args.quiet);
    if !report.dropped.is_empty() {
        printer::status(
            args.quiet,
            &format!(
                "note: left out of the published definitions (run settings, not part of an expert): {}",
                report.dropped.join(", ")
            ),
        );
    }
    match args.format {
        ReportFormat::Json => printer::print_json(&report),
        ReportFormat::Human => printer::print_published(&report),
    }
    let verb = if report.dry_run {
        "dry run: would publish"
    } else {
        "published"
    };
    printer::status(
        args.quiet,
        &format!("{verb} {} version(s)", report.files.len()),
    );
    ExitCode::SUCCESS
}

fn run_init(args: InitArgs) -> ExitCode {
    match init::init(&args.dir, &args.name, args.deploy) {
        Ok(written) => {
            for path in written {
                printer::status(args.quiet, &format!("wrote {}", path.display()));
            }
            ExitCode::SUCCESS
        }
        Err(err) => command_failure(err, Format::Human),
    }
}

fn print_plan(args: PlanArgs) -> ExitCode {
    let plan = match Plan::read(&args.out) {
        Ok(plan) => plan,
        Err(err) => return failure(&err),
    };
    match args.format {
        PlanFormat::Json => printer::print_json(&plan),
        PlanFormat::Lines => printer::print_plan_lines(&plan),
    }
    ExitCode::SUCCESS
}

fn run_codeowners(args: CodeownersArgs) -> ExitCode {
    let report = match codeowners::codeowners(&args.data.data, &args.output, args.check) {
        Ok(report) => report,
        Err(err) => return command_failure(err, Format::Human),
    };
    let path = report.path.display();
    match (args.check, report.changed) {
        (true, true) => {
            eprintln!(
                "error: {path} does not match the [scopes] owners in registry.toml; run perstack-registry codeowners"
            );
            ExitCode::from(INVALID)
        }
        (true, false) => {
            printer::status(args.quiet, &format!("{path} is up to date"));
            ExitCode::SUCCESS
        }
        (false, changed) => {
            let verb = if changed { "wrote" } else { "unchanged:" };
            printer::status(
                args.quiet,
                &format!("{verb} {path} ({} scope(s))", report.scopes),
            );
            ExitCode::SUCCESS
        }
    }
}

fn tag(args: TagArgs) -> ExitCode {
    let change = edit::parse_name_at_version(&args.target).map(|(name, version)| {
        let change = MetaChange::Tag {
            tag: args.tag.clone(),
            version,
        };
        (name, change)
    });
    run_edit(&args.data.data, change, args.output.quiet)
}

fn untag(args: UntagArgs) -> ExitCode {
    let change = MetaChange::Untag {
        tag: args.tag,
        reason: args.reason,
    };
    run_edit(&args.data.data, Ok((args.name, change)), args.output.quiet)
}

fn set_status(args: StatusArgs, status: Status) -> ExitCode {
    let change = edit::parse_name_at_version(&args.target).map(|(name, version)| {
        let change = MetaChange::SetStatus {
            version,
            status,
            reason: args.reason.clone(),
        };
        (name, change)
    });
    run_edit(&args.data.data, change, args.output.quiet)
}

fn run_edit(
    data: &std::path::Path,
    change: Result<(String, MetaChange), CommandError>,
    quiet: bool,
) -> ExitCode {
    let result = change.and_then(|(name, change)| edit::apply(data, &name, &change));
    match result {
        Ok(report) => {
            printer::status(
                quiet,
                &format!("{}: {}", report.path.display(), report.summary),
            );
            ExitCode::SUCCESS
        }
        Err(err) => command_failure(err, Format::Human),
    }
}

/// Prints why a command failed (every problem, for invalid data) and picks the exit status.
fn command_failure(err: CommandError, format: Format) -> ExitCode {
    if let CommandError::Invalid(problems) = &err {
        printer::print_diagnostics(&sorted(problems.clone()), format, false);
        eprintln!("error: {err}; nothing was written");
    } else {
        eprintln!("error: {err}");
    }
    ExitCode::from(if err.is_about_data() {
        INVALID
    } else {
        FAILURE
    })
}

fn check(args: CheckArgs) -> ExitCode {
    if let Some(base) = &args.base {
        return check_base(&args, base);
    }
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

fn check_base(args: &CheckArgs, base: &str) -> ExitCode {
    let output = &args.output;
    let report = match review::review(&args.data.data, base) {
        Ok(report) => report,
        Err(err) => return command_failure(err, output.format),
    };
    let problems = sorted(report.problems);
    printer::print_review(&problems, &report.changes, output.format, output.quiet);
    let errors = problems
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        summarize_problems(
            &problems,
            &format!("the change since {base} to {}", args.data.data.display()),
        );
        return ExitCode::from(INVALID);
    }
    let (experts, versions) = report
        .registry
        .as_ref()
        .map_or((0, 0), |r| (r.experts.len(), r.version_count()));
    printer::status(
        output.quiet,
        &format!(
            "{} is valid and the change since {base} keeps what was published: {} change(s), {experts} experts, {versions} versions",
            args.data.data.display(),
            report.changes.len()
        ),
    );
    ExitCode::SUCCESS
}

fn run_build(args: BuildArgs) -> ExitCode {
    let started = Instant::now();
    let output = &args.output;
    let options = BuildOptions {
        data_dir: args.data.data.clone(),
        out_dir: args.out.clone(),
        previous: args.previous.clone(),
        use_cache: !args.no_cache,
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
