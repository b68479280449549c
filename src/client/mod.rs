//! Reading a built registry, as clients and mirrors do: [`trust`] decides whether to accept a
//! root; [`replica`] keeps verified local copies, of which the client [`cache`] (with
//! [`resolve`] and [`lockfile`], and [`gc`] to empty it of what nothing reaches) and [`mirror`]
//! are made, copying the publish log with [`publog`]; [`audit`] checks a whole registry.
//! Files arrive through `common::transport` and are followed from the root by `format::reader`.
//!
//! Imports from `common`, `data` and `format`; never from `build`, `site` or `authoring`.

pub mod audit;
pub mod cache;
pub mod gc;
pub mod lockfile;
pub mod mirror;
pub mod publog;
pub mod replica;
pub mod resolve;
pub mod trust;
