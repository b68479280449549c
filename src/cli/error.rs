//! The binary's one error type: why a command failed, and its [`ErrorClass`], which `main`
//! maps to the exit status.
//!
//! A library error converts here with the class its own `class` method gives; the errors that
//! can never be the data's fault convert with [`ErrorClass::Environment`]. Nothing else picks a
//! class, except a command that turns down data or a usage it checked itself.

use std::fmt::Display;
use std::io;

use perstack_registry::build::BuildError;
use perstack_registry::build::plan::PlanError;
use perstack_registry::client::cache::ClientError;
use perstack_registry::client::lockfile::LockError;
use perstack_registry::client::mirror::MirrorError;
use perstack_registry::common::diagnostic::{Diagnostics, ErrorClass, Severity};
use perstack_registry::common::fsutil::IoError;
use perstack_registry::common::transport::FetchError;
use perstack_registry::serve::ServeError;

use crate::cli::printer::StdoutError;

#[derive(Debug)]
pub enum CliError {
    /// Explained by one message.
    Failed { class: ErrorClass, message: String },
    /// Registry data that breaks rules; its problems were printed, and this sums them up.
    Invalid {
        what: String,
        errors: usize,
        warnings: usize,
        /// Whether the command would have written, and so says that it wrote nothing.
        wrote_nothing: bool,
    },
    /// Writing the result to stdout failed.
    Stdout(io::Error),
}

impl CliError {
    pub fn new(class: ErrorClass, message: impl Display) -> CliError {
        CliError::Failed {
            class,
            message: message.to_string(),
        }
    }

    /// The data is turned down (exit 1).
    pub fn data(message: impl Display) -> CliError {
        CliError::new(ErrorClass::Data, message)
    }

    /// A usage mistake, or an I/O or network failure (exit 2).
    pub fn environment(message: impl Display) -> CliError {
        CliError::new(ErrorClass::Environment, message)
    }

    /// `what` is invalid: it has the errors of `problems`, already printed.
    pub fn invalid(what: impl Display, problems: &Diagnostics, wrote_nothing: bool) -> CliError {
        CliError::Invalid {
            what: what.to_string(),
            errors: problems.count(Severity::Error),
            warnings: problems.count(Severity::Warning),
            wrote_nothing,
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            CliError::Failed { class, .. } => *class,
            CliError::Invalid { .. } => ErrorClass::Data,
            CliError::Stdout(_) => ErrorClass::Environment,
        }
    }

    /// Whether whoever read stdout stopped reading (as `head` does): nothing went wrong.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Stdout(err) if err.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The messages that explain the failure, one `error:` line each.
    pub fn messages(&self) -> Vec<String> {
        match self {
            CliError::Failed { message, .. } => vec![message.clone()],
            CliError::Invalid {
                what,
                errors,
                warnings,
                wrote_nothing,
            } => {
                let summary =
                    format!("{what} is invalid: {errors} error(s), {warnings} warning(s)");
                let mut messages = vec![summary];
                if *wrote_nothing {
                    messages.push("nothing was written".to_owned());
                }
                messages
            }
            CliError::Stdout(err) => vec![format!("cannot write to stdout: {err}")],
        }
    }
}

impl From<StdoutError> for CliError {
    fn from(StdoutError(err): StdoutError) -> CliError {
        CliError::Stdout(err)
    }
}

impl From<ClientError> for CliError {
    fn from(err: ClientError) -> CliError {
        CliError::new(err.class(), err)
    }
}

impl From<LockError> for CliError {
    fn from(err: LockError) -> CliError {
        CliError::new(err.class(), err)
    }
}

impl From<MirrorError> for CliError {
    fn from(err: MirrorError) -> CliError {
        CliError::new(err.class(), err)
    }
}

/// Errors that are never the data's fault: the data's problems come back as diagnostics, and
/// these say the work could not be done (a file, the network, a build or server that cannot
/// run). `FetchError` reaches here only from `verify`, whose registry cannot be reached at all.
macro_rules! environment_errors {
    ($($error:ty),*) => {$(
        impl From<$error> for CliError {
            fn from(err: $error) -> CliError {
                CliError::environment(err)
            }
        }
    )*};
}

environment_errors!(IoError, BuildError, PlanError, ServeError, FetchError);
