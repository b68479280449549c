//! Reading a registry that was already built: open its root, then follow hashes.
//!
//! Format 2 roots pin a tree of hashed bins (`index::BinTree`): looking up one name reads only
//! the bins on its path, a full walk reads them all, and comparing a registry with a new tree
//! ([`PublishedRegistry::diff`]) skips every bin whose hash is unchanged, so a publish costs
//! work in proportion to what it changes. Format 1 roots (one snapshot of every expert, written
//! by older versions) are still read, so a first format-2 build can apply the write-once rules
//! to a format-1 registry and clients can read old registries and mirrors.
//!
//! Each document read is checked against the hash that points at it, so a damaged or tampered
//! registry is reported rather than trusted. Paths are computed from hashes, never taken from
//! the documents, so a malicious registry cannot point a reader anywhere else. The write-once
//! rules (`writeonce`), the incremental build, and every client (`resolve`, `fetch`, `mirror`,
//! `verify`) read registries through this module; the documents' types live here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use data_encoding::HEXLOWER;
use serde::Deserialize;

use crate::common::model::{ExpertName, Hash, Status, check_tag, parse_canonical_version};
use crate::common::transport::{FetchError, Source};
use crate::format::index::{self, Bin, BinContent, BinTree, Child, IndexRef, LogPin, SitePin};
use crate::format::tlog::merkle::TreeHash;
use crate::format::tlog::note;

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
/// The most bytes a bin may have, whatever its parent says: a leaf averages 64 experts.
pub const MAX_BIN_BYTES: u64 = 16 * 1024 * 1024;
/// The most bytes a document of the website manifest may have: it lists at most 32 entries,
/// of paths up to 4 KiB.
pub const MAX_SITE_MANIFEST_BYTES: u64 = 1024 * 1024;
/// The most bytes a publish log checkpoint may have: three short lines and a few signatures.
pub const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;
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
    /// Format 1: the snapshot of every expert.
    #[serde(default)]
    pub snapshot: Option<Pointer>,
    /// Format 2: the top bin.
    #[serde(default)]
    pub bins: Option<BinsPointer>,
    #[serde(default)]
    pub experts: u64,
    #[serde(default)]
    pub versions: u64,
    /// The publish log's origin and tree head, and its checkpoint (roots written before the
    /// log have none).
    #[serde(default)]
    pub log: Option<LogPointer>,
    /// The top of the website manifest (roots of registries built without a website, or
    /// before the manifest, have none).
    #[serde(default)]
    pub site: Option<SitePointer>,
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
    /// The most bytes of a format-1 snapshot to read: the size the root gives, or, for roots
    /// written before they gave one, [`MAX_SNAPSHOT_BYTES`].
    pub fn snapshot_limit(&self) -> u64 {
        self.snapshot
            .as_ref()
            .and_then(|s| s.size)
            .unwrap_or(MAX_SNAPSHOT_BYTES)
            .min(MAX_SNAPSHOT_BYTES)
    }

    /// The hash of what the root publishes: the top bin (format 2) or the snapshot (format 1).
    /// It changes exactly when the published experts do, so it identifies a published state.
    pub fn published(&self) -> Hash {
        match (&self.bins, &self.snapshot) {
            (Some(bins), _) => bins.blake3,
            (None, Some(snapshot)) => snapshot.blake3,
            // parse_root refuses a root with neither.
            (None, None) => Hash::of(b""),
        }
    }

    /// The file holding what the root publishes: the top bin or the snapshot.
    pub fn published_path(&self) -> String {
        match (&self.bins, &self.snapshot) {
            (None, Some(snapshot)) => index::snapshot_path(&snapshot.blake3),
            _ => index::bin_path(&self.published()),
        }
    }
}

/// What a format-2 root says of its bins.
#[derive(Debug, Clone, Deserialize)]
pub struct BinsPointer {
    pub fanout: u64,
    pub depth: u32,
    pub blake3: Hash,
    pub size: u64,
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

/// A bin as published: an inner bin lists `bins`, a leaf lists `experts`.
#[derive(Debug, Clone, Deserialize)]
pub struct BinDoc {
    pub format: u64,
    pub level: u32,
    #[serde(default)]
    pub bins: Option<BTreeMap<String, SizedPointer>>,
    #[serde(default)]
    pub experts: Option<BTreeMap<String, SizedPointer>>,
}

/// A pointer in a bin or a website manifest document: the hash and size of a child document,
/// an index document or a website file.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SizedPointer {
    pub blake3: Hash,
    pub size: u64,
}

impl From<SizedPointer> for IndexRef {
    fn from(pointer: SizedPointer) -> IndexRef {
        IndexRef {
            hash: pointer.blake3,
            size: pointer.size,
        }
    }
}

/// A bin read and checked against its place in the tree.
#[derive(Debug)]
pub enum CheckedBin {
    Inner(BTreeMap<usize, IndexRef>),
    Leaf(BTreeMap<String, IndexRef>),
}

/// Parses a bin and checks it is the bin its parent says: its format and level, child keys
/// that are slots, expert names that are valid and whose hashes lead to this bin (`path`, the
/// slot taken at each level above it). A bin is the last level (`depth - 1`) exactly when it
/// lists experts.
pub fn check_bin(
    location: &str,
    bytes: &[u8],
    depth: u32,
    path: &[usize],
) -> Result<CheckedBin, PublishedError> {
    let doc: BinDoc = parse_json(location, bytes)?;
    let level = path.len() as u32;
    let fail = |message: String| invalid(location, message);
    if doc.format != index::FORMAT {
        return Err(fail(format!(
            "bin format {} is not supported (this program reads format {})",
            doc.format,
            index::FORMAT
        )));
    }
    if doc.level != level {
        return Err(fail(format!(
            "is a bin of level {}, but its parent puts it at level {level}",
            doc.level
        )));
    }
    let leaf = level + 1 >= depth;
    match (doc.bins, doc.experts) {
        (Some(children), None) if !leaf => {
            let mut checked = BTreeMap::new();
            for (key, pointer) in children {
                let slot = (0..index::BIN_FANOUT)
                    .find(|slot| index::slot_key(*slot) == key)
                    .ok_or_else(|| {
                        fail(format!(
                            "lists a child \"{}\", which is not a slot (00 to 3f)",
                            key.escape_debug()
                        ))
                    })?;
                checked.insert(slot, pointer.into());
            }
            Ok(CheckedBin::Inner(checked))
        }
        (None, Some(entries)) if leaf => {
            let mut checked = BTreeMap::new();
            for (name, pointer) in entries {
                // Names become paths in every reader of the registry, so a registry that
                // names an expert with anything but a valid name is refused whole.
                ExpertName::parse(&name)
                    .map_err(|err| fail(format!("lists an invalid expert name: {err}")))?;
                let misplaced = path
                    .iter()
                    .enumerate()
                    .any(|(level, slot)| index::bin_slot(&name, level as u32) != *slot);
                if misplaced {
                    return Err(fail(format!(
                        "lists \"{}\", whose name's hash puts it in another bin",
                        name.escape_debug()
                    )));
                }
                checked.insert(name, pointer.into());
            }
            Ok(CheckedBin::Leaf(checked))
        }
        _ => Err(fail(format!(
            "a bin at level {level} of {depth} must list {}",
            if leaf { "experts" } else { "bins" }
        ))),
    }
}

/// What differs between a published registry and a new bin tree.
#[derive(Debug, Default)]
pub struct Diff<'t> {
    /// Experts whose index document differs, by name: the old and the new, `None` where the
    /// expert is absent.
    pub experts: BTreeMap<String, (Option<IndexRef>, Option<IndexRef>)>,
    /// The bins of the new tree the published registry does not have, children first.
    pub bins: Vec<&'t Bin>,
}

/// Every expert and metadata file a registry's root reaches.
#[derive(Debug, Default)]
pub struct Walk {
    pub experts: BTreeMap<String, IndexRef>,
    /// The relative paths of the bins (or the format-1 snapshot).
    pub metadata: Vec<String>,
}

/// What a root publishes, as read so far.
#[derive(Debug, Clone)]
enum Catalog {
    /// Format 1: the whole snapshot, read when the registry is opened. Sizes are not known, so
    /// each is [`MAX_INDEX_BYTES`].
    Snapshot(Arc<BTreeMap<String, IndexRef>>),
    /// Format 2: bins read on demand, kept by hash.
    Bins {
        depth: u32,
        top: IndexRef,
        read: Arc<Mutex<HashMap<Hash, Arc<CheckedBin>>>>,
    },
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
    catalog: Catalog,
}

impl PublishedRegistry {
    /// Opens the registry at `reader`; `Ok(None)` when there is no root there at all.
    pub fn open(reader: Arc<dyn Reader>) -> Result<Option<PublishedRegistry>, PublishedError> {
        let Some(root_bytes) = reader.read_at_most(index::ROOT_PATH, MAX_ROOT_BYTES)? else {
            return Ok(None);
        };
        PublishedRegistry::from_root(reader, root_bytes).map(Some)
    }

    /// Opens the registry whose root the caller already read (and, for clients, checked). A
    /// format-2 root is opened without reading anything else; a format-1 root reads its
    /// snapshot.
    pub fn from_root(
        reader: Arc<dyn Reader>,
        root_bytes: Vec<u8>,
    ) -> Result<PublishedRegistry, PublishedError> {
        let root = parse_root(&reader.location(index::ROOT_PATH), &root_bytes)?;
        let catalog = match (&root.bins, &root.snapshot) {
            (Some(bins), _) => Catalog::Bins {
                depth: bins.depth,
                top: IndexRef {
                    hash: bins.blake3,
                    size: bins.size,
                },
                read: Arc::default(),
            },
            (None, Some(snapshot)) => {
                Catalog::Snapshot(Arc::new(read_snapshot(reader.as_ref(), &root, snapshot)?))
            }
            (None, None) => unreachable_root(&reader)?,
        };
        Ok(PublishedRegistry {
            reader,
            root,
            root_bytes,
            catalog,
        })
    }

    /// Where `name`'s index document is, reading only the bins on its path.
    pub fn index_ref(&self, name: &str) -> Result<Option<IndexRef>, PublishedError> {
        match &self.catalog {
            Catalog::Snapshot(experts) => Ok(experts.get(name).copied()),
            Catalog::Bins { depth, top, .. } => {
                let mut pointer = *top;
                let mut path = Vec::new();
                loop {
                    match self.bin(&pointer, *depth, &path)?.as_ref() {
                        CheckedBin::Leaf(experts) => return Ok(experts.get(name).copied()),
                        CheckedBin::Inner(children) => {
                            let slot = index::bin_slot(name, path.len() as u32);
                            let Some(child) = children.get(&slot) else {
                                return Ok(None);
                            };
                            pointer = *child;
                            path.push(slot);
                        }
                    }
                }
            }
        }
    }

    /// Every expert the root reaches, and the metadata files on the way: every bin is read.
    pub fn walk(&self) -> Result<Walk, PublishedError> {
        match &self.catalog {
            Catalog::Snapshot(experts) => Ok(Walk {
                experts: experts.as_ref().clone(),
                metadata: vec![self.root.published_path()],
            }),
            Catalog::Bins { depth, top, .. } => {
                let mut walk = Walk::default();
                self.walk_bin(top, *depth, &mut Vec::new(), &mut walk)?;
                Ok(walk)
            }
        }
    }

    /// The bins (or snapshot) a partial copy of this registry holds intact: a walk that
    /// stops, without failing, wherever a bin is missing or damaged. For keeping what a client
    /// cache has of a registry it read only part of.
    pub fn present_metadata(&self) -> Vec<String> {
        fn walk(
            registry: &PublishedRegistry,
            pointer: &IndexRef,
            depth: u32,
            path: &mut Vec<usize>,
            out: &mut Vec<String>,
        ) {
            let Ok(bin) = registry.bin(pointer, depth, path) else {
                return;
            };
            out.push(index::bin_path(&pointer.hash));
            if let CheckedBin::Inner(children) = bin.as_ref() {
                for (slot, child) in children {
                    path.push(*slot);
                    walk(registry, child, depth, path, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        match &self.catalog {
            Catalog::Snapshot(_) => out.push(self.root.published_path()),
            Catalog::Bins { depth, top, .. } => walk(self, top, *depth, &mut Vec::new(), &mut out),
        }
        out
    }

    /// Every expert the root reaches: name -> its index document.
    pub fn experts(&self) -> Result<BTreeMap<String, IndexRef>, PublishedError> {
        Ok(self.walk()?.experts)
    }

    fn walk_bin(
        &self,
        pointer: &IndexRef,
        depth: u32,
        path: &mut Vec<usize>,
        walk: &mut Walk,
    ) -> Result<(), PublishedError> {
        walk.metadata.push(index::bin_path(&pointer.hash));
        match self.bin(pointer, depth, path)?.as_ref() {
            CheckedBin::Leaf(experts) => {
                walk.experts
                    .extend(experts.iter().map(|(name, index)| (name.clone(), *index)));
            }
            CheckedBin::Inner(children) => {
                for (slot, child) in children {
                    path.push(*slot);
                    self.walk_bin(child, depth, path, walk)?;
                    path.pop();
                }
            }
        }
        Ok(())
    }

    /// What differs between this registry and `new`: the experts whose index documents differ
    /// and the bins this registry lacks. Where a bin's hash is the same in both, nothing under
    /// it is read, so comparing a registry with one a publish changed reads the bins on the
    /// changed paths only. A format-1 registry, or one of another depth, is compared whole.
    pub fn diff<'t>(&self, new: &'t BinTree) -> Result<Diff<'t>, PublishedError> {
        let mut diff = Diff::default();
        match &self.catalog {
            Catalog::Bins { depth, top, .. } if *depth == new.depth => {
                self.diff_bin(Some(top), &new.top, *depth, &mut Vec::new(), &mut diff)?;
            }
            _ => {
                let old = self.experts()?;
                let mut new_experts = BTreeMap::new();
                collect_experts(&new.top, &mut new_experts).ok_or_else(|| {
                    invalid(
                        &self.reader.location(index::ROOT_PATH),
                        "a tree patched from another registry cannot be compared with this one"
                            .to_owned(),
                    )
                })?;
                diff.bins = new.bins();
                diff.experts = changed_experts(&old, &new_experts);
            }
        }
        Ok(diff)
    }

    /// This registry's bins with `changed` experts added or pointed at new index documents,
    /// reading and rendering only the bins on their paths; every other bin is kept by its
    /// pointer ([`Child::Kept`]). `None` when the registry is not in bins or the tree would
    /// take another depth, where the caller builds the whole tree instead. Experts are never
    /// removed here: a publish cannot remove one.
    pub fn patched_bins(
        &self,
        changed: &BTreeMap<String, IndexRef>,
    ) -> Result<Option<BinTree>, PublishedError> {
        let Catalog::Bins { depth, top, .. } = &self.catalog else {
            return Ok(None);
        };
        let entries: Vec<(Hash, String, IndexRef)> = changed
            .iter()
            .map(|(name, index)| (Hash::of(name.as_bytes()), name.clone(), *index))
            .collect();
        let (top, added) = self.patch_bin(Some(top), entries, 0, *depth, &mut Vec::new())?;
        let experts = usize::try_from(self.root.experts)
            .unwrap_or(usize::MAX)
            .saturating_add(added);
        if index::bin_depth(experts) != *depth {
            return Ok(None);
        }
        Ok(Some(BinTree { depth: *depth, top }))
    }

    /// [`PublishedRegistry::patched_bins`] below one bin (`old`, at `path`): the bin with
    /// `entries` listed, and how many of them it did not list before.
    fn patch_bin(
        &self,
        old: Option<&IndexRef>,
        entries: Vec<(Hash, String, IndexRef)>,
        level: u32,
        depth: u32,
        path: &mut Vec<usize>,
    ) -> Result<(Bin, usize), PublishedError> {
        let old_bin = old
            .map(|pointer| self.bin(pointer, depth, path))
            .transpose()?;
        if level + 1 >= depth {
            let mut experts = match old_bin.as_deref() {
                Some(CheckedBin::Leaf(experts)) => experts.clone(),
                _ => BTreeMap::new(),
            };
            let mut added = 0;
            for (_, name, index) in entries {
                if experts.insert(name, index).is_none() {
                    added += 1;
                }
            }
            return Ok((index::leaf_bin(level, experts), added));
        }
        let mut children: BTreeMap<usize, Child> = match old_bin.as_deref() {
            Some(CheckedBin::Inner(children)) => children
                .iter()
                .map(|(slot, pointer)| (*slot, Child::Kept(*pointer)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let mut groups: BTreeMap<usize, Vec<(Hash, String, IndexRef)>> = BTreeMap::new();
        for entry in entries {
            let slot = index::bin_slot_of(&entry.0, level);
            groups.entry(slot).or_default().push(entry);
        }
        let mut added = 0;
        for (slot, group) in groups {
            let old_child = match children.get(&slot) {
                Some(Child::Kept(pointer)) => Some(*pointer),
                _ => None,
            };
            path.push(slot);
            let (child, child_added) =
                self.patch_bin(old_child.as_ref(), group, level + 1, depth, path)?;
            path.pop();
            added += child_added;
            children.insert(slot, Child::Built(child));
        }
        Ok((index::inner_bin(level, children), added))
    }

    fn diff_bin<'t>(
        &self,
        old: Option<&IndexRef>,
        new: &'t Bin,
        depth: u32,
        path: &mut Vec<usize>,
        diff: &mut Diff<'t>,
    ) -> Result<(), PublishedError> {
        if old.is_some_and(|old| old.hash == new.document.hash) {
            return Ok(());
        }
        let old_bin = old
            .map(|pointer| self.bin(pointer, depth, path))
            .transpose()?;
        match (&new.content, old_bin.as_deref()) {
            (BinContent::Leaf(new_experts), old) => {
                let empty = BTreeMap::new();
                let old_experts = match old {
                    Some(CheckedBin::Leaf(experts)) => experts,
                    _ => &empty,
                };
                diff.experts
                    .extend(changed_experts(old_experts, new_experts));
            }
            (BinContent::Inner(children), old) => {
                let empty = BTreeMap::new();
                let old_children = match old {
                    Some(CheckedBin::Inner(children)) => children,
                    _ => &empty,
                };
                for (slot, child) in children {
                    path.push(*slot);
                    match child {
                        Child::Built(child) => {
                            self.diff_bin(old_children.get(slot), child, depth, path, diff)?;
                        }
                        // A kept bin is one of this registry's own (`patched_bins`).
                        Child::Kept(kept) if old_children.get(slot) == Some(kept) => {}
                        Child::Kept(_) => {
                            return Err(invalid(
                                &self.reader.location(index::ROOT_PATH),
                                "a tree patched from this registry keeps a bin it does not hold"
                                    .to_owned(),
                            ));
                        }
                    }
                    path.pop();
                }
                for (slot, gone) in old_children {
                    if !children.contains_key(slot) {
                        path.push(*slot);
                        let mut walk = Walk::default();
                        self.walk_bin(gone, depth, path, &mut walk)?;
                        path.pop();
                        diff.experts.extend(
                            walk.experts
                                .into_iter()
                                .map(|(name, old)| (name, (Some(old), None))),
                        );
                    }
                }
            }
        }
        diff.bins.push(new);
        Ok(())
    }

    /// The bin `pointer` names at `path`, read once, checked against its hash, its size and
    /// its place.
    fn bin(
        &self,
        pointer: &IndexRef,
        depth: u32,
        path: &[usize],
    ) -> Result<Arc<CheckedBin>, PublishedError> {
        let Catalog::Bins { read, .. } = &self.catalog else {
            return Err(invalid(
                &self.reader.location(index::ROOT_PATH),
                "has no bins".to_owned(),
            ));
        };
        if let Some(bin) = lock(read).get(&pointer.hash) {
            return Ok(bin.clone());
        }
        let relative = index::bin_path(&pointer.hash);
        let location = self.reader.location(&relative);
        if pointer.size > MAX_BIN_BYTES {
            return Err(invalid(
                &location,
                format!(
                    "is said to be {} bytes, more than a bin may be ({MAX_BIN_BYTES} bytes)",
                    pointer.size
                ),
            ));
        }
        let bytes = self.reader.read_at_most(&relative, pointer.size)?;
        let bytes = bytes
            .ok_or_else(|| invalid(&location, "missing: the registry is incomplete".to_owned()))?;
        let actual = Hash::of(&bytes);
        if actual != pointer.hash {
            // Bins are immutable, so a bin that hashes to something else is one a cache kept
            // from another publish under this name, or damage: either way, not the bin the
            // parent (and through it the root) vouches for.
            return Err(invalid(
                &location,
                format!(
                    "content hashes to {actual}, but its parent expects {}: the registry is damaged, or its host serves a stale copy of this bin",
                    pointer.hash
                ),
            ));
        }
        let bin = Arc::new(check_bin(&location, &bytes, depth, path)?);
        lock(read).insert(pointer.hash, bin.clone());
        Ok(bin)
    }

    /// Reads one expert's index document, verified against the bins (or snapshot).
    pub fn read_index(&self, name: &str) -> Result<Option<IndexDoc>, PublishedError> {
        let Some(index) = self.index_ref(name)? else {
            return Ok(None);
        };
        self.read_index_sized(&index).map(Some)
    }

    /// Reads the index document with this hash, refusing one whose versions or dist-tags are
    /// not valid: they become paths (API documents, stale files to remove) in the build and in
    /// mirrors, so a hostile registry must not be able to name `../../x`.
    pub fn read_index_at(&self, hash: &Hash) -> Result<IndexDoc, PublishedError> {
        self.read_index_sized(&IndexRef {
            hash: *hash,
            size: MAX_INDEX_BYTES,
        })
    }

    /// Reads an index document, no more than the size its bin gives.
    pub fn read_index_sized(&self, index: &IndexRef) -> Result<IndexDoc, PublishedError> {
        let relative = index::index_path(&index.hash);
        let limit = index.size.min(MAX_INDEX_BYTES);
        let bytes = read_hashed_at_most(self.reader.as_ref(), &relative, &index.hash, limit)?;
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

fn unreachable_root(reader: &Arc<dyn Reader>) -> Result<Catalog, PublishedError> {
    Err(invalid(
        &reader.location(index::ROOT_PATH),
        "names neither bins nor a snapshot".to_owned(),
    ))
}

/// Reads a format-1 snapshot, checking its names.
fn read_snapshot(
    reader: &dyn Reader,
    root: &RootDoc,
    snapshot: &Pointer,
) -> Result<BTreeMap<String, IndexRef>, PublishedError> {
    // The root (signed, when the registry signs) says how big the snapshot is: no more is
    // read, so a man in the middle cannot feed an endless body.
    let relative = index::snapshot_path(&snapshot.blake3);
    let bytes = read_hashed_at_most(reader, &relative, &snapshot.blake3, root.snapshot_limit())?;
    let location = reader.location(&relative);
    let doc: SnapshotDoc = parse_json(&location, &bytes)?;
    doc.experts
        .into_iter()
        .map(|(name, pointer)| match ExpertName::parse(&name) {
            Ok(_) => Ok((
                name,
                IndexRef {
                    hash: pointer.blake3,
                    size: MAX_INDEX_BYTES,
                },
            )),
            Err(err) => Err(invalid(
                &location,
                format!("lists an invalid expert name: {err}"),
            )),
        })
        .collect()
}

/// Every expert `bin` lists; `None` when it keeps bins it did not read (a patched tree).
fn collect_experts(bin: &Bin, out: &mut BTreeMap<String, IndexRef>) -> Option<()> {
    match &bin.content {
        BinContent::Leaf(experts) => out.extend(experts.iter().map(|(n, i)| (n.clone(), *i))),
        BinContent::Inner(children) => {
            for child in children.values() {
                match child {
                    Child::Built(child) => collect_experts(child, out)?,
                    Child::Kept(_) => return None,
                }
            }
        }
    }
    Some(())
}

/// The experts whose index documents differ by hash between `old` and `new`.
fn changed_experts(
    old: &BTreeMap<String, IndexRef>,
    new: &BTreeMap<String, IndexRef>,
) -> BTreeMap<String, (Option<IndexRef>, Option<IndexRef>)> {
    let mut changed = BTreeMap::new();
    for (name, index) in new {
        let before = old.get(name);
        if before.map(|b| b.hash) != Some(index.hash) {
            changed.insert(name.clone(), (before.copied(), Some(*index)));
        }
    }
    for (name, index) in old {
        if !new.contains_key(name) {
            changed.insert(name.clone(), (Some(*index), None));
        }
    }
    changed
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// Checks a pinned tree of hashed bins has the fan-out this program reads and a depth it
/// allows; `subject` begins the message.
fn check_tree_shape(subject: &str, fanout: u64, depth: u32) -> Result<(), String> {
    if fanout != index::BIN_FANOUT as u64 {
        return Err(format!(
            "{subject} a fan-out of {fanout}; this program reads {}",
            index::BIN_FANOUT
        ));
    }
    if depth == 0 || depth > index::MAX_BIN_DEPTH {
        return Err(format!(
            "{subject} a depth of {depth}; it must be 1 to {}",
            index::MAX_BIN_DEPTH
        ));
    }
    Ok(())
}

/// Parses a root document and checks its format: format 2 names its bins, format 1 (older
/// registries) its snapshot.
pub fn parse_root(location: &str, bytes: &[u8]) -> Result<RootDoc, PublishedError> {
    let root: RootDoc = parse_json(location, bytes)?;
    let fail = |message: String| Err(invalid(location, message));
    match (root.format, &root.bins, &root.snapshot) {
        (index::FORMAT, Some(bins), _) => {
            if let Err(why) = check_tree_shape("bins have", bins.fanout, bins.depth) {
                return fail(why);
            }
            if let Some(Err(why)) = root.log.as_ref().map(|log| log.pin()) {
                return fail(why);
            }
            // A website manifest of another format leaves the registry readable: only who
            // reads the website needs it, and is told then (`SitePointer::pin`).
            let site = root.site.as_ref().filter(|site| site.is_current());
            if let Some(Err(why)) = site.map(|site| site.pin()) {
                return fail(why);
            }
            Ok(root)
        }
        (index::FORMAT, None, _) => fail("format 2 but names no bins".to_owned()),
        (index::FORMAT_SNAPSHOT, _, Some(_)) => Ok(root),
        (index::FORMAT_SNAPSHOT, _, None) => fail("format 1 but names no snapshot".to_owned()),
        (format, _, _) => fail(format!(
            "format {format} is not supported (this program reads formats {} and {})",
            index::FORMAT_SNAPSHOT,
            index::FORMAT
        )),
    }
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

/// The root's `log` object as read.
#[derive(Debug, Clone, Deserialize)]
pub struct LogPointer {
    pub origin: String,
    pub size: u64,
    pub hash: String,
    pub checkpoint: SizedPointer,
}

impl LogPointer {
    /// The checked pin, or why the root's `log` is not one.
    pub fn pin(&self) -> Result<LogPin, String> {
        note::check_key_name(&self.origin).map_err(|why| format!("log origin: {why}"))?;
        let hash = HEXLOWER
            .decode(self.hash.as_bytes())
            .ok()
            .and_then(|bytes| TreeHash::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| "log hash: expected 64 lowercase hex digits".to_owned())?;
        if self.checkpoint.size > MAX_CHECKPOINT_BYTES {
            return Err(format!(
                "log checkpoint: {} bytes, more than a checkpoint may have ({MAX_CHECKPOINT_BYTES})",
                self.checkpoint.size
            ));
        }
        Ok(LogPin {
            origin: self.origin.clone(),
            size: self.size,
            hash,
            checkpoint: self.checkpoint.into(),
        })
    }
}

/// The root's `site` object as read.
#[derive(Debug, Clone, Deserialize)]
pub struct SitePointer {
    /// The manifest's format; pins of format 1 (a tree slotted by hash, with a `fanout`) have
    /// none.
    #[serde(default)]
    pub format: Option<u64>,
    pub depth: u32,
    pub blake3: Hash,
    pub size: u64,
    pub files: u64,
}

impl SitePointer {
    /// Whether the pin is of the format this program reads.
    pub fn is_current(&self) -> bool {
        self.format == Some(index::SITE_MANIFEST_FORMAT)
    }

    /// The checked pin, or why the root's `site` is not one this program reads.
    pub fn pin(&self) -> Result<SitePin, String> {
        if !self.is_current() {
            return Err(format!(
                "the site manifest is format {}; this program reads format {} (rebuild the registry with this version)",
                self.format.unwrap_or(1),
                index::SITE_MANIFEST_FORMAT
            ));
        }
        if self.depth == 0 || self.depth > index::MAX_SITE_MANIFEST_DEPTH {
            return Err(format!(
                "site manifest has a depth of {}; it must be 1 to {}",
                self.depth,
                index::MAX_SITE_MANIFEST_DEPTH
            ));
        }
        if self.size > MAX_SITE_MANIFEST_BYTES {
            return Err(format!(
                "site manifest: {} bytes, more than a manifest document may have ({MAX_SITE_MANIFEST_BYTES})",
                self.size
            ));
        }
        Ok(SitePin {
            depth: self.depth,
            top: IndexRef {
                hash: self.blake3,
                size: self.size,
            },
            files: self.files,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::common::transport::Source;
    use crate::format::index::RootCounts;

    fn index_ref(seed: &str) -> IndexRef {
        IndexRef {
            hash: Hash::of(seed.as_bytes()),
            size: seed.len() as u64,
        }
    }

    /// Writes `tree`'s bins and a root pinning it into `dir`, and opens it.
    fn publish(dir: &Path, tree: &BinTree, experts: usize) -> PublishedRegistry {
        for bin in tree.bins() {
            let path = dir.join(index::bin_path(&bin.document.hash));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &bin.document.bytes).unwrap();
        }
        let counts = RootCounts {
            serial: 1,
            experts,
            versions: experts,
        };
        let root = index::root(tree, counts, None, None);
        std::fs::write(dir.join(index::ROOT_PATH), &root.bytes).unwrap();
        PublishedRegistry::open(Arc::new(Source::dir(dir)))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_patched_tree_is_the_tree_built_whole_and_reads_only_the_changed_paths() {
        for experts in [40, 5_000] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("v1/bins")).unwrap();
            let mut listed: BTreeMap<String, IndexRef> = (0..experts)
                .map(|i| {
                    (
                        format!("@org-{}/expert-{i}", i % 97),
                        index_ref(&i.to_string()),
                    )
                })
                .collect();
            let published = publish(dir.path(), &BinTree::build(listed.clone()), experts);

            // Two experts get new index documents, one expert is new.
            let last = experts - 1;
            let changed: BTreeMap<String, IndexRef> = [
                ("@org-3/expert-3".to_owned(), index_ref("new 3")),
                (
                    format!("@org-{}/expert-{last}", last % 97),
                    index_ref("new last"),
                ),
                ("@new/newcomer".to_owned(), index_ref("newcomer")),
            ]
            .into_iter()
            .collect();
            listed.extend(changed.clone());
            let whole = BinTree::build(listed.clone());
            let patched = published.patched_bins(&changed).unwrap().unwrap();
            assert_eq!(patched.top.document.hash, whole.top.document.hash);
            assert_eq!(patched.depth, whole.depth);

            // The patched tree renders only the bins on the changed paths, each also in the
            // whole tree, and the diff against the published registry names exactly the
            // changed experts.
            let rendered: BTreeSet<Hash> = patched.bins().iter().map(|b| b.document.hash).collect();
            let all: BTreeSet<Hash> = whole.bins().iter().map(|b| b.document.hash).collect();
            assert!(rendered.is_subset(&all));
            assert!(rendered.len() <= 1 + changed.len() * (whole.depth as usize - 1));
            let diff = published.diff(&patched).unwrap();
            let named: BTreeSet<&String> = diff.experts.keys().collect();
            assert_eq!(named, changed.keys().collect());
        }
    }

    #[test]
    fn a_patch_that_changes_the_depth_is_left_to_a_whole_build() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("v1/bins")).unwrap();
        let listed: BTreeMap<String, IndexRef> = (0..index::BIN_LEAF_TARGET)
            .map(|i| (format!("expert-{i}"), index_ref(&i.to_string())))
            .collect();
        let published = publish(dir.path(), &BinTree::build(listed), index::BIN_LEAF_TARGET);
        let one_more = BTreeMap::from([("one-more".to_owned(), index_ref("x"))]);
        assert!(published.patched_bins(&one_more).unwrap().is_none());
        let replaced = BTreeMap::from([("expert-1".to_owned(), index_ref("y"))]);
        assert!(published.patched_bins(&replaced).unwrap().is_some());
    }
}
