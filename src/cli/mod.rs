//! The command line, in the binary only: [`args`] holds the clap types, [`printer`] every
//! report, progress line and JSON document printed. The library never prints and never exits.

pub mod args;
pub mod printer;
