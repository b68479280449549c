//! Reading a registry that was already built: open its root, then follow hashes.
//!
//! Each document read is checked against the hash that points at it, so a damaged or tampered
//! registry is reported rather than trusted. Paths are computed from hashes, never taken from
//! the documents, so a malicious registry cannot point a reader anywhere else. The write-once
//! rules (`writeonce`), the incremental build, and every client (`resolve`, `fetch`, `mirror`,
//! `verify`) read registries through this module; the documents' types live here.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::common::model::{ExpertName, Hash, Status, check_tag, parse_canonical_version};
use crate::common::transport::{FetchError, Source};
use crate::format::index;

/// Why a published registry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PublishedError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
}

impl From<crate::common::fsutil::IoError> for PublishedError {
    fn from(err: crate::common::fsutil::IoError) -> PublishedError {
        PublishedError::Fetch(err.into())
    }
}

/// The most bytes a root may have. A root is a few hundred bytes plus its keys and signatures.
pub const MAX_ROOT_BYTES: u64 = 1024 * 1024;
/// The most bytes a snapshot may have when the root does not give its size (roots written
/// before the size was recorded): enough for millions of experts.
pub const MAX_SNAPSHOT_BYTES: u64 = 256 * 1024 * 1024;
/// The most bytes one expert's index document may have: about 100,000 versions.
pub const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// The most bytes a blob may have, whatever its index document says: clients fetch blobs in
/// parallel, so this bound times the number of threads is the most memory fetched blobs take.
pub const MAX_BLOB_BYTES: u64 = crate::common::model::MAX_VERSION_FILE_BYTES;

/// Something that serves the files of a registry by relative path: a [`Source`], or a local
/// copy that stands in front of one (`replica`).
pub trait Reader: Send + Sync + std::fmt::Debug {
    fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, FetchError>;
    /// Like [`Reader::read`], reading no more than `limit` bytes: for files whose size the
    /// registry's metadata gives.
    fn read_at_most(&self, relative: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError>;
    /// Where `relative` lives, for messages.
    fn location(&self, relative: &str) -> String;
}

impl Reader for Source {
    fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, FetchError> {
        self.get(relative)
    }

    fn read_at_most(&self, relative: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        self.get_at_most(relative, limit)
    }

    fn location(&self, relative: &str) -> String {
        Source::location(self, relative)
    }
}

/// `v1/root.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct RootDoc {
    pub format: u64,
    pub serial: u64,
    pub snapshot: Pointer,
    #[serde(default)]
    pub experts: u64,
    #[serde(default)]
    pub versions: u64,
    /// When the root stops being valid (signed roots only), RFC 3339 UTC.
    #[serde(default)]
    pub expires: Option<String>,
    /// The public keys that may sign the registry's roots (signed roots only).
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub signatures: Vec<SignatureDoc>,
}

impl RootDoc {
    /// The most bytes of the snapshot to read: the size the root gives, or, for roots written
    /// before they gave one, [`MAX_SNAPSHOT_BYTES`].
    pub fn snapshot_limit(&self) -> u64 {
        self.snapshot
            .size
            .unwrap_or(MAX_SNAPSHOT_BYTES)
            .min(MAX_SNAPSHOT_BYTES)
    }
}

/// Refuses a blob an index document says is larger than any version file may be, before it is
/// requested.
pub fn check_blob_size(size: u64) -> Result<(), String> {
    if size > MAX_BLOB_BYTES {
        return Err(format!(
            "is said to be {size} bytes, more than any version file may be ({MAX_BLOB_BYTES} bytes)"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
pub struct SignatureDoc {
    pub keyid: String,
    pub sig: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pointer {
    pub path: String,
    pub blake3: Hash,
    /// The document's size in bytes: the root gives it for the snapshot (roots written before
    /// it did have none).
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotDoc {
    pub experts: BTreeMap<String, Pointer>,
}

/// An expert index document as published.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexDoc {
    #[serde(default)]
    pub name: String,
    /// `latest` first, then custom tags (serde_json keeps the document's order).
    #[serde(rename = "dist-tags")]
    pub dist_tags: serde_json::Map<String, serde_json::Value>,
    pub versions: BTreeMap<String, IndexVersion>,
}

impl IndexDoc {
    /// The version a dist-tag points at.
    pub fn tag(&self, tag: &str) -> Option<&str> {
        self.dist_tags.get(tag).and_then(|v| v.as_str())
    }

    /// Dist-tags in document order.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.dist_tags
            .iter()
            .filter_map(|(tag, version)| Some((tag.as_str(), version.as_str()?)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexVersion {
    pub blake3: Hash,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub path: String,
    pub status: Status,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default, rename = "requiredEnv")]
    pub required_env: Vec<String>,
    #[serde(default)]
    pub delegates: Vec<String>,
    /// When the version was published, if the registry recorded it.
    #[serde(default)]
    pub published: Option<String>,
}

/// A registry, opened at its root.
#[derive(Debug, Clone)]
pub struct PublishedRegistry {
    pub reader: Arc<dyn Reader>,
    pub root: RootDoc,
    pub root_bytes: Vec<u8>,
    /// Expert name -> hash of its index document.
    pub experts: BTreeMap<String, Hash>,
}

impl PublishedRegistry {
    /// Opens the registry at `reader`; `Ok(None)` when there is no root there at all.
    pub fn open(reader: Arc<dyn Reader>) -> Result<Option<PublishedRegistry>, PublishedError> {
        let Some(root_bytes) = reader.read_at_most(index::ROOT_PATH, MAX_ROOT_BYTES)? else {
            return Ok(None);
        };
        PublishedRegistry::from_root(reader, root_bytes).map(Some)
    }

    /// Opens the registry whose root the caller already read (and, for clients, checked).
    pub fn from_root(
        reader: Arc<dyn Reader>,
        root_bytes: Vec<u8>,
    ) -> Result<PublishedRegistry, PublishedError> {
        let root = parse_root(&reader.location(index::ROOT_PATH), &root_bytes)?;
        // The root (signed, when the registry signs) says how big the snapshot is: no more is
        // read, so a man in the middle cannot feed an endless body.
        let snapshot_size = root.snapshot_limit();
        let snapshot_relative = index::snapshot_path(&root.snapshot.blake3);
        let snapshot_bytes = read_hashed_at_most(
            reader.as_ref(),
            &snapshot_relative,
            &root.snapshot.blake3,
            snapshot_size,
        )?;
        let snapshot: SnapshotDoc =
            parse_json(&reader.location(&snapshot_relative), &snapshot_bytes)?;
        let snapshot_location = reader.location(&index::snapshot_path(&root.snapshot.blake3));
        // Names become paths (of index, API and cache files) in every reader of the registry,
        // so a registry that names an expert with anything but a valid name is refused whole.
        let experts = snapshot
            .experts
            .into_iter()
            .map(|(name, pointer)| match ExpertName::parse(&name) {
                Ok(_) => Ok((name, pointer.blake3)),
                Err(err) => Err(invalid(
                    &snapshot_location,
                    format!("lists an invalid expert name: {err}"),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(PublishedRegistry {
            reader,
            root,
            root_bytes,
            experts,
        })
    }

    /// Reads one expert's index document, verified against the snapshot.
    pub fn read_index(&self, name: &str) -> Result<Option<IndexDoc>, PublishedError> {
        let Some(hash) = self.experts.get(name) else {
            return Ok(None);
        };
        self.read_index_at(hash).map(Some)
    }

    /// Reads the index document with this hash, refusing one whose versions or dist-tags are
    /// not valid: they become paths (API documents, stale files to remove) in the build and in
    /// mirrors, so a hostile registry must not be able to name `../../x`.
    pub fn read_index_at(&self, hash: &Hash) -> Result<IndexDoc, PublishedError> {
        let relative = index::index_path(hash);
        let bytes = read_hashed_at_most(self.reader.as_ref(), &relative, hash, MAX_INDEX_BYTES)?;
        parse_index(&self.reader.location(&relative), &bytes)
    }

    /// Reads a blob of `size` bytes (as its index document says), verified against its hash;
    /// no more than `size` bytes are ever read.
    pub fn read_blob(&self, hash: &Hash, size: u64) -> Result<Vec<u8>, PublishedError> {
        check_blob_size(size)
            .map_err(|why| invalid(&self.reader.location(&index::blob_path(hash)), why))?;
        read_hashed_at_most(self.reader.as_ref(), &index::blob_path(hash), hash, size)
    }
}

/// Parses an expert index document and checks its versions and dist-tags.
pub fn parse_index(location: &str, bytes: &[u8]) -> Result<IndexDoc, PublishedError> {
    let doc: IndexDoc = parse_json(location, bytes)?;
    check_index(&doc).map_err(|message| invalid(location, message))?;
    Ok(doc)
}

/// Checks that an index document's versions are canonical SemVer versions and its dist-tags
/// valid tag names that point at versions it lists.
fn check_index(doc: &IndexDoc) -> Result<(), String> {
    for (version, entry) in &doc.versions {
        parse_canonical_version(version)
            .map_err(|err| format!("lists an invalid version: {err}"))?;
        if let Some(published) = &entry.published
            && crate::common::timestamp::parse(published).is_none()
        {
            return Err(format!(
                "version {version} has an invalid publish time \"{}\"",
                published.escape_debug()
            ));
        }
    }
    for (tag, target) in &doc.dist_tags {
        if tag != crate::common::model::LATEST {
            check_tag(tag).map_err(|err| format!("has an invalid dist-tag: {err}"))?;
        }
        let target = target.as_str().unwrap_or_default();
        if !doc.versions.contains_key(target) {
            return Err(format!(
                "dist-tag \"{tag}\" points at \"{target}\", which the document does not list"
            ));
        }
    }
    Ok(())
}

/// Parses a root document and checks its format.
pub fn parse_root(location: &str, bytes: &[u8]) -> Result<RootDoc, PublishedError> {
    let root: RootDoc = parse_json(location, bytes)?;
    if root.format != index::FORMAT {
        return Err(invalid(
            location,
            format!(
                "format {} is not supported (this program reads format {})",
                root.format,
                index::FORMAT
            ),
        ));
    }
    Ok(root)
}

/// Reads `relative`, no more than `size` bytes of it, and checks that it hashes to `hash`.
pub fn read_hashed_at_most(
    reader: &dyn Reader,
    relative: &str,
    hash: &Hash,
    size: u64,
) -> Result<Vec<u8>, PublishedError> {
    check_hashed(reader, relative, hash, reader.read_at_most(relative, size)?)
}

fn check_hashed(
    reader: &dyn Reader,
    relative: &str,
    hash: &Hash,
    bytes: Option<Vec<u8>>,
) -> Result<Vec<u8>, PublishedError> {
    let location = reader.location(relative);
    let bytes = bytes
        .ok_or_else(|| invalid(&location, "missing: the registry is incomplete".to_owned()))?;
    let actual = Hash::of(&bytes);
    if actual != *hash {
        return Err(invalid(
            &location,
            format!(
                "content hashes to {actual}, but the registry expects {hash}: the registry is damaged"
            ),
        ));
    }
    Ok(bytes)
}

pub fn parse_json<T: serde::de::DeserializeOwned>(
    location: &str,
    bytes: &[u8],
) -> Result<T, PublishedError> {
    serde_json::from_slice(bytes)
        .map_err(|err| invalid(location, format!("not a valid registry document: {err}")))
}

fn invalid(location: &str, message: String) -> PublishedError {
    PublishedError::Invalid {
        location: location.to_owned(),
        message,
    }
}
