//! registry-data/ → a checked [`validate::Registry`]: the first stage of every command that
//! reads the data (`check`, `build`, `publish`, the review of a pull request).
//!
//! [`load`] walks the directory in sorted order and reads each file once; each file is checked
//! on its own ([`definition`] with [`provider`] for version files, [`meta`] for `expert.toml`,
//! [`settings`] for `registry.toml`), every problem located through [`toml_file`]; [`validate`]
//! applies the rules that need the whole registry. [`build_cache`] remembers what unchanged
//! version files held, so a rebuild does not parse them again, and [`git_changes`] asks git
//! which directories changed, so a rebuild in a git checkout does not even look at the others;
//! [`watchman`] asks a running Watchman whether anything changed at all, without looking.
//!
//! Imports only from `common`.

use std::path::Path;

use crate::common::diagnostic::Diagnostic;
use crate::common::fsutil::IoError;

pub mod build_cache;
pub mod definition;
pub mod git_changes;
pub mod load;
pub mod meta;
pub mod provider;
pub mod settings;
pub mod sorted_walk;
pub mod toml_file;
pub mod validate;
pub mod watchman;

/// Loads and validates `registry-data/` without writing anything.
pub fn check(data_dir: &Path) -> Result<(Option<validate::Registry>, Vec<Diagnostic>), IoError> {
    let loaded = load::load(data_dir)?;
    Ok(validate::validate(loaded))
}
