//! perstack-registry: a static, content-addressed registry of Perstack Expert definitions.
//!
//! The folders follow a published version from its file to its URL (ARCHITECTURE.md draws
//! it):
//!
//! - [`common`]: the vocabulary every stage shares (names, hashes, diagnostics, file I/O, JSON,
//!   signing, fetching files);
//! - [`data`]: `registry-data/` → a checked `Registry`;
//! - [`format`](mod@format): the static format both ends share: its paths and documents, and reading a
//!   published registry from its root;
//! - [`site`]: the website rendered from a checked registry;
//! - [`build`]: writes a registry atomically, refuses what would change a published one, and
//!   plans the deploy;
//! - [`authoring`]: publishing, editing and reviewing changes to `registry-data/`;
//! - [`client`]: resolving, fetching, caching, mirroring and auditing a built registry;
//! - [`serve`]: a built registry over HTTP(S) on this machine, as a static host serves it.
//!
//! Each folder imports only from the ones above it in this list (`client` and `serve` never
//! from `build`, `site` or `authoring`). The library never prints and never exits: the binary
//! (`src/main.rs` and `src/cli/`) does.

pub mod authoring;
pub mod build;
pub mod client;
pub mod common;
pub mod data;
pub mod format;
pub mod serve;
pub mod site;
