//! perstack-registry: a static, content-addressed registry of Perstack Expert definitions.
//!
//! The data flows through the modules in this order: [`load`] walks `registry-data/` and checks
//! each file ([`definition`], [`meta`], [`settings`]); [`validate`] applies the rules that need
//! the whole registry; [`index`] renders the JSON documents; [`writeonce`] compares with the
//! registry published before ([`published`]); [`build`] writes it all atomically and records
//! the deploy [`plan`]. Beside the data flow sit the authoring commands ([`publish`] cuts
//! version files out of a perstack.toml, [`edit`] changes expert.toml), the pull-request
//! review ([`review`], reading the base revision through [`git`] and checking new [`names`]),
//! [`codeowners`] and [`init`]; [`outcome`] classifies their failures. The library never prints
//! and never exits: `main` does, through [`printer`].

pub mod build;
pub mod cache;
pub mod cli;
pub mod codeowners;
pub mod definition;
pub mod diagnostic;
pub mod edit;
pub mod fsutil;
pub mod git;
pub mod index;
pub mod init;
pub mod load;
pub mod meta;
pub mod model;
pub mod names;
pub mod outcome;
pub mod plan;
pub mod printer;
pub mod publish;
pub mod published;
pub mod review;
pub mod settings;
pub mod source;
pub mod validate;
pub mod writeonce;
