//! perstack-registry: a static, content-addressed registry of Perstack Expert definitions.
//!
//! The data flows through the modules in this order: [`load`] walks `registry-data/` and checks
//! each file ([`definition`] with [`provider`], [`meta`], [`settings`]); [`validate`] applies the rules that need
//! the whole registry; [`index`] renders the JSON documents and [`api`] the Perstack API
//! documents; [`writeonce`] compares with the registry published before ([`published`]);
//! [`site`] renders the website; [`build`] writes it all
//! atomically, signing the root with [`signing`] ([`timestamp`] gives
//! it an expiry), and records the deploy [`plan`].
//!
//! Beside the data flow sit the authoring commands ([`publish`] cuts version files out of a
//! perstack.toml, [`edit`] changes expert.toml), the pull-request review ([`review`], reading
//! the base revision through [`git`] and checking new [`names`]), [`codeowners`] and [`init`];
//! [`outcome`] classifies their failures.
//!
//! Reading a built registry goes the other way: [`transport`] fetches its files from a
//! directory or over HTTP; [`published`] follows hashes from the root; [`trust`] decides whether
//! to accept the root; [`replica`] keeps verified local copies, which the client cache
//! ([`client`], with [`resolve`] and [`lockfile`]) and [`mirror`] are made of; [`audit`] checks
//! a whole registry; [`serve`] serves one locally over HTTP(S), as a static host would. The
//! library never prints and never exits: `main` does, through [`printer`].

pub mod api;
pub mod audit;
pub mod build;
pub mod cache;
pub mod cli;
pub mod client;
pub mod codeowners;
pub mod definition;
pub mod diagnostic;
pub mod edit;
pub mod fsutil;
pub mod git;
pub mod index;
pub mod init;
pub mod load;
pub mod lockfile;
pub mod meta;
pub mod mirror;
pub mod model;
pub mod names;
pub mod outcome;
pub mod plan;
pub mod printer;
pub mod provider;
pub mod publish;
pub mod published;
pub mod replica;
pub mod resolve;
pub mod review;
pub mod serve;
pub mod settings;
pub mod signing;
pub mod site;
pub mod source;
pub mod timestamp;
pub mod transport;
pub mod trust;
pub mod validate;
pub mod writeonce;
