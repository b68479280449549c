//! A registry archive (`mirror registry.tar DEST`, `verify registry.tar`): indexing never
//! panics, and every file it accepts has a name that stays inside the registry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use perstack_registry::common::archive;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(files) = archive::list(bytes) {
        for name in files {
            assert!(
                !name.is_empty()
                    && !name.starts_with('/')
                    && !name.contains('\\')
                    && !name.contains('\0')
                    && name
                        .split('/')
                        .all(|segment| !segment.is_empty() && segment != "." && segment != ".."),
                "accepted {name:?}"
            );
        }
    }
});
