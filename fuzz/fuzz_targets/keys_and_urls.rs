//! Keys, names, versions and URLs as users and definitions write them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use perstack_registry::client::resolve::Request;
use perstack_registry::common::model::{
    ExpertKey, ExpertName, check_public_https_url, parse_canonical_version,
};

fuzz_target!(|text: &str| {
    let _ = ExpertName::parse(text);
    let _ = ExpertKey::parse(text);
    let _ = Request::parse(text);
    let _ = parse_canonical_version(text);
    let _ = check_public_https_url(text);
});
