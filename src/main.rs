//! The `perstack-registry` command: parses arguments, runs the library, prints, and maps the
//! outcome to an exit status (0 success, 1 invalid data or refused change, 2 usage or I/O).

/// mimalloc instead of the system allocator: parsing 100k TOML files and rendering their
/// documents is allocation-heavy, and glibc's malloc took a quarter of a rebuild's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use crate::cli::args::{
    BuildArgs, CheckArgs, Cli, CodeownersArgs, Command, FetchArgs, InitArgs, KeygenArgs, LockArgs,
    MirrorArgs, PlanArgs, PlanFormat, PublishArgs, RegistryArgs, ReportFormat, ResolveArgs,
    ServeArgs, SigningArgs, StatusArgs, TagArgs, UntagArgs, VerifyArgs,
};
use crate::cli::printer::{self, ClientFormat, Format, KeygenJson, ResolveJson, TerminalProgress};
use perstack_registry::authoring::codeowners;
use perstack_registry::authoring::edit::{self, MetaChange};
use perstack_registry::authoring::init;
use perstack_registry::authoring::outcome::CommandError;
use perstack_registry::authoring::publish::{self, PublishOptions, Selection};
use perstack_registry::authoring::review;
use perstack_registry::build::plan::Plan;
use perstack_registry::build::{self, BuildOptions, BuildOutcome, Signing};
use perstack_registry::client::audit;
use perstack_registry::client::cache::{self, Client, ClientError, ClientOptions};
use perstack_registry::client::lockfile::{self, Lockfile};
use perstack_registry::client::mirror::{self, MirrorOptions};
use perstack_registry::client::resolve::{Request, Resolved};
use perstack_registry::common::diagnostic::{Diagnostics, Severity};
use perstack_registry::common::fsutil;
use perstack_registry::common::model::Status;
use perstack_registry::common::signing::SecretKey;
use perstack_registry::serve::{self, ServeOptions, Server};

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
        Command::Keygen(args) => keygen(args),
        Command::Resolve(args) => run_resolve(args),
        Command::Fetch(args) => run_fetch(args),
        Command::Lock(args) => run_lock(args),
        Command::Mirror(args) => run_mirror(args),
        Command::Verify(args) => run_verify(args),
        Command::Serve(args) => run_serve(args),
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

/// Opens the registry named by the arguments through the cache.
fn open_client(args: &RegistryArgs) -> Result<Client, ExitCode> {
    let Some(cache) = args.cache.clone().or_else(cache::default_cache_dir) else {
        return Err(failure_message(
            "no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache",
        ));
    };
    Client::open(&ClientOptions {
        source: args.registry.clone(),
        cache,
        offline: args.offline,
        trust: args.trust.trust.clone(),
    })
    .map_err(|err| client_failure(&err))
}

fn client_failure(err: &ClientError) -> ExitCode {
    eprintln!("error: {err}");
    ExitCode::from(if err.is_refusal() { INVALID } else { FAILURE })
}

fn warn_if_deprecated(resolved: &Resolved, quiet: bool) {
    if resolved.status == Status::Deprecated && !quiet {
        eprintln!(
            "warning: {} is deprecated: {}",
            resolved.key(),
            resolved.reason.as_deref().unwrap_or("no reason given")
        );
    }
}

/// Parses `key`, opens the registry and resolves the key in it.
fn open_and_resolve(key: &str, registry: &RegistryArgs) -> Result<(Client, Resolved), ExitCode> {
    let request = Request::parse(key).map_err(|err| failure_message(&format!("{key}: {err}")))?;
    let client = open_client(registry)?;
    let resolved = client
        .resolve(&request)
        .map_err(|err| client_failure(&err))?;
    Ok((client, resolved))
}

fn run_resolve(args: ResolveArgs) -> ExitCode {
    let resolved = match open_and_resolve(&args.key, &args.registry) {
        Ok((_, resolved)) => resolved,
        Err(code) => return code,
    };
    warn_if_deprecated(&resolved, args.output.quiet);
    match args.output.format {
        ClientFormat::Human => println!("{} {} {}", resolved.key(), resolved.blake3, resolved.path),
        ClientFormat::Json => printer::print_json(&ResolveJson::from(&resolved)),
    }
    ExitCode::SUCCESS
}

fn run_fetch(args: FetchArgs) -> ExitCode {
    let (key, pinned) = if args.locked {
        let lockfile = match Lockfile::read(&args.lockfile) {
            Ok(lockfile) => lockfile,
            Err(err) => return failure_message(&err.to_string()),
        };
        match lockfile.find(&args.key) {
            Some(entry) => (
                format!("{}@{}", entry.name, entry.version),
                Some(entry.blake3),
            ),
            None => {
                eprintln!(
                    "error: {}: \"{}\" is not in the lockfile; run `perstack-registry lock` again",
                    args.lockfile.display(),
                    args.key
                );
                return ExitCode::from(INVALID);
            }
        }
    } else {
        (args.key.clone(), None)
    };
    let (client, resolved) = match open_and_resolve(&key, &args.registry) {
        Ok(found) => found,
        Err(code) => return code,
    };
    if let Some(locked) = pinned.filter(|locked| *locked != resolved.blake3) {
        eprintln!(
            "error: {} is locked to BLAKE3 {locked}, but the registry now publishes {}; refusing it",
            resolved.key(),
            resolved.blake3
        );
        return ExitCode::from(INVALID);
    }
    warn_if_deprecated(&resolved, args.quiet);
    let bytes = match client.fetch(&resolved) {
        Ok(bytes) => bytes,
        Err(err) => return client_failure(&err),
    };
    match &args.output {
        Some(path) => {
            if let Err(err) = fsutil::write_atomic(path, &bytes, false) {
                return failure(&err);
            }
        }
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(FAILURE);
            }
        }
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
    ExitCode::SUCCESS
}

fn run_lock(args: LockArgs) -> ExitCode {
    let client = match open_client(&args.registry) {
        Ok(client) => client,
        Err(code) => return code,
    };
    let lockfile = match lockfile::lock(&client, &args.perstack_toml) {
        Ok(lockfile) => lockfile,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(if err.is_refusal() { INVALID } else { FAILURE });
        }
    };
    let output = args.output.clone().unwrap_or_else(|| {
        args.perstack_toml
            .parent()
            .unwrap_or(std::path::Path::new(""))
            .join(lockfile::FILE_NAME)
    });
    if let Err(err) = Lockfile::check_destination(&output) {
        eprintln!("error: {err}");
        return ExitCode::from(FAILURE);
    }
    if let Err(err) = fsutil::write_atomic(&output, lockfile.render().as_bytes(), false) {
        return failure(&err);
    }
    printer::status(
        args.quiet,
        &format!(
            "locked {} registry expert version(s) in {}",
            lockfile.experts.len(),
            output.display()
        ),
    );
    ExitCode::SUCCESS
}

fn run_mirror(args: MirrorArgs) -> ExitCode {
    let sign = match signing(&args.signing) {
        Ok(signing) => signing.map(|s| (s.keys, s.expires_in_days)),
        Err(err) => return failure_message(&err),
    };
    let options = MirrorOptions {
        source: args.source.clone(),
        dest: args.dest.clone(),
        scopes: args.scope.clone(),
        trust: args.trust.trust.clone(),
        sign,
    };
    let progress = TerminalProgress::new(args.output.quiet);
    let outcome = mirror::mirror(&options, &progress);
    progress.finish();
    let report = match outcome {
        Ok(report) => report,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(if err.is_refusal() { INVALID } else { FAILURE });
        }
    };
    match args.output.format {
        ClientFormat::Json => printer::print_json(&report),
        ClientFormat::Human => printer::status(
            args.output.quiet,
            &format!(
                "mirrored {} into {}{}: {} experts, {} versions, serial {}; {} file(s) downloaded, {} already present",
                args.source.describe(),
                args.dest.display(),
                if report.partial { " (partial)" } else { "" },
                report.experts,
                report.versions,
                report.serial,
                report.downloaded,
                report.present
            ),
        ),
    }
    ExitCode::SUCCESS
}

fn run_verify(args: VerifyArgs) -> ExitCode {
    let lock = match &args.lock {
        None => None,
        Some(path) => match Lockfile::read(path) {
            Ok(lock) => Some(lock),
            Err(err) => return failure_message(&err.to_string()),
        },
    };
    let report = match audit::audit(&args.source, &args.trust.trust, lock.as_ref()) {
        Ok(report) => report,
        Err(err) => return failure(&err),
    };
    let problems = sorted(report.problems);
    let format = match args.output.format {
        ClientFormat::Human => Format::Human,
        ClientFormat::Json => Format::Json,
    };
    printer::print_diagnostics(&problems, format, args.output.quiet);
    if problems.is_empty() {
        printer::status(
            args.output.quiet,
            &format!(
                "{} is intact: {} experts, {} versions, {} files checked",
                args.source.describe(),
                report.experts,
                report.versions,
                report.files
            ),
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: {} has {} problem(s)",
            args.source.describe(),
            problems.len()
        );
        ExitCode::from(INVALID)
    }
}

fn run_serve(args: ServeArgs) -> ExitCode {
    let tls_dir = match (args.tls, args.tls_dir) {
        (false, _) => None,
        (true, Some(dir)) => Some(dir),
        (true, None) => match serve::tls::default_dir() {
            Some(dir) => Some(dir),
            None => {
                return failure_message(
                    "no directory for the certificates: set XDG_CACHE_HOME or HOME, or pass --tls-dir",
                );
            }
        },
    };
    let options = ServeOptions {
        dir: args.dir,
        listen: args.listen,
        tls_dir,
    };
    let server = match Server::bind(&options) {
        Ok(server) => server,
        Err(err) => return failure(&err),
    };
    if let Some(note) = server.note() {
        printer::status(args.quiet, &format!("note: {note}"));
    }
    let url = server.url();
    let mut lines = vec![format!("serving {} at {url}", options.dir.display())];
    match server.ca_certificate() {
        Some(ca) => {
            lines.push(format!("perstackApiBaseUrl = \"{url}\""));
            lines.push(format!("certificate: {}", ca.display()));
            lines.push(format!(
                "export NODE_EXTRA_CA_CERTS={}",
                shell_word(&ca.display().to_string())
            ));
        }
        None => printer::status(
            args.quiet,
            "note: the Perstack runtime requires an https perstackApiBaseUrl; add --tls to use this registry from it",
        ),
    }
    {
        use std::io::Write;
        // Flushed at once: whoever started the server may be waiting for the URL on a pipe.
        let mut stdout = std::io::stdout().lock();
        let printed = lines
            .iter()
            .try_for_each(|line| writeln!(stdout, "{line}"))
            .and_then(|()| stdout.flush());
        if printed.is_err() {
            return ExitCode::from(FAILURE);
        }
    }
    let quiet = args.quiet;
    match server.run(move |event| {
        if !quiet {
            eprintln!("{event}");
        }
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => failure(&err),
    }
}

/// `word` as one shell word, quoted only when it must be.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+@%,:=".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn keygen(args: KeygenArgs) -> ExitCode {
    let secret = match SecretKey::generate() {
        Ok(secret) => secret,
        Err(err) => return failure_message(&err),
    };
    let public = secret.public().to_string();
    let secret_text = secret.to_text();
    let printed_secret = match &args.secret_out {
        Some(path) => {
            if let Err(err) = fsutil::write_new_private(path, format!("{secret_text}\n").as_bytes())
            {
                return failure(&err);
            }
            eprintln!("wrote the secret key to {}; keep it secret", path.display());
            None
        }
        None => Some(secret_text.as_str()),
    };
    match args.format {
        ClientFormat::Json => printer::print_json(&KeygenJson {
            public: &public,
            secret: printed_secret,
        }),
        ClientFormat::Human => {
            if let Some(secret) = printed_secret {
                println!("secret {secret}");
            }
            println!("public {public}");
        }
    }
    ExitCode::SUCCESS
}

/// Reads the secret keys named by --sign-key-env.
fn signing(args: &SigningArgs) -> Result<Option<Signing>, String> {
    if args.sign_key_env.is_empty() {
        return Ok(None);
    }
    let keys = args
        .sign_key_env
        .iter()
        .map(|var| {
            let text = std::env::var(var)
                .map_err(|_| format!("--sign-key-env {var}: the variable is not set"))?;
            SecretKey::parse(&text).map_err(|err| format!("--sign-key-env {var}: {err}"))
        })
        .collect::<Result<_, String>>()?;
    Ok(Some(Signing {
        keys,
        expires_in_days: args.expires_in,
    }))
}

fn check(args: CheckArgs) -> ExitCode {
    if let Some(base) = &args.base {
        return check_base(&args, base);
    }
    let output = &args.output;
    let (registry, problems) = match perstack_registry::data::check(&args.data.data) {
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
    let signing = match signing(&args.signing) {
        Ok(signing) => signing,
        Err(err) => return failure_message(&err),
    };
    let options = BuildOptions {
        data_dir: args.data.data.clone(),
        out_dir: args.out.clone(),
        previous: args.previous.clone(),
        use_cache: !args.no_cache,
        signing,
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
                    report.files_written,
                    started.elapsed().as_secs_f64()
                ),
            );
            ExitCode::SUCCESS
        }
    }
}

fn sorted(
    problems: Vec<perstack_registry::common::diagnostic::Diagnostic>,
) -> Vec<perstack_registry::common::diagnostic::Diagnostic> {
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(problems);
    diagnostics.sorted()
}

fn summarize_problems(problems: &[perstack_registry::common::diagnostic::Diagnostic], what: &str) {
    let errors = problems
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    eprintln!("error: {what} is invalid: {errors} error(s), {warnings} warning(s)");
}

fn failure(err: &dyn std::error::Error) -> ExitCode {
    failure_message(&err.to_string())
}

fn failure_message(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(FAILURE)
}
