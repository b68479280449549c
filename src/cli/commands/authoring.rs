//! The authoring commands: `publish`, `init`, `codeowners`, and the edits of expert.toml (`tag`,
//! `untag`, `deprecate`, `disable`).

use std::path::Path;

use crate::cli::args::{CodeownersArgs, InitArgs, PublishArgs, StatusArgs, TagArgs, UntagArgs};
use crate::cli::commands::{command_error, report_problems};
use crate::cli::error::CliError;
use crate::cli::printer::{self, Format, ReportFormat};
use perstack_registry::authoring::edit::{self, MetaChange};
use perstack_registry::authoring::outcome::CommandError;
use perstack_registry::authoring::publish::{self as library, PublishOptions, Selection};
use perstack_registry::authoring::{codeowners as owners, init as repository};
use perstack_registry::common::model::Status;

pub fn publish(args: PublishArgs) -> Result<(), CliError> {
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
    let report =
        library::publish(&options).map_err(|err| command_error(err, args.format.into()))?;
    report_problems(report.warnings.clone(), Format::Human, args.quiet)?;
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
        ReportFormat::Json => printer::print_json(&report)?,
        ReportFormat::Human => printer::print_published(&report)?,
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
    Ok(())
}

pub fn init(args: InitArgs) -> Result<(), CliError> {
    let written = repository::init(&args.dir, &args.name, args.deploy)
        .map_err(|err| command_error(err, Format::Human))?;
    for path in written {
        printer::status(args.quiet, &format!("wrote {}", path.display()));
    }
    Ok(())
}

pub fn codeowners(args: CodeownersArgs) -> Result<(), CliError> {
    let report = owners::codeowners(&args.data.data, &args.output, args.check)
        .map_err(|err| command_error(err, Format::Human))?;
    let path = report.path.display();
    match (args.check, report.changed) {
        (true, true) => {
            return Err(CliError::data(format!(
                "{path} does not match the [scopes] owners in registry.toml; run perstack-registry codeowners"
            )));
        }
        (true, false) => printer::status(args.quiet, &format!("{path} is up to date")),
        (false, changed) => {
            let verb = if changed { "wrote" } else { "unchanged:" };
            printer::status(
                args.quiet,
                &format!("{verb} {path} ({} scope(s))", report.scopes),
            );
        }
    }
    Ok(())
}

pub fn tag(args: TagArgs) -> Result<(), CliError> {
    let change = edit::parse_name_at_version(&args.target).map(|(name, version)| {
        let change = MetaChange::Tag {
            tag: args.tag.clone(),
            version,
        };
        (name, change)
    });
    apply(&args.data.data, change, args.output.quiet)
}

pub fn untag(args: UntagArgs) -> Result<(), CliError> {
    let change = MetaChange::Untag {
        tag: args.tag,
        reason: args.reason,
    };
    apply(&args.data.data, Ok((args.name, change)), args.output.quiet)
}

pub fn set_status(args: StatusArgs, status: Status) -> Result<(), CliError> {
    let change = edit::parse_name_at_version(&args.target).map(|(name, version)| {
        let change = MetaChange::SetStatus {
            version,
            status,
            reason: args.reason.clone(),
        };
        (name, change)
    });
    apply(&args.data.data, change, args.output.quiet)
}

/// Applies one change to an expert's expert.toml.
fn apply(
    data: &Path,
    change: Result<(String, MetaChange), CommandError>,
    quiet: bool,
) -> Result<(), CliError> {
    let report = change
        .and_then(|(name, change)| edit::apply(data, &name, &change))
        .map_err(|err| command_error(err, Format::Human))?;
    printer::status(
        quiet,
        &format!("{}: {}", report.path.display(), report.summary),
    );
    Ok(())
}
