//! `registry.toml`: the registry's settings.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use perstack_registry::data::settings;

fuzz_target!(|bytes: &[u8]| {
    let mut problems = Vec::new();
    settings::parse(Path::new("registry-data/registry.toml"), bytes, &mut problems);
});
