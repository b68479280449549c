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
//!
//! In a git checkout the cache also records the commit the build was made from ([`GitRecord`]),
//! in a header read before the entries, so that git can be asked what changed since while the
//! entries are decoded (see [`crate::data::git_changes`]). An expert directory git reports no
//! change in is then taken from the entries without looking at its files.

use std::collections::{BTreeSet, HashMap};
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
const CACHE_REVISION: u32 = 5;

/// The cache's file name under the build's state directory.
pub const FILE_NAME: &str = "cache.bin";

/// Files modified this recently are re-read on the next build rather than trusted.
const RACY_WINDOW: Duration = Duration::from_secs(3);

/// What identifies an unchanged file: size, times and inode.
///
/// Times are nanoseconds since the epoch in an `i64`, which reaches the year 2262: a full build
/// holds one stamp per version, and `i128`s (aligned to 16 bytes) made each stamp 64 bytes
/// where 32 do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    inode: u64,
}

/// Seconds and nanoseconds as nanoseconds, saturating outside 1678 to 2262. Only a
/// modification time set by hand can be that far off; the change time, which the kernel sets to
/// the clock on every edit, still tells an edited file apart (and a file modified in the
/// future is never settled enough to be stamped).
#[cfg(unix)]
fn nanos(seconds: i64, nanoseconds: i64) -> i64 {
    seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(nanoseconds)
}

impl Stamp {
    pub fn of(metadata: &Metadata) -> Stamp {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Stamp {
                size: metadata.len(),
                mtime_ns: nanos(metadata.mtime(), metadata.mtime_nsec()),
                ctime_ns: nanos(metadata.ctime(), metadata.ctime_nsec()),
                inode: metadata.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let nanos = |t: std::io::Result<SystemTime>| {
                t.ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
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

/// What the cache file starts with, decoded on its own before the entries.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    revision: u32,
    generator: String,
    git: Option<GitRecord>,
}

/// The git state the cache's records were read in: every file of an expert directory not in
/// [`GitRecord::reread`] held, when it was read, what `commit` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitRecord {
    /// The commit `HEAD` named.
    pub commit: String,
    /// Experts (by name, which is also their directory below the data directory) to walk on
    /// the next build whatever git says: they held files the working tree had changed from
    /// `HEAD`, or files modified too recently for their stamp to be trusted.
    pub reread: BTreeSet<String>,
    /// Experts whose directory holds an `expert.toml`.
    pub with_meta: BTreeSet<String>,
}

/// Each version file's stamp and record, the record until a lookup takes it.
type Known = HashMap<PathBuf, (Stamp, Mutex<Option<Box<VersionRecord>>>)>;

/// The records of the last build, for looking up files while loading.
#[derive(Debug)]
pub struct BuildCache {
    /// Each record is taken out on its hit (a file is looked up once per build), so records
    /// are never held twice. Boxed, so that what a taken entry leaves in the table while the
    /// registry it filled is validated is a path, a stamp and a pointer, not an empty record's
    /// room (160 bytes a version).
    known: Known,
    hits: AtomicUsize,
    misses: AtomicUsize,
    racy_after: SystemTime,
    /// The git state the records were read in, if the last build knew it.
    git: Option<GitRecord>,
    /// The git state of this build's records, once the loader knows it: saving the cache is
    /// needed when it differs from `git`.
    pub next_git: Option<GitRecord>,
    /// The commit the data directory matched exactly when this build read it (git reported
    /// no modified, untracked or ignored file, and no file was too recent to trust its stamp),
    /// if it did: a later build that git tells nothing changed since can skip its work.
    pub clean_commit: Option<String>,
}

/// A cache file read and its header decoded; the entries are decoded by [`OpenedCache::load`].
pub struct OpenedCache {
    bytes: Vec<u8>,
    /// Where the entries start in `bytes`, when the header is of this revision and generator.
    entries_at: Option<usize>,
    git: Option<GitRecord>,
}

impl OpenedCache {
    /// Reads the cache at `path`; a missing, unreadable or outdated cache is an empty one.
    pub fn read(path: &Path) -> OpenedCache {
        let bytes = std::fs::read(path).unwrap_or_default();
        let header = postcard::take_from_bytes::<Header>(&bytes)
            .ok()
            .filter(|(header, _)| {
                header.revision == CACHE_REVISION && header.generator == env!("CARGO_PKG_VERSION")
            })
            .map(|(header, rest)| (header.git, bytes.len() - rest.len()));
        let (git, entries_at) = match header {
            Some((git, at)) => (git, Some(at)),
            None => (None, None),
        };
        OpenedCache {
            bytes,
            entries_at,
            git,
        }
    }

    /// The git state the cache's records were read in, if recorded.
    pub fn git(&self) -> Option<&GitRecord> {
        self.git.as_ref()
    }

    /// Decodes the entries; an entry list that does not decode is an empty cache.
    pub fn load(self) -> BuildCache {
        let known = self
            .entries_at
            .and_then(|at| decode_entries(&self.bytes[at..]));
        let git = known.as_ref().and(self.git);
        let known = known.unwrap_or_default();
        BuildCache {
            known,
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            racy_after: SystemTime::now() - RACY_WINDOW,
            git,
            next_git: None,
            clean_commit: None,
        }
    }
}

/// The entries of a cache file (postcard's `Vec<Entry>`: a length, then each entry), each put
/// in the table as it is decoded rather than all decoded first: at a million versions the
/// decoded list alone would be hundreds of megabytes beside the table.
fn decode_entries(bytes: &[u8]) -> Option<Known> {
    let (count, mut rest) = postcard::take_from_bytes::<usize>(bytes).ok()?;
    // An entry takes more than 16 bytes, so a damaged length cannot reserve more than the
    // file could hold.
    let mut known = HashMap::with_capacity(count.min(rest.len() / 16));
    for _ in 0..count {
        let (entry, after) = postcard::take_from_bytes::<Entry>(rest).ok()?;
        rest = after;
        known.insert(
            entry.path,
            (entry.stamp, Mutex::new(Some(Box::new(entry.record)))),
        );
    }
    rest.is_empty().then_some(known)
}

impl BuildCache {
    /// The git state the records were read in, if the last build recorded it.
    pub fn git(&self) -> Option<&GitRecord> {
        self.git.as_ref()
    }

    /// The version files the cache knows, grouped by the directory that holds them.
    pub fn files_by_dir(&self) -> HashMap<&Path, Vec<&Path>> {
        let mut by_dir: HashMap<&Path, Vec<&Path>> = HashMap::new();
        for path in self.known.keys() {
            if let Some(dir) = path.parent() {
                by_dir.entry(dir).or_default().push(path);
            }
        }
        // In the order the walk would find them, so nothing depends on the table's order.
        for files in by_dir.values_mut() {
            files.sort_unstable();
        }
        by_dir
    }

    /// The stamp and record of a file known unchanged without looking at it (git says its
    /// directory did not change), if the cache knows it.
    pub fn take(&self, path: &Path) -> Option<(Stamp, VersionRecord)> {
        let (stamp, record) = self.known.get(path)?;
        let record = record
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some((*stamp, *record))
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
                record.map(|record| *record)
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

    /// Whether every file was found unchanged, nothing else was in the cache and the git state
    /// is the same, so the cache on disk is already exactly what [`save`] would write.
    pub fn fully_reused(&self) -> bool {
        self.misses.load(Ordering::Relaxed) == 0
            && self.hits.load(Ordering::Relaxed) == self.known.len()
            && self.git == self.next_git
    }
}

/// Writes the cache for a valid registry: one entry per version file with a settled stamp
/// (`Registry::cache_entries`), and the git state they were read in, if known.
pub fn save<'a>(
    path: &Path,
    git: Option<&GitRecord>,
    version_files: impl Iterator<Item = (&'a Path, Stamp, &'a VersionRecord)>,
) -> Result<(), IoError> {
    #[derive(Serialize)]
    struct EntryRef<'a> {
        path: &'a Path,
        stamp: Stamp,
        record: &'a VersionRecord,
    }
    #[derive(Serialize)]
    struct HeaderRef<'a> {
        revision: u32,
        generator: &'a str,
        git: Option<&'a GitRecord>,
    }
    let header = HeaderRef {
        revision: CACHE_REVISION,
        generator: env!("CARGO_PKG_VERSION"),
        git,
    };
    let entries: Vec<EntryRef<'_>> = version_files
        .map(|(path, stamp, record)| EntryRef {
            path,
            stamp,
            record,
        })
        .collect();
    fsutil::write_atomic_with(path, |writer: &mut BufWriter<std::fs::File>| {
        postcard::to_io(&header, &mut *writer).map_err(std::io::Error::other)?;
        postcard::to_io(&entries, &mut *writer).map_err(std::io::Error::other)?;
        writer.flush()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> VersionRecord {
        VersionRecord {
            version: format!("1.0.{n}"),
            blake3: crate::common::model::Hash::of(n.to_string().as_bytes()),
            size: n as u64,
            description: format!("version {n}"),
            required_env: vec![format!("KEY_{n}")],
            delegates: Vec::new(),
            categories: vec!["coding".to_owned()],
        }
    }

    #[test]
    fn saved_entries_load_back_one_by_one_and_a_damaged_list_is_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(&file, "x").unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&file).unwrap());
        let paths: Vec<PathBuf> = (0..300)
            .map(|n| dir.path().join(format!("e/{n}.toml")))
            .collect();
        let records: Vec<VersionRecord> = (0..300).map(record).collect();
        let cache_path = dir.path().join(FILE_NAME);
        save(
            &cache_path,
            None,
            paths
                .iter()
                .zip(&records)
                .map(|(path, record)| (path.as_path(), stamp, record)),
        )
        .unwrap();

        let cache = OpenedCache::read(&cache_path).load();
        assert_eq!(cache.known.len(), 300);
        for (path, record) in paths.iter().zip(&records) {
            assert_eq!(cache.take(path), Some((stamp, record.clone())));
        }
        assert_eq!(cache.take(&paths[0]), None, "a record is taken once");

        let bytes = std::fs::read(&cache_path).unwrap();
        for damaged in [
            bytes[..bytes.len() - 1].to_vec(),
            [bytes.as_slice(), b"trailing"].concat(),
        ] {
            std::fs::write(&cache_path, damaged).unwrap();
            assert!(OpenedCache::read(&cache_path).load().known.is_empty());
        }
    }
}
