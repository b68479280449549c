//! The vocabulary every stage shares, and nothing else: checked names, versions and hashes
//! ([`model`]), problems with their place ([`diagnostic`]), file I/O that names its path and
//! writes atomically ([`fsutil`]), the one way JSON documents are rendered ([`json`]), times
//! ([`timestamp`]), Ed25519 keys and signatures ([`signing`]), fetching a registry's files from
//! a directory, over HTTP or from a single-file archive ([`transport`], [`archive`]) and
//! progress reporting ([`progress`]).
//!
//! Nothing here knows about registry-data, the build or the clients: every other folder may
//! import from `common`, and `common` imports from none of them.

pub mod archive;
pub mod diagnostic;
pub mod fsutil;
pub mod json;
pub mod model;
pub mod progress;
pub mod signing;
pub mod sorted_map;
pub mod timestamp;
pub mod transport;

/// The generator string recorded in roots and sent as the HTTP User-Agent.
pub fn generator() -> String {
    format!("perstack-registry {}", env!("CARGO_PKG_VERSION"))
}
