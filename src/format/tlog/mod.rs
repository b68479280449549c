//! The publish log's building blocks, in the C2SP formats (`tlog-tiles`, `tlog-checkpoint`,
//! `signed-note`): RFC 6962 Merkle hashing and proofs ([`merkle`]), the tile layout and an
//! appender that works from the log's right edge ([`tiles`]), and checkpoints as signed notes
//! ([`note`]).
//!
//! Tested against the RFC's definitions and the reference note of golang.org/x/mod's
//! `sumdb/note`. `format::log` places them in a registry (`v1/log/`); the build appends to the
//! log and full mirrors copy it.

pub mod merkle;
pub mod note;
pub mod tiles;
