//! The command-line interface: clap types only, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::printer::Format;

/// A static, content-addressed registry of Perstack Expert definitions.
///
/// Publishing is a pull request that adds a version file under registry-data/; `check`
/// validates it and `build` turns registry-data/ into files any static host can serve.
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
        after_help = "Examples:\n  perstack-registry build\n  perstack-registry build --data registry-data --out dist --previous deployed/"
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
    /// registry, in an order safe to upload one by one (blobs, index documents, snapshot,
    /// readable documents, _headers, and v1/root.json last).
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
    #[arg(long, value_enum, default_value_t = crate::init::DeployTarget::Pages)]
    pub deploy: crate::init::DeployTarget,
    /// The registry's display name, written to registry.toml.
    #[arg(long, default_value = crate::settings::DEFAULT_NAME)]
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
    #[arg(long, value_name = "FILE", default_value = crate::codeowners::DEFAULT_PATH)]
    pub output: PathBuf,
    /// Write nothing; fail (exit 1) if the file is not up to date.
    #[arg(long)]
    pub check: bool,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How a command that reports data prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
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
    #[arg(long, default_value = crate::edit::DEFAULT_UNTAG_REASON)]
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
    /// The registry published before, to enforce write-once against [default: the registry
    /// already in --out, if any].
    #[arg(long, value_name = "DIR")]
    pub previous: Option<PathBuf>,
    /// Re-read every version file instead of trusting unchanged ones from the last build.
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}
