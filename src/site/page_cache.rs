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
//!
//! Beside each key it keeps the BLAKE3 and size of the bytes the page was written with, which
//! the website manifest lists: a skipped page's entry comes from here rather than from reading
//! the file again, so a build's I/O grows with the pages it renders, not with the site.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::common::fsutil::{self, IoError};
use crate::common::model::Hash;
use crate::format::index::IndexRef;

pub const FILE_NAME: &str = "pages.json";
/// Format 1 held keys alone; a cache of another format is read as empty.
const FORMAT: u64 = 2;

/// What a page was last written from, and with what bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Written {
    key: Hash,
    blake3: Hash,
    size: u64,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    format: u64,
    pages: BTreeMap<String, Written>,
}

#[derive(Debug, Default)]
pub struct PageCache {
    written: BTreeMap<String, Written>,
    current: Mutex<BTreeMap<String, Written>>,
}

impl PageCache {
    /// Loads the cache; an unreadable or damaged one, or one of another format, is treated as
    /// empty.
    pub fn load(path: &Path) -> PageCache {
        let written = fsutil::read_optional(path)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|stored| stored.format == FORMAT)
            .map(|stored| stored.pages)
            .unwrap_or_default();
        PageCache {
            written,
            current: Mutex::new(BTreeMap::new()),
        }
    }

    /// The hash and size `page` (relative to `out`) was written with, when it was written from
    /// `key` and is still there; it is then remembered for the next build. `None` means the
    /// caller renders the page and calls [`PageCache::remember`].
    pub fn fresh(&self, out: &Path, page: &str, key: Hash) -> Option<IndexRef> {
        let written = self
            .written
            .get(page)
            .filter(|written| written.key == key && out.join(page).is_file())?;
        self.lock().insert(page.to_owned(), *written);
        Some(IndexRef {
            hash: written.blake3,
            size: written.size,
        })
    }

    /// Records that `page` is written from `key` with the bytes `entry` describes.
    pub fn remember(&self, page: &str, key: Hash, entry: IndexRef) {
        self.lock().insert(
            page.to_owned(),
            Written {
                key,
                blake3: entry.hash,
                size: entry.size,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Written>> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Saves this build's pages, unless they are the ones loaded.
    pub fn save(self, path: &Path) -> Result<(), IoError> {
        let pages = self
            .current
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if pages == self.written {
            return Ok(());
        }
        let stored = Stored {
            format: FORMAT,
            pages,
        };
        let bytes = serde_json::to_vec(&stored).expect("page entries always serialize");
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
        let entry = IndexRef {
            hash: Hash::of(b"page"),
            size: 4,
        };
        let cache = PageCache::load(&cache_path);
        assert_eq!(cache.fresh(out, "a.html", Hash::of(b"1")), None);
        cache.remember("a.html", Hash::of(b"1"), entry);
        cache.save(&cache_path).unwrap();

        let cache = PageCache::load(&cache_path);
        assert_eq!(
            cache.fresh(out, "a.html", Hash::of(b"1")),
            None,
            "no file yet"
        );
        std::fs::write(out.join("a.html"), "page").unwrap();
        assert_eq!(cache.fresh(out, "a.html", Hash::of(b"1")), Some(entry));
        assert_eq!(cache.fresh(out, "a.html", Hash::of(b"2")), None);
    }

    #[test]
    fn a_cache_of_keys_alone_is_read_as_empty() {
        let temp = tempfile::tempdir().unwrap();
        let cache_path = temp.path().join(FILE_NAME);
        std::fs::write(
            &cache_path,
            format!("{{\"a.html\":\"{}\"}}", Hash::of(b"1")),
        )
        .unwrap();
        std::fs::write(temp.path().join("a.html"), "page").unwrap();
        let cache = PageCache::load(&cache_path);
        assert_eq!(cache.fresh(temp.path(), "a.html", Hash::of(b"1")), None);
    }
}
