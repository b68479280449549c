//! `build` writes the registry; `plan` prints the deploy plan the last build recorded.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use crate::cli::args::{BuildArgs, PlanArgs, PlanFormat};
use crate::cli::commands::report_problems;
use crate::cli::error::CliError;
use crate::cli::printer::{self, TerminalProgress};
use perstack_registry::build::plan::{self, Plan};
use perstack_registry::build::{self as library, BuildOptions, BuildOutcome};
use perstack_registry::common::fsutil::IoContext;

pub fn build(args: BuildArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let output = &args.output;
    let options = BuildOptions {
        data_dir: args.data.data.clone(),
        out_dir: args.out.clone(),
        previous: args.previous.clone(),
        use_cache: !args.no_cache,
        signing: args.signing.signing()?,
        site: !args.no_site,
    };
    let progress = TerminalProgress::new(output.quiet);
    let outcome = library::build(&options, &progress);
    progress.finish();
    match outcome? {
        BuildOutcome::Invalid(problems) => {
            let problems = report_problems(problems, output.format, output.quiet)?;
            Err(CliError::invalid(args.data.data.display(), &problems, true))
        }
        BuildOutcome::Refused(problems) => {
            let problems = report_problems(problems, output.format, output.quiet)?;
            Err(CliError::data(format!(
                "refused: {} change(s) to what was already published; nothing was written",
                problems.len()
            )))
        }
        BuildOutcome::Built(report) => {
            report_problems(report.warnings, output.format, output.quiet)?;
            let how = match report.read_changed_only {
                _ if report.unchanged => {
                    " (Watchman or git shows nothing changed since the last build; --no-cache rebuilds anyway)"
                        .to_owned()
                }
                Some(experts) => format!(
                    " (read only the {experts} expert(s) git shows changed since the last build; --no-cache reads everything)"
                ),
                None => String::new(),
            };
            printer::status(
                output.quiet,
                &format!(
                    "built {}: {} experts, {} versions, serial {}, {} files written in {:.2}s{how}",
                    args.out.display(),
                    report.experts,
                    report.versions,
                    report.serial,
                    report.files_written,
                    started.elapsed().as_secs_f64()
                ),
            );
            Ok(())
        }
    }
}

/// Streams the plan: a first build's lists every file of the registry.
pub fn plan(args: PlanArgs) -> Result<(), CliError> {
    match args.format {
        PlanFormat::Json => {
            // Read through once, so a plan this version cannot read is refused before anything
            // is printed; the file is then printed as it is (the build wrote it pretty).
            plan::read_each(&args.out, |_| Ok::<(), CliError>(()))?;
            print_file(&Plan::path(&args.out))?;
        }
        PlanFormat::Lines => {
            let mut lines = printer::Lines::new();
            plan::read_each(&args.out, |file| {
                Ok::<(), CliError>(lines.line(&file.path)?)
            })?;
            lines.finish()?;
        }
    }
    Ok(())
}

/// Prints a file's bytes on stdout as they are, streamed.
fn print_file(path: &Path) -> Result<(), CliError> {
    let mut file = std::fs::File::open(path).with_path("cannot read", path)?;
    let mut out = printer::Lines::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).with_path("cannot read", path)?;
        if read == 0 {
            break;
        }
        out.bytes(&buffer[..read])?;
    }
    Ok(out.finish()?)
}
