//! The commands of authors and maintainers, beside the build: [`publish`] cuts version files out
//! of an author's `perstack.toml`, [`edit`] changes `expert.toml` (tags, statuses), [`review`]
//! checks a pull request's change against its base revision (read through [`git`], with new
//! names checked by [`names`]), [`codeowners`] turns scope owners into CODEOWNERS and [`init`]
//! starts a registry repository. [`outcome`] classifies their failures.
//!
//! Imports from `common`, `data`, `format` and `build` (the review applies the build's
//! write-once rules).

pub mod codeowners;
pub mod edit;
pub mod git;
pub mod init;
pub mod names;
pub mod outcome;
pub mod publish;
pub mod review;
