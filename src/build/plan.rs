//! The deploy plan: which files of a build are new relative to the registry published before,
//! in an order that is safe to upload one file at a time.
//!
//! A static host updated file by file must never serve a root that points at files not yet
//! uploaded. Every file belongs to a [`Kind`], and kinds are uploaded in the order they are
//! declared: content-addressed blobs, index documents and bins first (nothing points at
//! them until the root does, so among them the order does not matter, and a bin need not follow
//! its children), the publish log's tiles (immutable, named by nothing but the checkpoint), then
//! readable documents (which only name blobs), then anything else that shows or configures the
//! registry, the log's checkpoint, and the root (which pins the checkpoint) last. The website
//! manifest's documents follow the website's files, which they name. A new kind of output gets
//! its place in this order and nothing else changes. The build writes the plan to
//! `<out>/.perstack-build/plan.json`, outside the served tree; `perstack-registry plan` prints
//! it for deploy scripts.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::common::fsutil::{self, IoError};
use crate::common::json::Document;
use crate::data::validate::Registry;
use crate::format::STATE_DIR;
use crate::format::index::{self, BinTree};
use crate::format::reader::{PublishedError, PublishedRegistry};

pub const FILE_NAME: &str = "plan.json";
pub const FORMAT: u64 = 1;

/// What a file is, in safe upload order: every kind may be uploaded only after all files of
/// the kinds before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `v1/blobs/`: version files, by hash.
    Blob,
    /// `v1/index/`: expert index documents, by hash.
    Index,
    /// `v1/bins/`: the bins, by hash.
    Bin,
    /// `v1/log/tile/`: the publish log's tiles and entry bundles (immutable).
    Tile,
    /// `v1/log/experts/`: where each expert's publish entries are in the log (mutable). After
    /// the tiles, since a hint names entries that must be there to prove; before the
    /// checkpoint and root, which it does not depend on (a client reads a hint only for a
    /// version its root serves, whose entry an older hint already lists).
    #[serde(rename = "log-hint")]
    LogHint,
    /// `v1/experts/`: index documents at readable paths.
    Readable,
    /// `api/registry/v1/`: the Perstack API documents.
    Api,
    /// `api/registry/v1/format.json`: the format of the API documents, after all of them, so a
    /// deploy interrupted before it uploads them all again next time.
    #[serde(rename = "api-format")]
    ApiFormat,
    /// The website: pages, assets, search index (written by this build).
    Site,
    /// `v1/site/`: the website manifest's documents, by hash, after the files they list (a
    /// mirror that reads a document finds every file it names).
    #[serde(rename = "site-manifest")]
    SiteManifest,
    /// `_headers`: caching rules for the host.
    Headers,
    /// `v1/log/checkpoint`: the publish log's checkpoint, after its tiles, before the root
    /// that pins it.
    Checkpoint,
    /// `v1/root.json`: the entry point, always last.
    Root,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    pub kind: Kind,
    /// Relative to the registry root, with `/` separators.
    pub path: String,
}

/// The files to upload for one build, in safe order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u64,
    /// The serial of the root this plan publishes.
    pub serial: u64,
    pub files: Vec<PlannedFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{0}: no plan here; run `perstack-registry build` first")]
    Missing(PathBuf),
    #[error("{path}: not a plan this version can read: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Plan {
    pub fn new(serial: u64) -> Plan {
        Plan {
            format: FORMAT,
            serial,
            files: Vec::new(),
        }
    }

    /// Adds files and keeps the plan in safe order.
    pub fn add_all(&mut self, kind: Kind, paths: impl IntoIterator<Item = String>) {
        for path in paths {
            self.add(kind, path);
        }
        self.sort();
    }

    pub fn add(&mut self, kind: Kind, path: String) {
        self.files.push(PlannedFile { kind, path });
    }

    /// Puts the files in safe order: by kind, then by path, so the plan is deterministic.
    pub fn sort(&mut self) {
        self.files
            .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
        self.files.dedup();
    }

    /// Plans the root when `root` differs from the root `previous` serves: for a root settled
    /// after [`compute`] ran (one that pins the website, which is rendered later).
    pub fn set_root(&mut self, root: &Document, previous: Option<&PublishedRegistry>) {
        self.files.retain(|file| file.kind != Kind::Root);
        if previous.is_none_or(|p| p.root_bytes != root.bytes) {
            self.add(Kind::Root, index::ROOT_PATH.to_owned());
        }
    }

    /// Where the build keeps the plan for the registry in `out_dir`.
    pub fn path(out_dir: &Path) -> PathBuf {
        out_dir.join(STATE_DIR).join(FILE_NAME)
    }

    /// Streamed to disk: a large registry's plan is too big to render in memory first.
    pub fn write(&self, out_dir: &Path) -> Result<(), IoError> {
        fsutil::write_atomic_with(&Plan::path(out_dir), |writer| {
            serde_json::to_writer_pretty(&mut *writer, self).map_err(std::io::Error::other)?;
            writer.write_all(b"\n")?;
            writer.flush()
        })
    }

    /// Removes the plan of an earlier build, so a build that fails leaves none behind.
    pub fn remove(out_dir: &Path) -> Result<(), IoError> {
        let path = Plan::path(out_dir);
        match std::fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(IoError::new("cannot remove", &path, err))
            }
            _ => Ok(()),
        }
    }

    pub fn read(out_dir: &Path) -> Result<Plan, PlanError> {
        let path = Plan::path(out_dir);
        let bytes =
            fsutil::read_optional(&path)?.ok_or_else(|| PlanError::Missing(path.clone()))?;
        let plan: Plan = serde_json::from_slice(&bytes).map_err(|err| PlanError::Invalid {
            path: path.clone(),
            message: err.to_string(),
        })?;
        if plan.format != FORMAT {
            return Err(PlanError::Invalid {
                path,
                message: format!("format {} (this version reads {FORMAT})", plan.format),
            });
        }
        Ok(plan)
    }
}

/// The registry a build is about to publish, as the plan needs it.
pub struct Built<'a> {
    pub registry: &'a Registry,
    pub bins: &'a BinTree,
    /// What differs from `previous` (everything, when there is none).
    pub changes: &'a super::Changes,
    pub root: &'a Document,
    pub serial: u64,
}

/// The files of `built` that `previous` does not already serve, in safe order. Blobs are known
/// from the previous index documents rather than looked up on disk, so `previous` may be a
/// copy of the deployed registry without its blobs. Only the changed experts' previous index
/// documents are read.
pub fn compute(
    built: &Built<'_>,
    previous: Option<&PublishedRegistry>,
) -> Result<Plan, PublishedError> {
    let mut plan = Plan::new(built.serial);
    let api_current = match previous {
        Some(p) => crate::format::api::format_is_current(p.reader.as_ref())?,
        None => false,
    };
    for (name, expert) in &built.registry.experts {
        let change = built.changes.experts.get(name.as_str());
        let (old_index, hash) = match (previous, change) {
            (_, Some((old, Some(new)))) => {
                let old = match (previous, old) {
                    (Some(p), Some(old)) => Some(p.read_index_sized(old)?),
                    _ => None,
                };
                (old, new.hash)
            }
            _ => {
                // Documents in the format of an older build are all replaced.
                if !api_current {
                    plan.add_all(Kind::Api, crate::format::api::document_paths(expert));
                }
                continue;
            }
        };
        for published in expert.versions.values() {
            let blake3 = published.record.blake3;
            let known = old_index
                .as_ref()
                .is_some_and(|doc| doc.versions.values().any(|v| v.blake3 == blake3));
            if !known {
                plan.add(Kind::Blob, index::blob_path(&blake3));
            }
        }
        plan.add(Kind::Index, index::index_path(&hash));
        plan.add(Kind::Readable, name.readable_index_path());
        // An expert's API documents are a function of its index document and blobs, so they
        // change exactly when its index document does.
        for path in crate::format::api::document_paths(expert) {
            plan.add(Kind::Api, path);
        }
    }
    for hash in &built.changes.bins {
        plan.add(Kind::Bin, index::bin_path(hash));
    }
    let unchanged = |relative: &str, bytes: &[u8]| -> Result<bool, PublishedError> {
        Ok(match previous {
            Some(p) if relative == index::ROOT_PATH => p.root_bytes == bytes,
            Some(p) => p.reader.read(relative)?.as_deref() == Some(bytes),
            None => false,
        })
    };
    for (relative, bytes) in crate::format::api::fixed_documents() {
        if !unchanged(relative, &bytes)? {
            let kind = match relative {
                crate::format::api::FORMAT_PATH => Kind::ApiFormat,
                _ => Kind::Api,
            };
            plan.add(kind, relative.to_owned());
        }
    }
    if !unchanged(
        "_headers",
        crate::format::headers::headers_file().as_bytes(),
    )? {
        plan.add(Kind::Headers, "_headers".to_owned());
    }
    if !unchanged(index::ROOT_PATH, &built.root.bytes)? {
        plan.add(Kind::Root, index::ROOT_PATH.to_owned());
    }
    plan.sort();
    Ok(plan)
}
