//! Every JSON document a client reads from a registry it does not trust: the root, a
//! snapshot, an expert index document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use perstack_registry::format::reader::{self, SnapshotDoc};

fuzz_target!(|bytes: &[u8]| {
    let _ = reader::parse_root("fuzz/v1/root.json", bytes);
    let _ = reader::parse_json::<SnapshotDoc>("fuzz/v1/snapshots/x.json", bytes);
    let _ = reader::parse_index("fuzz/v1/index/x.json", bytes);
});
