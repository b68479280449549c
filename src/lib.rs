//! perstack-registry: a static, content-addressed registry of Perstack Expert definitions.
//!
//! The data flows through the modules in this order: [`load`] walks `registry-data/` and checks
//! each file ([`definition`], [`meta`], [`settings`]); [`validate`] applies the rules that need
//! the whole registry; [`index`] renders the JSON documents; [`writeonce`] compares with the
//! registry published before ([`published`]); [`site`] renders the website; [`build`] writes it
//! all atomically. The library never prints and never exits: `main` does, through [`printer`].

pub mod build;
pub mod cache;
pub mod cli;
pub mod definition;
pub mod diagnostic;
pub mod fsutil;
pub mod index;
pub mod load;
pub mod meta;
pub mod model;
pub mod printer;
pub mod published;
pub mod settings;
pub mod site;
pub mod source;
pub mod validate;
pub mod writeonce;
