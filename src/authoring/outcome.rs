//! How an authoring or review command failed, classified so `main` can choose the exit status.
//!
//! The library never exits; it says what kind of failure happened and `main` maps it: data that
//! breaks a rule, a refused change and a name that does not exist are exit 1; a usage mistake
//! and an I/O or git failure are exit 2.

use crate::authoring::git::GitError;
use crate::common::diagnostic::Diagnostic;
use crate::common::fsutil::IoError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Git(#[from] GitError),
    /// The command line asks for something that cannot mean anything.
    #[error("{0}")]
    Usage(String),
    /// The expert, version or tag named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change is understood but not allowed.
    #[error("{0}")]
    Refused(String),
    /// The result would break the registry's rules; nothing was written.
    #[error("{} problem(s) found", .0.len())]
    Invalid(Vec<Diagnostic>),
}

impl CommandError {
    /// Whether the failure is about the data (exit 1) rather than the invocation or the
    /// environment (exit 2).
    pub fn is_about_data(&self) -> bool {
        matches!(
            self,
            CommandError::NotFound(_) | CommandError::Refused(_) | CommandError::Invalid(_)
        )
    }
}
