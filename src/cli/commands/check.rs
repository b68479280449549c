//! `check`: validates registry-data/ and, with `--base`, reviews the change since a revision.

use crate::cli::args::CheckArgs;
use crate::cli::commands::{command_error, report_problems};
use crate::cli::error::CliError;
use crate::cli::printer;
use perstack_registry::authoring::review;
use perstack_registry::common::diagnostic::Diagnostics;

pub fn check(args: CheckArgs) -> Result<(), CliError> {
    if let Some(base) = &args.base {
        return check_base(&args, base);
    }
    let output = &args.output;
    let (registry, problems) = perstack_registry::data::check(&args.data.data)?;
    let problems = report_problems(problems, output.format, output.quiet)?;
    let Some(registry) = registry else {
        return Err(CliError::invalid(
            args.data.data.display(),
            &problems,
            false,
        ));
    };
    printer::status(
        output.quiet,
        &format!(
            "{} is valid: {} experts, {} versions",
            args.data.data.display(),
            registry.experts.len(),
            registry.version_count()
        ),
    );
    Ok(())
}

fn check_base(args: &CheckArgs, base: &str) -> Result<(), CliError> {
    let output = &args.output;
    let report =
        review::review(&args.data.data, base).map_err(|err| command_error(err, output.format))?;
    let problems = Diagnostics::from(report.problems).sorted();
    printer::print_review(&problems, &report.changes, output.format, output.quiet)?;
    if problems.has_errors() {
        let what = format!("the change since {base} to {}", args.data.data.display());
        return Err(CliError::invalid(what, &problems, false));
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
    Ok(())
}
