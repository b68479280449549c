//! Reading a registry that was already built: open its root, then follow hashes.
//!
//! Each document read is checked against the hash that points at it, so a damaged or tampered
//! previous registry is reported rather than trusted. The write-once rules (`writeonce`) and the
//! incremental build read the registry published before through this module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::fsutil::{self, IoError};
use crate::index;
use crate::model::{Hash, Status};

/// Why a published registry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PublishedError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// `v1/root.json`, as far as the build needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct RootDoc {
    pub format: u64,
    pub serial: u64,
    pub snapshot: Pointer,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pointer {
    pub path: String,
    pub blake3: Hash,
}

#[derive(Debug, Clone, Deserialize)]
struct SnapshotDoc {
    experts: BTreeMap<String, Pointer>,
}

/// An expert index document as published.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexDoc {
    #[serde(rename = "dist-tags")]
    pub dist_tags: BTreeMap<String, String>,
    pub versions: BTreeMap<String, IndexVersion>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexVersion {
    pub blake3: Hash,
    pub status: Status,
}

/// A registry on disk, opened at its root.
#[derive(Debug, Clone)]
pub struct PublishedRegistry {
    pub dir: PathBuf,
    pub root: RootDoc,
    /// Expert name -> hash of its index document.
    pub experts: BTreeMap<String, Hash>,
}

impl PublishedRegistry {
    /// Opens the registry in `dir`; `Ok(None)` when there is no root there at all.
    pub fn open(dir: &Path) -> Result<Option<PublishedRegistry>, PublishedError> {
        let root_path = dir.join(index::ROOT_PATH);
        let Some(root_bytes) = fsutil::read_optional(&root_path)? else {
            return Ok(None);
        };
        let root: RootDoc = parse_json(&root_path, &root_bytes)?;
        if root.format != index::FORMAT {
            return Err(invalid(
                &root_path,
                format!(
                    "format {} is not supported (this build reads format {})",
                    root.format,
                    index::FORMAT
                ),
            ));
        }
        let snapshot: SnapshotDoc = read_verified(dir, &root.snapshot)?;
        let experts = snapshot
            .experts
            .into_iter()
            .map(|(name, pointer)| (name, pointer.blake3))
            .collect();
        Ok(Some(PublishedRegistry {
            dir: dir.to_path_buf(),
            root,
            experts,
        }))
    }

    /// Reads one expert's index document, verified against the snapshot.
    pub fn read_index(&self, name: &str) -> Result<Option<IndexDoc>, PublishedError> {
        let Some(hash) = self.experts.get(name) else {
            return Ok(None);
        };
        let pointer = Pointer {
            path: index::index_path(hash),
            blake3: *hash,
        };
        read_verified(&self.dir, &pointer).map(Some)
    }
}

fn read_verified<T: serde::de::DeserializeOwned>(
    dir: &Path,
    pointer: &Pointer,
) -> Result<T, PublishedError> {
    let path = dir.join(&pointer.path);
    let bytes = fsutil::read(&path)?;
    let actual = Hash::of(&bytes);
    if actual != pointer.blake3 {
        return Err(invalid(
            &path,
            format!(
                "content hashes to {actual}, but the registry expects {}: the registry is damaged",
                pointer.blake3
            ),
        ));
    }
    parse_json(&path, &bytes)
}

fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, PublishedError> {
    serde_json::from_slice(bytes)
        .map_err(|err| invalid(path, format!("not a valid registry document: {err}")))
}

fn invalid(path: &Path, message: String) -> PublishedError {
    PublishedError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}
