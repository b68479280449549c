//! How an authoring or review command failed, classified so the binary can choose the exit
//! status.
//!
//! The library never exits; it says what kind of failure happened ([`CommandError::class`]) and
//! the binary maps it: data that breaks a rule, a refused change and a name that does not exist
//! are exit 1; a usage mistake and an I/O or git failure are exit 2.

use crate::authoring::git::GitError;
use crate::common::diagnostic::{Diagnostic, ErrorClass};
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
    /// Whether the data is at fault or the invocation or its environment.
    pub fn class(&self) -> ErrorClass {
        match self {
            CommandError::NotFound(_) | CommandError::Refused(_) | CommandError::Invalid(_) => {
                ErrorClass::Data
            }
            CommandError::Io(_) | CommandError::Git(_) | CommandError::Usage(_) => {
                ErrorClass::Environment
            }
        }
    }
}
