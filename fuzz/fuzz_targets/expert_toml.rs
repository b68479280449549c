//! `expert.toml`: tags, retired tags and version statuses.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use perstack_registry::data::meta;

fuzz_target!(|bytes: &[u8]| {
    let mut problems = Vec::new();
    meta::parse(Path::new("registry-data/fuzz/expert.toml"), bytes, &mut problems);
});
