//! The build cache: what each version file was found to hold, keyed by its file metadata.
//!
//! Parsing and checking 100k TOML files dominates a build, and almost all of them are the same
//! as last time. Like git's index, the cache trusts a file whose size, modification time, change
//! time and inode are all unchanged, and re-reads any other. A file modified within the last few
//! seconds is not remembered, so an edit in the same clock tick as a build is never missed.
//! The cache only ever skips work: deleting it changes no output byte.

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::definition::VersionRecord;
use crate::fsutil::{self, IoError};

/// Bump when the rules or the record change shape, to drop every old cache.
const CACHE_REVISION: u32 = 1;

/// Files modified this recently are re-read on the next build rather than trusted.
const RACY_WINDOW: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
}

impl Stamp {
    fn of(metadata: &Metadata) -> Stamp {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Stamp {
                size: metadata.len(),
                mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                    + i128::from(metadata.mtime_nsec()),
                ctime_ns: i128::from(metadata.ctime()) * 1_000_000_000
                    + i128::from(metadata.ctime_nsec()),
                inode: metadata.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let nanos = |t: std::io::Result<SystemTime>| {
                t.ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i128)
            };
            Stamp {
                size: metadata.len(),
                mtime_ns: nanos(metadata.modified()),
                ctime_ns: nanos(metadata.created()),
                inode: 0,
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    path: PathBuf,
    stamp: Stamp,
    record: VersionRecord,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    revision: u32,
    generator: String,
    entries: Vec<Entry>,
}

/// A cache loaded from disk plus what this build learned.
#[derive(Debug)]
pub struct BuildCache {
    known: HashMap<PathBuf, Entry>,
    seen: Mutex<Vec<Entry>>,
    /// Whether this build learned something the file on disk does not hold.
    learned: std::sync::atomic::AtomicBool,
    racy_after: SystemTime,
}

impl BuildCache {
    /// Loads the cache at `path`; a missing, unreadable or outdated cache is an empty one.
    ///
    /// Settings do not key the cache: the only setting that decides validity, the size limit,
    /// is checked before the cache is consulted.
    pub fn load(path: &Path) -> BuildCache {
        let known = fsutil::read_optional(path)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|file| {
                file.revision == CACHE_REVISION && file.generator == env!("CARGO_PKG_VERSION")
            })
            .map(|file| {
                file.entries
                    .into_iter()
                    .map(|entry| (entry.path.clone(), entry))
                    .collect()
            })
            .unwrap_or_default();
        BuildCache {
            known,
            seen: Mutex::new(Vec::new()),
            learned: std::sync::atomic::AtomicBool::new(false),
            racy_after: SystemTime::now() - RACY_WINDOW,
        }
    }

    /// The record of an unchanged file, if the cache knows it.
    pub fn lookup(&self, path: &Path, metadata: &Metadata) -> Option<VersionRecord> {
        let entry = self.known.get(path)?;
        if entry.stamp != Stamp::of(metadata) {
            return None;
        }
        self.lock().push(entry.clone());
        Some(entry.record.clone())
    }

    /// Records what a valid file holds, unless it changed too recently to be trusted.
    pub fn remember(&self, path: &Path, metadata: &Metadata, record: &VersionRecord) {
        let recent = metadata
            .modified()
            .map_or(true, |modified| modified >= self.racy_after);
        self.learned
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if !recent {
            self.lock().push(Entry {
                path: path.to_path_buf(),
                stamp: Stamp::of(metadata),
                record: record.clone(),
            });
        }
    }

    /// Writes the entries used or learned by this build (and no others) to `path`, unless the
    /// file already holds exactly those.
    pub fn save(self, path: &Path) -> Result<(), IoError> {
        let learned = self.learned.into_inner();
        let mut entries = self
            .seen
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !learned && entries.len() == self.known.len() {
            return Ok(());
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let file = CacheFile {
            revision: CACHE_REVISION,
            generator: env!("CARGO_PKG_VERSION").to_owned(),
            entries,
        };
        let bytes = serde_json::to_vec(&file).expect("cache entries always serialize");
        fsutil::write_atomic(path, &bytes, false)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
