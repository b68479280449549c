//! Every JSON document a client reads from a registry it does not trust: the root, a bin, a
//! format-1 snapshot, an expert index document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use perstack_registry::format::reader::{self, SnapshotDoc};

fuzz_target!(|bytes: &[u8]| {
    let _ = reader::parse_root("fuzz/v1/root.json", bytes);
    // A bin checked at each kind of place: the only level, an inner level, and a leaf under
    // two slots (where names must hash to those slots).
    let _ = reader::check_bin("fuzz/v1/bins/x.json", bytes, 1, &[]);
    let _ = reader::check_bin("fuzz/v1/bins/x.json", bytes, 3, &[5]);
    let _ = reader::check_bin("fuzz/v1/bins/x.json", bytes, 3, &[5, 63]);
    let _ = reader::parse_json::<SnapshotDoc>("fuzz/v1/snapshots/x.json", bytes);
    let _ = reader::parse_index("fuzz/v1/index/x.json", bytes);
});
