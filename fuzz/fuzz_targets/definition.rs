//! A version file: the per-file checks, then, when it passes, the Perstack API documents
//! rendered from it. Neither may panic, whatever the bytes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use perstack_registry::common::model::{ExpertName, Hash, Status};
use perstack_registry::data::definition::check_version_file;
use perstack_registry::format::api::{self, ApiExpert, ApiVersion};

fuzz_target!(|bytes: &[u8]| {
    let name = ExpertName::parse("@fuzz/expert").expect("a valid name");
    let mut problems = Vec::new();
    let path = Path::new("registry-data/@fuzz/expert/1.0.0.toml");
    if check_version_file(path, &name, "1.0.0", bytes, &mut problems).is_some() {
        let expert = ApiExpert {
            name: &name,
            dist_tags: vec![("latest", "1.0.0")],
            versions: vec![ApiVersion {
                version: "1.0.0",
                status: Status::Available,
                blake3: Hash::of(bytes),
                bytes,
                published: None,
            }],
        };
        api::documents(&expert).expect("a checked definition always renders");
    }
});
