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
        after_help = "Examples:\n  perstack-registry build\n  perstack-registry build --data registry-data --out dist --previous deployed/\n  perstack-registry build --no-site     # the API only, no website"
    )]
    Build(BuildArgs),
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
    /// The registry published before, to enforce write-once against [default: the registry
    /// already in --out, if any].
    #[arg(long, value_name = "DIR")]
    pub previous: Option<PathBuf>,
    /// Re-read every version file instead of trusting unchanged ones from the last build.
    #[arg(long)]
    pub no_cache: bool,
    /// Build only the static API, without the website (pages, assets and search index).
    #[arg(long)]
    pub no_site: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}
