//! `cache gc`: remove from a client cache every hash-named file (blob, index document, bin,
//! snapshot) that no kept root reaches.
//!
//! **What is kept**, in each registry directory of the cache (`<cache>/<id>/`):
//! - everything the cache's own root (`v1/root.json`) reaches: its bins, the index document
//!   of every expert it holds completely, and every blob those documents list. This is what
//!   `--offline` reads, and what a lockfile pins: versions are never removed from an index
//!   document, so a pinned version of a cached expert stays reachable.
//! - the bins of the source's root the cache last saw (`v1/upstream-root.json`) that the cache
//!   holds, which the next online run reads first when they have not changed (the snapshot,
//!   for a format-1 source).
//!
//! Everything else hash-named goes: bins, snapshots and index documents the registry has replaced,
//! index documents read only to resolve a key, blobs of no cached expert. Stable paths (the
//! roots, readable copies, `_headers`) and the client's state are never touched, nor is
//! anything that is not a registry directory (`serve --tls` keeps its certificates beside them).
//!
//! **Safety with other processes.** Every client holds the registry directory's lock
//! (`.perstack-client/lock`) for as long as it reads or writes it, and `gc` takes the same lock
//! (waiting for a running `fetch`) before it reads the root, so no file is removed that another
//! process has just been told to read. Only regular files are removed; a symbolic link where a
//! registry directory belongs makes `gc` leave that registry alone and say why, and none is
//! ever followed. A registry whose own root does not lead to intact documents is left alone
//! too: what it reaches cannot be known, and removing by guess could empty it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::client::replica::{Replica, STATE_DIR, UPSTREAM_ROOT_PATH};
use crate::common::fsutil::{self, IoContext, IoError};
use crate::common::transport::Source;
use crate::format::index;
use crate::format::reader::PublishedRegistry;

/// The directories below a registry directory that hold hash-named files.
const HASHED_DIRS: [&str; 4] = ["v1/blobs", "v1/index", "v1/bins", "v1/snapshots"];

#[derive(Debug, Clone)]
pub struct GcOptions {
    /// The cache directory, holding one directory per registry.
    pub cache: PathBuf,
    /// Report what would be removed, removing nothing.
    pub dry_run: bool,
}

/// What `gc` did; also the document `cache gc --format json` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    /// Files removed (or, with `dry_run`, that would be), over every registry.
    pub removed: usize,
    pub bytes: u64,
    pub registries: Vec<RegistryGc>,
}

/// One registry directory of the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RegistryGc {
    /// The directory's name in the cache.
    pub id: String,
    /// Hash-named files kept.
    pub kept: usize,
    pub removed: usize,
    pub bytes: u64,
    /// Why this registry was left alone, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Collects every registry directory of the cache in turn. Only failing to read the cache
/// itself, or to remove a file, is an error; a registry that cannot be collected is reported
/// as skipped and the others are collected.
pub fn gc(options: &GcOptions) -> Result<GcReport, IoError> {
    let mut report = GcReport {
        dry_run: options.dry_run,
        ..GcReport::default()
    };
    let entries = match fs::read_dir(&options.cache) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(err) => return Err(IoError::new("cannot read", &options.cache, err)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.with_path("cannot read", &options.cache)?;
        let path = entry.path();
        // A registry directory is a real directory with the client's state in it.
        let is_registry = fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir())
            && fs::symlink_metadata(path.join(STATE_DIR)).is_ok_and(|meta| meta.is_dir());
        if is_registry {
            dirs.push(path);
        }
    }
    dirs.sort();
    for dir in dirs {
        let collected = collect(&dir, options.dry_run)?;
        report.removed += collected.removed;
        report.bytes += collected.bytes;
        report.registries.push(collected);
    }
    Ok(report)
}

/// Collects one registry directory, holding its lock throughout.
fn collect(dir: &Path, dry_run: bool) -> Result<RegistryGc, IoError> {
    let mut outcome = RegistryGc {
        id: dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..RegistryGc::default()
    };
    // Waits for any client using the directory; held until the end of this function.
    let replica = match Replica::open(dir, None, true) {
        Ok(replica) => replica,
        Err(err) => {
            outcome.skipped = Some(err.to_string());
            return Ok(outcome);
        }
    };
    sweep(&replica, dry_run, outcome)
}

/// Removes (unless `dry_run`) the hash-named files no kept root of `replica`'s directory
/// reaches, adding what it did to `outcome`. The caller holds the directory's lock: `gc` for
/// a cache, and a mirror into an archive for its working directory, which must hold nothing
/// but what the new root reaches (a run killed before the source changed may have left the
/// old bins and index documents there).
pub fn sweep(
    replica: &Replica,
    dry_run: bool,
    mut outcome: RegistryGc,
) -> Result<RegistryGc, IoError> {
    let dir = replica.dir.as_path();
    if let Some(link) = linked_dir(dir) {
        outcome.skipped = Some(format!(
            "{} is a symbolic link; refusing to collect through it (remove it; fetch fills the cache again)",
            link.display()
        ));
        return Ok(outcome);
    }
    let kept = match reachable(replica) {
        Ok(kept) => kept,
        Err(reason) => {
            outcome.skipped = Some(format!(
                "cannot tell what its root reaches, so nothing was removed: {reason} (fetch online to repair it, or remove {})",
                dir.display()
            ));
            return Ok(outcome);
        }
    };
    let mut emptied = Vec::new();
    for hashed in HASHED_DIRS {
        let top = dir.join(hashed);
        for entry in walkdir::WalkDir::new(&top)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err)
                    if err.io_error().map(std::io::Error::kind)
                        == Some(std::io::ErrorKind::NotFound) =>
                {
                    continue;
                }
                Err(err) => return Err(fsutil::walk_error(err, &top)),
            };
            if entry.file_type().is_dir() && entry.depth() == 1 {
                emptied.push(entry.path().to_path_buf());
            }
            if !entry.file_type().is_file() {
                continue;
            }
            let Some(relative) = entry
                .path()
                .strip_prefix(dir)
                .ok()
                .and_then(|relative| relative.to_str())
                .map(|relative| relative.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                continue;
            };
            // Only files the registry layout names by hash; anything else is not ours to judge.
            if index::hash_in_path(&relative).is_none() {
                continue;
            }
            if kept.contains(&relative) {
                outcome.kept += 1;
                continue;
            }
            let size = entry.metadata().map_or(0, |meta| meta.len());
            if !dry_run {
                fs::remove_file(entry.path()).with_path("cannot remove", entry.path())?;
            }
            outcome.removed += 1;
            outcome.bytes += size;
        }
    }
    if !dry_run {
        // A blob shard left empty goes too; one that is not empty stays, which is all
        // `remove_dir` does.
        for dir in emptied {
            let _ = fs::remove_dir(dir);
        }
    }
    Ok(outcome)
}

/// The first directory on the way to the hash-named files that is a symbolic link, if any.
fn linked_dir(dir: &Path) -> Option<PathBuf> {
    std::iter::once("v1")
        .chain(HASHED_DIRS)
        .map(|relative| dir.join(relative))
        .find(|path| fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()))
}

/// The hash-named files the kept roots reach, as relative paths; an error when the cache's own
/// root leads to a document that is missing or damaged.
fn reachable(replica: &Replica) -> Result<BTreeSet<String>, String> {
    let mut kept = BTreeSet::new();
    let local = Arc::new(Source::dir(&replica.dir));
    if let Some(root) = replica
        .read_local(index::ROOT_PATH)
        .map_err(|err| err.to_string())?
    {
        let own =
            PublishedRegistry::from_root(local.clone(), root).map_err(|err| err.to_string())?;
        let walk = own.walk().map_err(|err| err.to_string())?;
        kept.extend(walk.metadata);
        for index in walk.experts.values() {
            kept.insert(index::index_path(&index.hash));
            let doc = own.read_index_sized(index).map_err(|err| err.to_string())?;
            kept.extend(
                doc.versions
                    .values()
                    .map(|entry| index::blob_path(&entry.blake3)),
            );
        }
    }
    // The upstream root is only remembered, not trusted here: a damaged one keeps nothing.
    if let Some(upstream) = replica
        .read_local(UPSTREAM_ROOT_PATH)
        .map_err(|err| err.to_string())?
        && let Ok(upstream) = PublishedRegistry::from_root(local, upstream)
    {
        kept.extend(upstream.present_metadata());
    }
    Ok(kept)
}
