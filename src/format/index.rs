//! The JSON documents of the static API, format 2: expert index, hashed bins and root.
//!
//! The root pins one top bin; bins split the experts by the BLAKE3 of their names, 64 ways per
//! level, so a client resolving one name reads the bins on that name's path and a publish
//! rewrites only the bins on the changed names' paths (see [`BinTree`]). Format 1 (one snapshot
//! listing every expert) is still read (`reader`) but no longer written. The root's pin of
//! the publish log ([`LogPin`]) is here too, rendered with the root; `log` builds on it, and so
//! is the pin of the website manifest ([`SitePin`]), whose documents `site_manifest` renders.
//!
//! Documents are rendered to bytes here and nowhere else. Object keys are inserted in a fixed,
//! documented order (serde_json's `preserve_order` keeps it), maps are walked in sorted order,
//! and nothing depends on the clock, so the same registry always renders the same bytes.

use std::collections::BTreeMap;

use data_encoding::HEXLOWER;
use serde_json::{Map, Value, json};

use crate::common::generator;
use crate::common::json::Document;
use crate::common::model::{Hash, Status};
use crate::data::validate::Expert;
use crate::format::tlog::merkle::TreeHash;
use crate::format::tlog::note::Checkpoint;

/// The format this program writes: hashed bins.
pub const FORMAT: u64 = 2;
/// The format of registries built before bins: one snapshot lists every expert. Read only.
pub const FORMAT_SNAPSHOT: u64 = 1;
/// How many children an inner bin may have: each level of bins takes 6 bits of the BLAKE3 of
/// an expert's name.
pub const BIN_FANOUT: usize = 64;
const BIN_BITS: u32 = 6;
/// The most experts a leaf bin holds on average: the depth is the smallest for which the
/// experts spread over the leaves average no more.
pub const BIN_LEAF_TARGET: usize = 64;
/// The deepest tree a root may describe: the slot of a level is read from the first 64 bits of
/// the name's hash, and 10 levels of 6 bits fit; 64^9 leaves is far beyond any registry.
pub const MAX_BIN_DEPTH: u32 = 10;
pub const ROOT_PATH: &str = "v1/root.json";
/// The format of the website manifest's documents (`site_manifest`), which the root's `site`
/// pin names: 2, a tree ordered by path. Format 1 was a tree slotted like the bins.
pub const SITE_MANIFEST_FORMAT: u64 = 2;
/// The deepest website manifest a root may pin: documents average about 9 entries, so 16
/// levels hold far more files than any website has.
pub const MAX_SITE_MANIFEST_DEPTH: u32 = 16;

/// Where a published version file is served, relative to the registry root. Blobs are sharded
/// by the first two hex digits so no directory grows past a few thousand entries.
pub fn blob_path(hash: &Hash) -> String {
    let hex = hash.to_hex();
    format!("v1/blobs/{}/{hex}.toml", &hex[..2])
}

pub fn index_path(hash: &Hash) -> String {
    format!("v1/index/{}.json", hash.to_hex())
}

/// Where a format-1 snapshot is served (registries built before bins).
pub fn snapshot_path(hash: &Hash) -> String {
    format!("v1/snapshots/{}.json", hash.to_hex())
}

pub fn bin_path(hash: &Hash) -> String {
    format!("v1/bins/{}.json", hash.to_hex())
}

/// Where a document of the website manifest is served (`site_manifest`).
pub fn site_manifest_path(hash: &Hash) -> String {
    format!("v1/site/{}.json", hash.to_hex())
}

/// The hash a hash-named file's path carries (`v1/blobs/<h2>/<hash>.toml`,
/// `v1/index/<hash>.json`, `v1/bins/<hash>.json`, `v1/snapshots/<hash>.json`,
/// `v1/site/<hash>.json`), if `relative` is one.
pub fn hash_in_path(relative: &str) -> Option<Hash> {
    let hash = |hex: &str| Hash::parse(hex);
    if let Some(rest) = relative.strip_prefix("v1/blobs/") {
        let (shard, file) = rest.split_once('/')?;
        let found = hash(file.strip_suffix(".toml")?)?;
        return (blob_path(&found) == relative && shard.len() == 2).then_some(found);
    }
    let found = relative
        .strip_prefix("v1/index/")
        .or_else(|| relative.strip_prefix("v1/bins/"))
        .or_else(|| relative.strip_prefix("v1/snapshots/"))
        .or_else(|| relative.strip_prefix("v1/site/"))
        .and_then(|file| file.strip_suffix(".json"))
        .and_then(hash)?;
    (index_path(&found) == relative
        || bin_path(&found) == relative
        || snapshot_path(&found) == relative
        || site_manifest_path(&found) == relative)
        .then_some(found)
}

/// One expert's index document.
///
/// Serialized from borrowed typed views rather than a built `serde_json::Value`: every build
/// renders every index document to learn its hash, and building value trees would be most of
/// that work. The bytes are the same.
pub fn expert_index(expert: &Expert) -> Document {
    Document::render(&IndexView {
        name: expert.name.as_str(),
        dist_tags: DistTagsView(expert),
        versions: VersionsView(expert),
    })
}

#[derive(serde::Serialize)]
struct IndexView<'a> {
    name: &'a str,
    #[serde(rename = "dist-tags")]
    dist_tags: DistTagsView<'a>,
    versions: VersionsView<'a>,
}

/// `latest` first, then custom tags in byte order.
struct DistTagsView<'a>(&'a Expert);

impl serde::Serialize for DistTagsView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.dist_tags())
    }
}

/// Versions in SemVer precedence order.
struct VersionsView<'a>(&'a Expert);

impl serde::Serialize for VersionsView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.versions.values().map(|published| {
            let record = &published.record;
            let entry = VersionView {
                blake3: record.blake3,
                size: record.size,
                path: blob_path(&record.blake3),
                status: published.status.as_str(),
                reason: (published.status != Status::Available)
                    .then(|| published.reason.as_deref().unwrap_or_default()),
                description: &record.description,
                required_env: &record.required_env,
                delegates: record.delegates.iter().map(|d| d.key.as_str()).collect(),
                published: published.published.as_deref(),
            };
            (record.version.as_str(), entry)
        }))
    }
}

#[derive(serde::Serialize)]
struct VersionView<'a> {
    blake3: Hash,
    size: u64,
    path: String,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    description: &'a str,
    #[serde(rename = "requiredEnv")]
    required_env: &'a [String],
    delegates: Vec<&'a str>,
    /// Absent for versions published without a recorded time, so their documents keep the
    /// bytes (and hashes) they had before the field existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<&'a str>,
}

/// Where a document is and how big it is: what a bin says of each child and each expert's
/// index document, so every read is bounded by the size its parent gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexRef {
    pub hash: Hash,
    pub size: u64,
}

impl IndexRef {
    pub fn of(document: &Document) -> IndexRef {
        IndexRef {
            hash: document.hash,
            size: document.bytes.len() as u64,
        }
    }
}

/// How many levels of bins a registry of `experts` experts has: the smallest depth whose
/// leaves (64^(depth - 1) of them) average at most [`BIN_LEAF_TARGET`] experts. One level up to
/// 64 experts, two up to 4,096, three up to 262,144.
pub fn bin_depth(experts: usize) -> u32 {
    let mut depth = 1;
    let mut capacity = BIN_LEAF_TARGET;
    while experts > capacity && depth < MAX_BIN_DEPTH {
        depth += 1;
        capacity = capacity.saturating_mul(BIN_FANOUT);
    }
    depth
}

/// Which child of a bin at `level` holds `name`: bits `6 * level` to `6 * level + 5` of the
/// BLAKE3 of the name's UTF-8 bytes, most significant bit first.
pub fn bin_slot(name: &str, level: u32) -> usize {
    let hash = Hash::of(name.as_bytes());
    bin_slot_of(&hash, level)
}

/// [`bin_slot`] for a name whose BLAKE3 is known.
pub fn bin_slot_of(name_hash: &Hash, level: u32) -> usize {
    let hex = name_hash.to_hex();
    // 16 hex digits always parse; the level is below MAX_BIN_DEPTH, so the shift is in range.
    let high = u64::from_str_radix(&hex[..16], 16).unwrap_or_default();
    let shift = 64 - BIN_BITS * (level.min(MAX_BIN_DEPTH - 1) + 1);
    ((high >> shift) & (BIN_FANOUT as u64 - 1)) as usize
}

/// The key of child `slot` in an inner bin: two lowercase hex digits, `00` to `3f`.
pub fn slot_key(slot: usize) -> String {
    format!("{slot:02x}")
}

/// One bin, rendered, with what it holds.
#[derive(Debug, Clone)]
pub struct Bin {
    pub document: Document,
    pub content: BinContent,
}

#[derive(Debug, Clone)]
pub enum BinContent {
    /// Children by slot; only non-empty children exist.
    Inner(BTreeMap<usize, Child>),
    /// Experts by name, in byte order.
    Leaf(BTreeMap<String, IndexRef>),
}

/// A child of an inner bin: rendered by this build, or kept as the published tree has it.
#[derive(Debug, Clone)]
pub enum Child {
    Built(Bin),
    /// A bin a publish did not touch, known only by its pointer: a patched tree
    /// (`PublishedRegistry::patched_bins`) reads and renders only the bins on the changed
    /// names' paths.
    Kept(IndexRef),
}

impl Child {
    pub fn pointer(&self) -> IndexRef {
        match self {
            Child::Built(bin) => IndexRef::of(&bin.document),
            Child::Kept(pointer) => *pointer,
        }
    }
}

/// Every bin of a registry, rendered: a tree of [`bin_depth`] levels whose top bin the root
/// pins. The same experts always render the same bytes.
#[derive(Debug, Clone)]
pub struct BinTree {
    pub depth: u32,
    pub top: Bin,
}

impl BinTree {
    /// The bins of `experts` (name, index document), each slotted by the BLAKE3 of its name.
    pub fn build(experts: impl IntoIterator<Item = (String, IndexRef)>) -> BinTree {
        let entries: Vec<(Hash, String, IndexRef)> = experts
            .into_iter()
            .map(|(name, index)| (Hash::of(name.as_bytes()), name, index))
            .collect();
        let depth = bin_depth(entries.len());
        BinTree {
            depth,
            top: build_bin(entries, 0, depth),
        }
    }

    pub fn pointer(&self) -> IndexRef {
        IndexRef::of(&self.top.document)
    }

    /// Every bin this tree rendered, children before their parent (a patched tree's kept
    /// bins are not among them: they are published already).
    pub fn bins(&self) -> Vec<&Bin> {
        fn walk<'a>(bin: &'a Bin, out: &mut Vec<&'a Bin>) {
            if let BinContent::Inner(children) = &bin.content {
                for child in children.values() {
                    if let Child::Built(child) = child {
                        walk(child, out);
                    }
                }
            }
            out.push(bin);
        }
        let mut out = Vec::new();
        walk(&self.top, &mut out);
        out
    }
}

fn build_bin(experts: Vec<(Hash, String, IndexRef)>, level: u32, depth: u32) -> Bin {
    if level + 1 >= depth {
        let experts: BTreeMap<String, IndexRef> = experts
            .into_iter()
            .map(|(_, name, index)| (name, index))
            .collect();
        return leaf_bin(level, experts);
    }
    let mut groups: BTreeMap<usize, Vec<(Hash, String, IndexRef)>> = BTreeMap::new();
    for entry in experts {
        groups
            .entry(bin_slot_of(&entry.0, level))
            .or_default()
            .push(entry);
    }
    let children: BTreeMap<usize, Child> = groups
        .into_iter()
        .map(|(slot, group)| {
            let child = build_bin(group, level + 1, depth);
            (slot, Child::Built(child))
        })
        .collect();
    inner_bin(level, children)
}

/// A leaf bin at `level` listing `entries`.
pub fn leaf_bin(level: u32, entries: BTreeMap<String, IndexRef>) -> Bin {
    let mut listed = Map::new();
    for (name, index) in &entries {
        listed.insert(name.clone(), pointer_value(index));
    }
    let mut document = Map::new();
    document.insert("format".to_owned(), json!(FORMAT));
    document.insert("level".to_owned(), json!(level));
    document.insert("experts".to_owned(), Value::Object(listed));
    Bin {
        document: Document::render(&Value::Object(document)),
        content: BinContent::Leaf(entries),
    }
}

/// An inner bin at `level` pointing at `children`.
pub fn inner_bin(level: u32, children: BTreeMap<usize, Child>) -> Bin {
    let mut listed = Map::new();
    for (slot, child) in &children {
        listed.insert(slot_key(*slot), pointer_value(&child.pointer()));
    }
    let document = Document::render(&json!({ "format": FORMAT, "level": level, "bins": listed }));
    Bin {
        document,
        content: BinContent::Inner(children),
    }
}

fn pointer_value(index: &IndexRef) -> Value {
    json!({ "blake3": index.hash.to_hex(), "size": index.size })
}

/// What the root says besides the bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootCounts {
    pub serial: u64,
    pub experts: usize,
    pub versions: usize,
}

pub fn root(
    bins: &BinTree,
    counts: RootCounts,
    log: Option<&LogPin>,
    site: Option<&SitePin>,
) -> Document {
    Document::render(&root_value(bins, counts, log, site))
}

/// The fields of an unsigned root, with the publish log's pin after `versions` when there is
/// a log and the website manifest's after it when there is a website; signing (`signing`)
/// appends `expires`, `keys` and `signatures`.
pub fn root_value(
    bins: &BinTree,
    counts: RootCounts,
    log: Option<&LogPin>,
    site: Option<&SitePin>,
) -> Value {
    let top = bins.pointer();
    let mut root = json!({
        "format": FORMAT,
        "serial": counts.serial,
        "bins": {
            "fanout": BIN_FANOUT,
            "depth": bins.depth,
            "blake3": top.hash.to_hex(),
            "size": top.size,
        },
        "experts": counts.experts,
        "versions": counts.versions,
    });
    if let (Some(log), Some(object)) = (log, root.as_object_mut()) {
        object.insert("log".to_owned(), log.value());
    }
    if let (Some(site), Some(object)) = (site, root.as_object_mut()) {
        object.insert("site".to_owned(), site.value());
    }
    root["generator"] = json!(generator());
    root
}

/// What the root says of the log: its origin, its tree head, and the checkpoint that states
/// them, so a signed root covers the log too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPin {
    pub origin: String,
    pub size: u64,
    pub hash: TreeHash,
    pub checkpoint: IndexRef,
}

impl LogPin {
    /// The root's `log` object, keys in the documented order.
    pub fn value(&self) -> Value {
        json!({
            "origin": self.origin,
            "size": self.size,
            "hash": HEXLOWER.encode(&self.hash),
            "checkpoint": { "blake3": self.checkpoint.hash.to_hex(), "size": self.checkpoint.size },
        })
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            origin: self.origin.clone(),
            size: self.size,
            root: self.hash,
        }
    }
}

/// What the root says of the website: the format of its manifest (`site_manifest`), the
/// tree's depth, its top document, and how many files it lists, so a signed root covers every
/// website file too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SitePin {
    pub depth: u32,
    pub top: IndexRef,
    pub files: u64,
}

impl SitePin {
    /// The root's `site` object, keys in the documented order.
    pub fn value(&self) -> Value {
        json!({
            "format": SITE_MANIFEST_FORMAT,
            "depth": self.depth,
            "blake3": self.top.hash.to_hex(),
            "size": self.top.size,
            "files": self.files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(count: usize) -> Vec<(String, IndexRef)> {
        (0..count)
            .map(|i| {
                let name = format!("@s/e{i}");
                let hash = Hash::of(name.as_bytes());
                (name, IndexRef { hash, size: 100 })
            })
            .collect()
    }

    #[test]
    fn the_depth_keeps_leaves_at_64_experts_on_average() {
        assert_eq!(bin_depth(0), 1);
        assert_eq!(bin_depth(64), 1);
        assert_eq!(bin_depth(65), 2);
        assert_eq!(bin_depth(4096), 2);
        assert_eq!(bin_depth(4097), 3);
        assert_eq!(bin_depth(200_000), 3);
        assert_eq!(bin_depth(usize::MAX), MAX_BIN_DEPTH);
    }

    #[test]
    fn slots_take_six_bits_per_level_from_the_top() {
        let hash = Hash::parse(&format!("fc{}", "0".repeat(62))).expect("hex");
        assert_eq!(bin_slot_of(&hash, 0), 63);
        assert_eq!(bin_slot_of(&hash, 1), 0);
        let hash = Hash::parse(&format!("03f{}", "0".repeat(61))).expect("hex");
        assert_eq!(bin_slot_of(&hash, 0), 0);
        assert_eq!(bin_slot_of(&hash, 1), 63);
    }

    #[test]
    fn the_same_experts_render_the_same_bins_in_any_order() {
        let mut experts = refs(300);
        let one = BinTree::build(experts.clone());
        experts.reverse();
        let two = BinTree::build(experts);
        assert_eq!(one.depth, 2);
        assert_eq!(one.top.document, two.top.document);
        assert_eq!(one.bins().len(), two.bins().len());
    }

    #[test]
    fn one_change_renders_new_bins_only_on_its_path() {
        let mut experts = refs(300);
        let before = BinTree::build(experts.clone());
        experts[7].1.size = 101;
        let after = BinTree::build(experts);
        let old: std::collections::BTreeSet<Hash> =
            before.bins().iter().map(|b| b.document.hash).collect();
        let new = after
            .bins()
            .iter()
            .filter(|b| !old.contains(&b.document.hash))
            .count();
        assert_eq!(new, 2, "the top bin and one leaf");
    }
}
