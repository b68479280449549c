//! The build cache: what each version file was found to hold, keyed by its file metadata.
//!
//! Parsing and checking every version file dominates a build, and almost all of them are the
//! same as last time. Like git's index, the cache trusts a file whose size, modification time,
//! change time and inode are all unchanged, and re-reads any other. A file modified within the
//! last few seconds is not remembered, so an edit in the same clock tick as a build is never
//! missed. The cache only ever skips work: deleting it changes no output byte.
//!
//! The cache is binary ([postcard]): loading it is most of a rebuild with one new version, and
//! the same data as JSON is larger and slower to load. It is written as a stream, and the
//! lookup table is dropped as soon as the data has been loaded.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::common::fsutil::{self, IoError};
use crate::data::definition::VersionRecord;

/// Bump when the rules or the record change shape, to drop every old cache.
const CACHE_REVISION: u32 = 2;

/// The cache's file name under the build's state directory.
pub const FILE_NAME: &str = "cache.bin";

/// Files modified this recently are re-read on the next build rather than trusted.
const RACY_WINDOW: Duration = Duration::from_secs(3);

/// What identifies an unchanged file: size, times and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
}

impl Stamp {
    pub fn of(metadata: &Metadata) -> Stamp {
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

#[derive(Debug, Serialize, Deserialize)]
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

/// The records of the last build, for looking up files while loading.
#[derive(Debug)]
pub struct BuildCache {
    /// Each record is taken out on its hit (a file is looked up once per build), so records
    /// are never held twice.
    known: HashMap<PathBuf, (Stamp, Mutex<Option<VersionRecord>>)>,
    hits: AtomicUsize,
    misses: AtomicUsize,
    racy_after: SystemTime,
}

impl BuildCache {
    /// Loads the cache at `path`; a missing, unreadable or outdated cache is an empty one.
    pub fn load(path: &Path) -> BuildCache {
        let known = std::fs::read(path)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<CacheFile>(&bytes).ok())
            .filter(|file| {
                file.revision == CACHE_REVISION && file.generator == env!("CARGO_PKG_VERSION")
            })
            .map(|file| {
                file.entries
                    .into_iter()
                    .map(|entry| (entry.path, (entry.stamp, Mutex::new(Some(entry.record)))))
                    .collect()
            })
            .unwrap_or_default();
        BuildCache {
            known,
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            racy_after: SystemTime::now() - RACY_WINDOW,
        }
    }

    /// The record of an unchanged file, if the cache knows it.
    pub fn lookup(&self, path: &Path, metadata: &Metadata) -> Option<VersionRecord> {
        match self.known.get(path) {
            Some((stamp, record)) if *stamp == Stamp::of(metadata) => {
                let record = record
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .take();
                if record.is_some() {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                }
                record
            }
            _ => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The stamp to remember for a file just read, unless it changed too recently to be
    /// trusted next time.
    pub fn stamp(&self, metadata: &Metadata) -> Option<Stamp> {
        let settled = metadata
            .modified()
            .is_ok_and(|modified| modified < self.racy_after);
        settled.then(|| Stamp::of(metadata))
    }

    /// Whether every file was found unchanged and nothing else was in the cache, so the cache
    /// on disk is already exactly what [`save`] would write.
    pub fn fully_reused(&self) -> bool {
        self.misses.load(Ordering::Relaxed) == 0
            && self.hits.load(Ordering::Relaxed) == self.known.len()
    }
}

/// Writes the cache for a valid registry: one entry per version file with a settled stamp
/// (`Registry::cache_entries`).
pub fn save<'a>(
    path: &Path,
    version_files: impl Iterator<Item = (&'a Path, Stamp, &'a VersionRecord)>,
) -> Result<(), IoError> {
    #[derive(Serialize)]
    struct EntryRef<'a> {
        path: &'a Path,
        stamp: Stamp,
        record: &'a VersionRecord,
    }
    #[derive(Serialize)]
    struct CacheFileRef<'a> {
        revision: u32,
        generator: &'a str,
        entries: Vec<EntryRef<'a>>,
    }
    let entries = version_files
        .map(|(path, stamp, record)| EntryRef {
            path,
            stamp,
            record,
        })
        .collect();
    let file = CacheFileRef {
        revision: CACHE_REVISION,
        generator: env!("CARGO_PKG_VERSION"),
        entries,
    };
    fsutil::write_atomic_with(path, |writer: &mut BufWriter<std::fs::File>| {
        postcard::to_io(&file, &mut *writer).map_err(std::io::Error::other)?;
        writer.flush()
    })
}
