//! The command line, in the binary only: [`args`] holds the clap types, `commands` one
//! function per command, `defaults` what is filled in when the arguments do not say, `error`
//! the one error type `main` maps to an exit status, and [`printer`] every report, progress line
//! and JSON document printed. The library never prints and never exits.

pub mod args;
mod commands;
mod defaults;
mod error;
pub mod printer;

pub use commands::run;
pub use error::CliError;
