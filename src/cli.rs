//! The command-line interface: clap types only, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::printer::{ClientFormat, Format};
use crate::signing::PublicKey;
use crate::transport::Source;

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
    /// column. Exit status: 0 valid, 1 invalid data, 2 usage or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry check\n  perstack-registry check --data registry-data --format github"
    )]
    Check(CheckArgs),
    /// Build registry-data/ into a static, content-addressed registry.
    ///
    /// Writes only files that are new, the root last, so a build killed at any moment leaves
    /// the previous registry valid. Refuses (exit 1, nothing written) any change to what the
    /// previous registry published. Exit status: 0 built, 1 invalid data or refused change,
    /// 2 usage or I/O failure.
    #[command(
        after_help = "Examples:\n  perstack-registry build\n  perstack-registry build --data registry-data --out dist --previous deployed/\n  perstack-registry build --previous https://registry.example.com/"
    )]
    Build(BuildArgs),
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
    /// BLAKE3. fetch --locked and verify --lock honour it.
    #[command(
        after_help = "Examples:\n  perstack-registry lock --registry https://registry.example.com\n  perstack-registry lock examples/perstack.toml --output examples/perstack.lock"
    )]
    Lock(LockArgs),
    /// Copy a registry, or some scopes of it, into a directory that is a registry too.
    ///
    /// Every file is verified against its hash; only what DEST lacks is downloaded; DEST's
    /// root is written last, so an interrupted mirror leaves DEST valid and the next run
    /// resumes. A partial mirror (--scope) writes a root of its own, unsigned unless
    /// --sign-key-env is given, and keeps the source's root in v1/upstream-root.json.
    #[command(
        after_help = "Examples:\n  perstack-registry mirror https://registry.example.com mirror/\n  perstack-registry mirror dist/ acme-only/ --scope @acme\n  perstack-registry mirror https://registry.example.com mirror/ --trust ed25519:..."
    )]
    Mirror(MirrorArgs),
    /// Audit a whole registry: hashes, schemas, and that nothing the root reaches is missing.
    ///
    /// Every problem is listed; exit status 1 if there is any, 2 if the registry cannot be
    /// reached at all.
    #[command(
        after_help = "Examples:\n  perstack-registry verify dist/\n  perstack-registry verify https://registry.example.com --trust ed25519:...\n  perstack-registry verify dist/ --lock perstack.lock --format json"
    )]
    Verify(VerifyArgs),
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
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct ClientOutputArgs {
    /// human: short lines; json: one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = ClientFormat::Human)]
    pub format: ClientFormat,
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
    #[arg(long, value_name = "FILE", default_value = "perstack.lock")]
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
    /// Where to write the lockfile [default: perstack.lock beside PERSTACK_TOML].
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
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: OutputArgs,
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
    #[arg(long, value_enum, default_value_t = ClientFormat::Human)]
    pub format: ClientFormat,
}
