//! One function per command, each returning `Result<(), CliError>`. The work is the library's;
//! a command turns its arguments into the library's options, prints what comes back, and says
//! why it failed.

mod authoring;
mod build;
mod check;
mod client;
mod keygen;
mod serve;

use crate::cli::args::{CacheCommand, Cli, Command};
use crate::cli::error::CliError;
use crate::cli::printer::{self, Format};
use perstack_registry::authoring::outcome::CommandError;
use perstack_registry::common::diagnostic::{Diagnostic, Diagnostics};
use perstack_registry::common::model::Status;

/// Runs the command the arguments name.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Check(args) => check::check(args),
        Command::Build(args) => build::build(args),
        Command::Plan(args) => build::plan(args),
        Command::Publish(args) => authoring::publish(args),
        Command::Init(args) => authoring::init(args),
        Command::Codeowners(args) => authoring::codeowners(args),
        Command::Tag(args) => authoring::tag(args),
        Command::Untag(args) => authoring::untag(args),
        Command::Deprecate(args) => authoring::set_status(args, Status::Deprecated),
        Command::Disable(args) => authoring::set_status(args, Status::Disabled),
        Command::Keygen(args) => keygen::keygen(args),
        Command::Resolve(args) => client::resolve(args),
        Command::Fetch(args) => client::fetch(args),
        Command::Lock(args) => client::lock(args),
        Command::Mirror(args) => client::mirror(args),
        Command::Verify(args) => client::verify(args),
        Command::Cache(CacheCommand::Gc(args)) => client::cache_gc(args),
        Command::Serve(args) => serve::serve(args),
    }
}

/// Prints problems in report order; returns them in that order to be counted.
fn report_problems(
    problems: Vec<Diagnostic>,
    format: Format,
    quiet: bool,
) -> Result<Diagnostics, CliError> {
    let problems = Diagnostics::from(problems).sorted();
    printer::print_diagnostics(&problems, format, quiet)?;
    Ok(problems)
}

/// Why an authoring or review command failed; for invalid data, every problem is printed
/// first, and the message says that nothing was written.
fn command_error(err: CommandError, format: Format) -> CliError {
    if let CommandError::Invalid(problems) = &err {
        if let Err(printing) = report_problems(problems.clone(), format, false) {
            return printing;
        }
        return CliError::new(err.class(), format!("{err}; nothing was written"));
    }
    CliError::new(err.class(), err)
}
