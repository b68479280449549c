//! The client commands, which read a built registry: `resolve`, `fetch`, `lock`, `mirror` and
//! `verify`, and `cache gc`, which empties the client cache of what nothing reaches.

use crate::cli::args::{
    CacheGcArgs, FetchArgs, LockArgs, MirrorArgs, RegistryArgs, ResolveArgs, VerifyArgs,
};
use crate::cli::commands::report_problems;
use crate::cli::error::CliError;
use crate::cli::printer::{self, ReportFormat, ResolveJson, TerminalProgress};
use perstack_registry::client::audit;
use perstack_registry::client::cache::{Client, ClientOptions};
use perstack_registry::client::gc::{self, GcOptions};
use perstack_registry::client::lockfile::{self, Lockfile};
use perstack_registry::client::mirror::{self as library, MirrorOptions};
use perstack_registry::client::resolve::{Request, Resolved};
use perstack_registry::common::fsutil;
use perstack_registry::common::model::Status;
use perstack_registry::common::transport::FetchError;

pub fn resolve(args: ResolveArgs) -> Result<(), CliError> {
    let (_, resolved) = open_and_resolve(&args.key, &args.registry)?;
    warn_if_deprecated(&resolved, args.output.quiet);
    match args.output.format {
        ReportFormat::Human => printer::print_lines([format!(
            "{} {} {}",
            resolved.key(),
            resolved.blake3,
            resolved.path
        )])?,
        ReportFormat::Json => printer::print_json(&ResolveJson::from(&resolved))?,
    }
    Ok(())
}

pub fn fetch(args: FetchArgs) -> Result<(), CliError> {
    let (client, resolved) = if args.locked {
        let pin = lockfile::pin(&args.lockfile, &args.key)?;
        let client = open_client(&args.registry)?;
        let resolved = pin.resolve(&client)?;
        (client, resolved)
    } else {
        open_and_resolve(&args.key, &args.registry)?
    };
    warn_if_deprecated(&resolved, args.quiet);
    let bytes = client.fetch(&resolved)?;
    match &args.output {
        Some(path) => fsutil::write_atomic(path, &bytes, false)?,
        None => printer::print_bytes(&bytes)?,
    }
    let (downloaded, cached) = client.counts();
    printer::status(
        args.quiet,
        &format!(
            "fetched {} (BLAKE3 {}): {downloaded} file(s) downloaded, {cached} from the cache {}",
            resolved.key(),
            resolved.blake3,
            client.cache_dir().display()
        ),
    );
    Ok(())
}

pub fn lock(args: LockArgs) -> Result<(), CliError> {
    let client = open_client(&args.registry)?;
    let lockfile = lockfile::lock(&client, &args.perstack_toml)?;
    let path = args.lockfile();
    lockfile.write(&path)?;
    printer::status(
        args.quiet,
        &format!(
            "locked {} registry expert version(s) in {}",
            lockfile.experts.len(),
            path.display()
        ),
    );
    Ok(())
}

pub fn mirror(args: MirrorArgs) -> Result<(), CliError> {
    let sign = args
        .signing
        .signing()?
        .map(|signing| (signing.keys, signing.expires_in_days));
    let options = MirrorOptions {
        source: args.source.clone(),
        dest: args.dest.clone(),
        scopes: args.scope.clone(),
        trust: args.trust.trust.clone(),
        sign,
        site: args.with_site,
    };
    let progress = TerminalProgress::new(args.output.quiet);
    let outcome = library::mirror(&options, &progress);
    progress.finish();
    let report = outcome?;
    match args.output.format {
        ReportFormat::Json => printer::print_json(&report)?,
        ReportFormat::Human => {
            let site = report
                .site_files
                .map_or_else(String::new, |files| format!("; {files} website file(s)"));
            let archive = report.archive.as_ref().map_or_else(String::new, |archive| {
                format!(
                    "; archive of {} files, {} bytes",
                    archive.files, archive.bytes
                )
            });
            printer::status(
                args.output.quiet,
                &format!(
                    "mirrored {} into {}{}: {} experts, {} versions, serial {}; {} file(s) downloaded, {} already present{site}{archive}",
                    args.source.describe(),
                    args.dest.display(),
                    if report.partial { " (partial)" } else { "" },
                    report.experts,
                    report.versions,
                    report.serial,
                    report.downloaded,
                    report.present
                ),
            )
        }
    }
    Ok(())
}

pub fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let lock = args.lock.as_deref().map(Lockfile::read).transpose()?;
    let report = audit::audit(&args.source, &args.trust.trust, lock.as_ref()).map_err(|err| {
        match err {
            // An archive that is not a sound one is the data's fault, like a damaged file.
            FetchError::Archive(_) => CliError::data(err),
            other => other.into(),
        }
    })?;
    let problems = report_problems(
        report.problems,
        args.output.format.into(),
        args.output.quiet,
    )?;
    if !problems.is_empty() {
        return Err(CliError::data(format!(
            "{} has {} problem(s)",
            args.source.describe(),
            problems.len()
        )));
    }
    // API documents are derived, not part of what the root signs: counted apart.
    let api = match report.api_documents {
        0 => String::new(),
        count => format!(" and {count} Perstack API documents"),
    };
    // So is the website, which a registry may pin without holding it (a mirror made without
    // --with-site): then nothing is said of it.
    let website = match report.website_files {
        Some(count) => format!("; its website's {count} files match the manifest its root pins"),
        None => String::new(),
    };
    printer::status(
        args.output.quiet,
        &format!(
            "{} is intact: {} experts, {} versions, {} files{api} checked{website}",
            args.source.describe(),
            report.experts,
            report.versions,
            report.files
        ),
    );
    Ok(())
}

pub fn cache_gc(args: CacheGcArgs) -> Result<(), CliError> {
    let cache = args.cache_dir()?;
    let report = gc::gc(&GcOptions {
        cache: cache.clone(),
        dry_run: args.dry_run,
    })?;
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    match args.output.format {
        ReportFormat::Json => printer::print_json(&report)?,
        ReportFormat::Human => {
            let mut lines = Vec::new();
            for registry in &report.registries {
                if let Some(reason) = &registry.skipped {
                    eprintln!(
                        "{}",
                        printer::terminal_safe(&format!("warning: {}: {reason}", registry.id))
                    );
                } else if args.dry_run || registry.removed > 0 {
                    lines.push(format!(
                        "{}: {verb} {} file(s), {} bytes; kept {}",
                        registry.id, registry.removed, registry.bytes, registry.kept
                    ));
                }
            }
            lines.push(format!(
                "{verb} {} file(s), {} bytes from {}",
                report.removed,
                report.bytes,
                cache.display()
            ));
            for line in lines {
                printer::status(args.output.quiet, &line);
            }
        }
    }
    let skipped = report
        .registries
        .iter()
        .filter(|registry| registry.skipped.is_some())
        .count();
    if skipped > 0 {
        return Err(CliError::data(format!(
            "{skipped} registry directory(ies) in {} left alone",
            cache.display()
        )));
    }
    Ok(())
}

/// Opens the registry named by the arguments through the cache.
fn open_client(args: &RegistryArgs) -> Result<Client, CliError> {
    Ok(Client::open(&ClientOptions {
        source: args.registry.clone(),
        cache: args.cache_dir()?,
        offline: args.offline,
        trust: args.trust.trust.clone(),
        require_log: args.require_log,
    })?)
}

/// Parses `key`, opens the registry and resolves the key in it.
fn open_and_resolve(key: &str, registry: &RegistryArgs) -> Result<(Client, Resolved), CliError> {
    let request =
        Request::parse(key).map_err(|err| CliError::environment(format!("{key}: {err}")))?;
    let client = open_client(registry)?;
    let resolved = client.resolve(&request)?;
    Ok((client, resolved))
}

fn warn_if_deprecated(resolved: &Resolved, quiet: bool) {
    if resolved.status == Status::Deprecated && !quiet {
        let warning = format!(
            "warning: {} is deprecated: {}",
            resolved.key(),
            resolved.reason.as_deref().unwrap_or("no reason given")
        );
        eprintln!("{}", crate::cli::printer::terminal_safe(&warning));
    }
}
