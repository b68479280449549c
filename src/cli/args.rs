//! The command-line interface: clap types only, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cli::printer::{Format, ReportFormat};
use perstack_registry::common::signing::PublicKey;
use perstack_registry::common::transport::Source;

/// A static, content-addressed registry of Perstack Expert definitions.
///
/// Publishing is a pull request that adds a version file under registry-data/; `check`
/// validates it and `build` turns registry-data/ into files any static host can serve.
/// `resolve`, `fetch`, `lock`, `mirror` and `verify` read a built registry from a directory
/// or over HTTP, verifying every file against its hash.
#[derive(Debug, Parser)]
#[command(name = "perstack-registry", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate registry-data/ and write nothing.
    ///
    /// Every problem is reported in one run, each with its file and, where known, line and
    /// column. With --base, also reviews the change since a git revision (a pull request's
    /// base): published version files must not change or vanish, statuses only move forward,
    /// tags do not silently vanish, and new names must not pass for existing ones; the versions
    /// added and the tag and status changes are listed as notes. Exit status: 0 valid, 1 invalid
    /// data or refused change, 2 usage, I/O or git failure (such as a base revision that is not
    /// in a shallow clone).
    #[command(
        after_help = "Examples:\n  perstack-registry check\n  perstack-registry check --data registry-data --format github\n  perstack-registry check --base origin/main --format github"
    )]
    Check(CheckArgs),
    /// Build registry-data/ into a static, content-addressed registry.
    ///
    /// Writes only files that are new, the root last, so a build killed at any moment leaves
    /// the previous registry valid. Refuses (exit 1, nothing written) any change to what the
    /// previous registry published. Exit status: 0 built, 1 invalid data or refused change,
    /// 2 usage or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry build\n  perstack-registry build --data registry-data --out dist --previous deployed/\n  perstack-registry build --previous https://registry.example.com/\n  perstack-registry build --no-site     # the API only, no website"
    )]
    Build(BuildArgs),
    /// Publish experts from an author's perstack.toml as new version files.
    ///
    /// Writes registry-data/NAME/VERSION.toml for each chosen expert, holding only that
    /// expert's table and skills as written; top-level run settings (model, provider, envPath,
    /// ...) are dropped, with a note. Everything is validated first with the same rules as
    /// `check`, and a version that already exists is refused: nothing is ever overwritten, and
    /// on any problem nothing is written. Prints each file with its BLAKE3 hash (like b3sum).
    /// Exit status: 0 published, 1 invalid definition, unknown expert or existing version,
    /// 2 usage or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry publish\n  perstack-registry publish ../my-experts/perstack.toml --expert @acme/researcher\n  perstack-registry publish perstack.toml --all --dry-run"
    )]
    Publish(PublishArgs),
    /// Print the deploy plan of the last build: the files new relative to the previous
    /// registry, in an order safe to upload one by one (blobs, index documents, bins,
    /// readable documents, API documents and then their format, website, its manifest,
    /// _headers, and v1/root.json last).
    ///
    /// The plan is read from OUT/.perstack-build/plan.json, which every successful build
    /// writes (and a failed one removes). Exit status: 0 printed, 2 no plan or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry plan\n  perstack-registry plan --out dist --format json\n  perstack-registry plan --out dist | while read -r f; do aws s3 cp \"dist/$f\" \"s3://bucket/$f\"; done"
    )]
    Plan(PlanArgs),
    /// Write a CODEOWNERS file from the scope owners in registry.toml.
    ///
    /// The owners of each scope in registry.toml (scopes."@acme".owners) get a rule for
    /// registry-data/@acme/, so the code host requires their review for changes to their
    /// scope. Run it from the
    /// repository root. Exit status: 0 written (or, with --check, up to date), 1 invalid
    /// registry.toml or, with --check, out of date, 2 usage or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry codeowners\n  perstack-registry codeowners --output CODEOWNERS --check"
    )]
    Codeowners(CodeownersArgs),
    /// Start a new registry repository in DIR.
    ///
    /// Writes registry-data/registry.toml, a README for authors, .github/CODEOWNERS, a
    /// .gitignore, and two GitHub Actions workflows: the pull-request check (check --base) and
    /// the deploy recipe chosen with --deploy. Refuses, writing nothing, if any of these files
    /// exists. Exit status: 0 written, 1 a file exists, 2 usage or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry init my-registry\n  perstack-registry init . --deploy s3 --name \"Acme Expert Registry\""
    )]
    Init(InitArgs),
    /// Point a custom tag at a published version.
    ///
    /// Edits the expert's expert.toml, keeping its comments and layout, after checking that the
    /// version exists and is not disabled and that the registry stays valid. A tag retired by
    /// `untag` may be set again. `latest` is computed and cannot be set. Exit status: 0 done,
    /// 1 unknown expert or version or a refused change, 2 usage or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry tag @acme/researcher@1.2.3 stable\n  perstack-registry tag tic-tac-toe@1.1.0 beta --data registry-data"
    )]
    Tag(TagArgs),
    /// Remove a custom tag, recording it in [retired-tags] so the removal is deliberate.
    ///
    /// A published tag may only disappear this way. Refused when another expert delegates to
    /// NAME@TAG. Exit status: 0 done, 1 unknown expert or tag or a refused change, 2 usage or
    /// I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry untag @acme/researcher beta\n  perstack-registry untag @acme/researcher beta --reason \"2.0 is out; use latest\""
    )]
    Untag(UntagArgs),
    /// Mark a published version deprecated: it still resolves, but users are warned.
    ///
    /// Allowed from available (or to update the reason of a deprecated version); a disabled
    /// version stays disabled. Exit status: 0 done, 1 unknown expert or version or a refused
    /// change, 2 usage or I/O failure.
    #[command(
        after_help = "Example:\n  perstack-registry deprecate @acme/researcher@1.0.0 --reason \"Use 1.2.0: fixes the search loop\""
    )]
    Deprecate(StatusArgs),
    /// Disable a published version: it no longer resolves for new use. This is final.
    ///
    /// Refused while a tag points at the version (move or retire the tag first). Exit status:
    /// 0 done, 1 unknown expert or version or a refused change, 2 usage or I/O failure.
    #[command(
        after_help = "Example:\n  perstack-registry disable @acme/researcher@1.0.0 --reason \"Leaks the API key into reports\""
    )]
    Disable(StatusArgs),
    /// Make an Ed25519 key pair for signing the registry's root.
    ///
    /// Prints the public key (ed25519:...), which goes into the trust keys of registry.toml and
    /// into clients' --trust, and the secret key (ed25519-secret:...), which goes into the
    /// environment variable named by build --sign-key-env and nowhere else.
    #[command(
        after_help = "Examples:\n  perstack-registry keygen\n  perstack-registry keygen --secret-out registry.key\n  REGISTRY_KEY=$(cat registry.key) perstack-registry build --sign-key-env REGISTRY_KEY"
    )]
    Keygen(KeygenArgs),
    /// Print the exact version a key resolves to, with its BLAKE3 and path.
    ///
    /// KEY is name, name@version, name@tag or name@REQ, where REQ is a SemVer requirement in
    /// Cargo syntax (^1.2, ~1.4, ">=1, <2"). Disabled versions never resolve; deprecated ones
    /// resolve with a warning; prereleases match only a requirement that names a prerelease.
    /// Exit status: 0 resolved, 1 unknown expert, unknown tag, no match or a refused
    /// registry, 2 usage, I/O or network failure.
    #[command(
        after_help = "Examples:\n  perstack-registry resolve @acme/researcher --registry https://registry.example.com\n  perstack-registry resolve '@acme/researcher@^1.2' --format json\n  PERSTACK_REGISTRY=dist perstack-registry resolve tic-tac-toe@stable"
    )]
    Resolve(ResolveArgs),
    /// Download a version, verify its BLAKE3, cache it and print it.
    ///
    /// The definition is verified against the registry's index before anything is written,
    /// and stored in a persistent cache that has the serving layout (a cache is itself a
    /// registry). A blob already cached is never downloaded again; with --offline only the
    /// cache is used. Exit status: 0 fetched, 1 not found or refused (bad hash, untrusted
    /// root, lockfile mismatch), 2 usage, I/O or network failure.
    #[command(
        after_help = "Examples:\n  perstack-registry fetch @acme/researcher@1.2.3 --registry https://registry.example.com\n  perstack-registry fetch tic-tac-toe --offline --output tic-tac-toe.toml\n  perstack-registry fetch @acme/searcher --locked"
    )]
    Fetch(FetchArgs),
    /// Pin every registry delegate of a perstack.toml, transitively, in a lockfile.
    ///
    /// Each delegate that is not an expert of the perstack.toml itself is resolved in the
    /// registry, then its own delegates, and so on; the lockfile records each version and its
    /// BLAKE3. fetch --locked and verify --lock honour it. It is perstack-registry.lock beside
    /// the perstack.toml: perstack.lock belongs to the Perstack runtime (`perstack install`),
    /// and lock never writes it.
    #[command(
        after_help = "Examples:\n  perstack-registry lock --registry https://registry.example.com\n  perstack-registry lock examples/perstack.toml --output examples/perstack-registry.lock"
    )]
    Lock(LockArgs),
    /// Copy a registry, or some scopes of it, into a directory that is a registry too.
    ///
    /// Every file is verified against its hash; only what DEST lacks is downloaded; DEST's
    /// root is written last, so an interrupted mirror leaves DEST valid and the next run
    /// resumes. A partial mirror (--scope) writes a root of its own, unsigned unless
    /// --sign-key-env is given, and keeps the source's root in v1/upstream-root.json. The
    /// website is copied only with --with-site. A DEST ending in .tar is a single reproducible
    /// archive (the same registry gives the same bytes), and a SRC ending in .tar is read with
    /// the same checks as any other source, for carrying a registry where no network reaches.
    #[command(
        after_help = "Examples:\n  perstack-registry mirror https://registry.example.com mirror/\n  perstack-registry mirror dist/ acme-only/ --scope @acme\n  perstack-registry mirror https://registry.example.com mirror/ --trust ed25519:...\n  perstack-registry mirror dist/ registry.tar --with-site     # carry it across\n  perstack-registry mirror registry.tar mirror/ --with-site --trust ed25519:..."
    )]
    Mirror(MirrorArgs),
    /// Audit a whole registry: hashes, schemas, and that nothing the root reaches is missing.
    ///
    /// The Perstack API documents are rendered again from the index documents and blobs and
    /// must be served byte for byte; from a directory or an archive, any other file under api/
    /// is reported as stale. SRC may be a registry archive (.tar). Every problem is listed;
    /// exit status 1 if there is any, 2 if the registry cannot be reached at all.
    #[command(
        after_help = "Examples:\n  perstack-registry verify dist/\n  perstack-registry verify https://registry.example.com --trust ed25519:...\n  perstack-registry verify dist/ --lock perstack-registry.lock --format json"
    )]
    Verify(VerifyArgs),
    /// Look after the client cache that resolve, fetch and lock fill.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Serve a built registry on this machine, to try it with the Perstack runtime.
    ///
    /// Answers as the static hosts a registry is deployed to do: the Perstack API documents
    /// under /api/ (percent-encoded keys decoded, JSON 404s in the hosted API's shape), the
    /// website elsewhere (a directory's slash added by redirect, 404.html for what is missing),
    /// and the headers of DIR/_headers. Never serves hidden paths such as .perstack-build/,
    /// _headers itself, or anything through a symlink. The runtime accepts only an https
    /// perstackApiBaseUrl: with --tls, a local certificate authority and a certificate for
    /// localhost, 127.0.0.1 and ::1 are made once in --tls-dir and reused on later runs, and
    /// the NODE_EXTRA_CA_CERTS line that makes the runtime trust them is printed. Runs until
    /// interrupted. Exit status: 2 if DIR is not a built registry, _headers is malformed, the
    /// address is in use or the certificates cannot be made.
    #[command(
        after_help = "Examples:\n  perstack-registry serve\n  perstack-registry serve dist --tls --listen 127.0.0.1:8443\n  perstack-registry serve dist --listen 127.0.0.1:0 --quiet     # any free port"
    )]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The author's perstack.toml.
    #[arg(value_name = "PATH", default_value = "perstack.toml")]
    pub source: PathBuf,
    /// Publish this expert (repeat for several) [default: the file's only expert].
    #[arg(long = "expert", value_name = "NAME", conflicts_with = "all")]
    pub experts: Vec<String>,
    /// Publish every expert the file defines, each after the experts it delegates to.
    #[arg(long)]
    pub all: bool,
    /// Check and print what would be written, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub data: DataArgs,
    /// How to print the result: human, or json (one document on stdout).
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repository directory (created if missing).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Where pushes to main deploy the registry.
    #[arg(long, value_enum, default_value_t = perstack_registry::authoring::init::DeployTarget::Pages)]
    pub deploy: perstack_registry::authoring::init::DeployTarget,
    /// The registry's display name, written to registry.toml.
    #[arg(long, default_value = perstack_registry::data::settings::DEFAULT_NAME)]
    pub name: String,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The registry directory the build wrote.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub out: PathBuf,
    /// lines: one path per line, in upload order; json: the whole plan with each file's kind.
    #[arg(long, value_enum, default_value_t = PlanFormat::Lines)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Lines,
    Json,
}

#[derive(Debug, Args)]
pub struct CodeownersArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The file to write.
    #[arg(long, value_name = "FILE", default_value = perstack_registry::authoring::codeowners::DEFAULT_PATH)]
    pub output: PathBuf,
    /// Write nothing; fail (exit 1) if the file is not up to date.
    #[arg(long)]
    pub check: bool,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct EditOutputArgs {
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// The version to tag, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// The tag, e.g. stable or beta.
    pub tag: String,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub output: EditOutputArgs,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    /// The expert, e.g. @acme/researcher.
    pub name: String,
    /// The tag to remove.
    pub tag: String,
    /// Why the tag was removed, recorded in [retired-tags].
    #[arg(long, default_value = perstack_registry::authoring::edit::DEFAULT_UNTAG_REASON)]
    pub reason: String,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub output: EditOutputArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The version, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// Why, and what to use instead; shown to every user of the version.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub output: EditOutputArgs,
}

#[derive(Debug, Args)]
pub struct DataArgs {
    /// The registry data directory.
    #[arg(long, value_name = "DIR", default_value = "registry-data")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// How to print problems: human (stderr), json or github (stdout).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Review the change since this git revision (read from git, never checked out).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the registry.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub out: PathBuf,
    /// The registry published before, to enforce write-once against: a directory, a file://
    /// URL or an http(s):// base URL [default: the registry already in --out, if any].
    #[arg(long, value_name = "SRC")]
    pub previous: Option<Source>,
    /// Re-read every version file instead of trusting unchanged ones from the last build.
    #[arg(long)]
    pub no_cache: bool,
    /// Build only the static API, without the website (pages, assets and search index).
    #[arg(long)]
    pub no_site: bool,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Trust this public key (ed25519:...) to sign the registry's root; repeatable. Keys are
    /// also learnt on first use and from roots signed by a trusted key.
    #[arg(long = "trust", value_name = "KEY")]
    pub trust: Vec<PublicKey>,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// The registry: a directory, a file:// URL or an http(s):// base URL.
    #[arg(long, value_name = "SRC", env = "PERSTACK_REGISTRY")]
    pub registry: Source,
    /// The cache directory [default: $XDG_CACHE_HOME/perstack-registry, else
    /// ~/.cache/perstack-registry].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Use only what the cache holds; make no request.
    #[arg(long)]
    pub offline: bool,
    /// Accept a version only with a proof that the publish log the root pins holds its
    /// publish entry (an RFC 6962 inclusion proof read from the log's tiles); refuse a
    /// registry without a log. Reads the expert's hint file and a few of the log's tiles.
    #[arg(long, conflicts_with = "offline")]
    pub require_log: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct ClientOutputArgs {
    /// human: short lines; json: one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// name, name@version, name@tag or name@REQ.
    pub key: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub output: ClientOutputArgs,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// name, name@version, name@tag or name@REQ.
    pub key: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Write the definition to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fetch the version the lockfile pins KEY to, and refuse if the registry disagrees.
    #[arg(long)]
    pub locked: bool,
    /// The lockfile for --locked.
    #[arg(long, value_name = "FILE", default_value = "perstack-registry.lock")]
    pub lockfile: PathBuf,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The perstack.toml whose delegates to pin.
    #[arg(value_name = "PERSTACK_TOML", default_value = "perstack.toml")]
    pub perstack_toml: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Where to write the lockfile [default: perstack-registry.lock beside PERSTACK_TOML].
    /// Never perstack.lock, which belongs to the Perstack runtime.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// The registry to copy: a directory, a file:// URL or an http(s):// base URL.
    #[arg(value_name = "SRC")]
    pub source: Source,
    /// The directory to copy into.
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
    /// Copy only the experts of this scope (@org); repeatable.
    #[arg(long, value_name = "@ORG")]
    pub scope: Vec<String>,
    /// Copy the website too, from any source: each file the root's website manifest lists,
    /// verified against it (a source built without one: every file outside v1/, api/ and
    /// _headers, from a directory or an archive only); a full mirror only.
    #[arg(long, conflicts_with = "scope")]
    pub with_site: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: ClientOutputArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The registry to audit: a directory, a file:// URL or an http(s):// base URL.
    #[arg(value_name = "SRC")]
    pub source: Source,
    /// Also check that the registry publishes every version this lockfile pins, with the same
    /// BLAKE3.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub output: ClientOutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove from the cache every blob, index document, bin and snapshot that no kept root
    /// reaches.
    ///
    /// Kept, for each registry in the cache: everything the cache's own root reaches (the
    /// experts fetch made complete, with every version, so whatever a lockfile pins of them)
    /// and the bins of the registry's root last seen that the cache holds. Removed: documents the registry has
    /// since replaced, index documents read only to resolve a key, and anything else
    /// hash-named that nothing kept reaches. Safe beside other clients: it takes each
    /// registry's lock, waiting for a running fetch, and follows no symbolic link. Exit
    /// status: 0 done, 1 a registry in the cache was left alone (each says why), 2 I/O
    /// failure.
    #[command(after_help = "Examples:
  perstack-registry cache gc
  perstack-registry cache gc --cache ~/.cache/perstack-registry --dry-run
  perstack-registry cache gc --format json")]
    Gc(CacheGcArgs),
}

#[derive(Debug, Args)]
pub struct CacheGcArgs {
    /// The cache directory [default: $XDG_CACHE_HOME/perstack-registry, else
    /// ~/.cache/perstack-registry].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Report what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: ClientOutputArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The registry directory build wrote.
    #[arg(value_name = "DIR", default_value = "dist")]
    pub dir: PathBuf,
    /// The address to listen on, as IP:PORT; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Serve https with a locally made certificate (the Perstack runtime requires https).
    #[arg(long)]
    pub tls: bool,
    /// Where the certificates are kept and reused; never inside DIR [default:
    /// $XDG_CACHE_HOME/perstack-registry/serve-tls, else ~/.cache/perstack-registry/serve-tls].
    #[arg(long, value_name = "DIR", requires = "tls")]
    pub tls_dir: Option<PathBuf>,
    /// Do not log requests.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SigningArgs {
    /// Sign the root with the secret key (ed25519-secret:...) held in this environment
    /// variable; repeat to sign with several keys while rotating.
    #[arg(long, value_name = "VAR")]
    pub sign_key_env: Vec<String>,
    /// How many days a newly signed root stays valid. A build re-signs an unchanged root once
    /// half of this has passed.
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub expires_in: u32,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the secret key to this file (created with mode 0600; never overwritten) instead of
    /// printing it.
    #[arg(long, value_name = "FILE")]
    pub secret_out: Option<PathBuf>,
    /// human: `secret ...` and `public ...` lines; json: {"public", "secret"}.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}
