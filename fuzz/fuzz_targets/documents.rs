//! Every document a client reads from a registry it does not trust: the root, a bin, a
//! format-1 snapshot, an expert index document, and of the publish log an entry, an entry
//! bundle, a tile path, the checkpoint (a signed note) and an expert's hint file, and a
//! document of the website manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use perstack_registry::common::model::ExpertName;
use perstack_registry::format::log::{Event, Hint};
use perstack_registry::format::reader::{self, SnapshotDoc};
use perstack_registry::format::site_manifest;
use perstack_registry::format::tlog::{note, tiles};

fuzz_target!(|bytes: &[u8]| {
    let _ = reader::parse_root("fuzz/v1/root.json", bytes);
    // A bin checked at each kind of place: the only level, an inner level, and a leaf under
    // two slots (where names must hash to those slots).
    let _ = reader::check_bin("fuzz/v1/bins/x.json", bytes, 1, &[]);
    let _ = reader::check_bin("fuzz/v1/bins/x.json", bytes, 3, &[5]);
    let _ = reader::check_bin("fuzz/v1/bins/x.json", bytes, 3, &[5, 63]);
    // A website manifest document at each kind of place: the top of a one-level tree, an
    // inner document, and one bounded by the paths its parent gives (its leaves list paths a
    // mirror writes).
    for place in [
        site_manifest::Place {
            height: 0,
            first: None,
            before: None,
        },
        site_manifest::Place {
            height: 2,
            first: None,
            before: None,
        },
        site_manifest::Place {
            height: 0,
            first: Some("experts/a/index.html"),
            before: Some("search/index.json"),
        },
    ] {
        let _ = site_manifest::parse("fuzz/v1/site/x.json", bytes, &place);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = site_manifest::check_path(text);
    }
    let _ = reader::parse_json::<SnapshotDoc>("fuzz/v1/snapshots/x.json", bytes);
    let _ = reader::parse_index("fuzz/v1/index/x.json", bytes);
    let _ = Event::parse(bytes);
    if let Ok(name) = ExpertName::parse("@fuzz/hint")
        && let Ok(hint) = Hint::parse("fuzz/v1/log/experts/@fuzz/hint.json", &name, bytes)
    {
        let _ = hint.render(&name);
    }
    let _ = tiles::parse_bundle("fuzz/v1/log/tile/entries/000", bytes, 256);
    let _ = tiles::parse_bundle("fuzz/v1/log/tile/entries/000.p/3", bytes, 3);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = tiles::parse_tile_path(text);
        let _ = note::Checkpoint::parse_text(text);
        if let Ok(opened) = note::open(text) {
            let _ = note::verified_by(&opened, "fuzz", &[7; 32]);
        }
    }
});
