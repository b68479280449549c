//! Remembers what each expert and version page was rendered from, so unchanged pages are not
//! rendered again.
//!
//! Rendering an expert or version page means reading its definition, highlighting it and
//! rendering its instruction, most of the site's work in a large registry, and almost every page
//! is the same as last time. A page's
//! key (`Site::page_key` in this folder's module) is the hash of everything the page shows. The cache
//! maps each page to the key it was last written with; a page whose key is unchanged and whose
//! file still exists is skipped. Like the build cache it lives in the build's state directory
//! and only ever skips work: deleting it changes no output byte.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use crate::common::fsutil::{self, IoError};
use crate::common::model::Hash;

pub const FILE_NAME: &str = "pages.json";

#[derive(Debug, Default)]
pub struct PageCache {
    written: BTreeMap<String, Hash>,
    current: Mutex<BTreeMap<String, Hash>>,
}

impl PageCache {
    /// Loads the cache; an unreadable or damaged one is treated as empty.
    pub fn load(path: &Path) -> PageCache {
        let written = fsutil::read_optional(path)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        PageCache {
            written,
            current: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether `page` (relative to `out`) was written from `key` and is still there. Either way
    /// the key is remembered for the next build, which the caller must then make true by
    /// writing the page.
    pub fn is_fresh(&self, out: &Path, page: &str, key: Hash) -> bool {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(page.to_owned(), key);
        self.written.get(page) == Some(&key) && out.join(page).is_file()
    }

    /// Saves the keys of this build's pages, unless they are the ones loaded.
    pub fn save(self, path: &Path) -> Result<(), IoError> {
        let current = self
            .current
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current == self.written {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&current).expect("page keys always serialize");
        fsutil::write_atomic(path, &bytes, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_fresh_only_with_the_same_key_and_its_file_present() {
        let temp = tempfile::tempdir().unwrap();
        let cache_path = temp.path().join(FILE_NAME);
        let out = temp.path();
        let cache = PageCache::load(&cache_path);
        assert!(!cache.is_fresh(out, "a.html", Hash::of(b"1")));
        cache.save(&cache_path).unwrap();

        let cache = PageCache::load(&cache_path);
        assert!(
            !cache.is_fresh(out, "a.html", Hash::of(b"1")),
            "no file yet"
        );
        std::fs::write(out.join("a.html"), "page").unwrap();
        assert!(cache.is_fresh(out, "a.html", Hash::of(b"1")));
        assert!(!cache.is_fresh(out, "a.html", Hash::of(b"2")));
    }
}
