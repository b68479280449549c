//! The static registry format, format 2 of `docs/format.md` (format 1 is still read), shared by
//! the writer and the readers: every path and document a built registry holds.
//!
//! [`index`] renders the hash-named documents (expert index documents, the bins, the root)
//! and owns their paths; [`api`] renders the Perstack API documents the runtime requests;
//! [`headers`] writes `_headers` and the pages' security policy; [`reader`] opens a published
//! registry from its root and follows hashes, for the build (the registry published before)
//! and for every client; [`log`] places the publish log (built from [`tlog`]) in the registry;
//! [`site_manifest`] lists the website's files for the root to pin.
//!
//! Imports from `common` and `data` (documents are rendered from checked experts).

pub mod api;
pub mod headers;
pub mod index;
pub mod log;
pub mod reader;
pub mod site_manifest;
pub mod tlog;

/// The directory in the output tree that holds the build's own state (lock, the marker of a
/// build at work, cache, plan). It is not part of the registry and is never uploaded or served.
pub const STATE_DIR: &str = ".perstack-build";
