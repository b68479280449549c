//! The JSON documents of the static API, format 1: expert index, snapshot and root.
//!
//! Documents are rendered to bytes here and nowhere else. Object keys are inserted in a fixed,
//! documented order (serde_json's `preserve_order` keeps it), maps are walked in sorted order,
//! and nothing depends on the clock, so the same registry always renders the same bytes.

use serde_json::{Map, Value, json};

use crate::common::generator;
use crate::common::json::Document;
use crate::common::model::{ExpertName, Hash, Status};
use crate::data::validate::Expert;

pub const FORMAT: u64 = 1;
pub const ROOT_PATH: &str = "v1/root.json";

/// Where a published version file is served, relative to the registry root. Blobs are sharded
/// by the first two hex digits so no directory grows past a few thousand entries.
pub fn blob_path(hash: &Hash) -> String {
    let hex = hash.to_hex();
    format!("v1/blobs/{}/{hex}.toml", &hex[..2])
}

pub fn index_path(hash: &Hash) -> String {
    format!("v1/index/{}.json", hash.to_hex())
}

pub fn snapshot_path(hash: &Hash) -> String {
    format!("v1/snapshots/{}.json", hash.to_hex())
}

/// The hash a hash-named file's path carries (`v1/blobs/<h2>/<hash>.toml`,
/// `v1/index/<hash>.json`, `v1/snapshots/<hash>.json`), if `relative` is one.
pub fn hash_in_path(relative: &str) -> Option<Hash> {
    let hash = |hex: &str| Hash::parse(hex);
    if let Some(rest) = relative.strip_prefix("v1/blobs/") {
        let (shard, file) = rest.split_once('/')?;
        let found = hash(file.strip_suffix(".toml")?)?;
        return (blob_path(&found) == relative && shard.len() == 2).then_some(found);
    }
    let found = relative
        .strip_prefix("v1/index/")
        .or_else(|| relative.strip_prefix("v1/snapshots/"))
        .and_then(|file| file.strip_suffix(".json"))
        .and_then(hash)?;
    (index_path(&found) == relative || snapshot_path(&found) == relative).then_some(found)
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

/// The snapshot: every expert's index document by name, in byte order of the names.
pub fn snapshot<'a>(indexes: impl IntoIterator<Item = (&'a ExpertName, &'a Hash)>) -> Document {
    let mut experts = Map::new();
    for (name, hash) in indexes {
        experts.insert(
            name.to_string(),
            json!({ "path": index_path(hash), "blake3": hash.to_hex() }),
        );
    }
    Document::render(&json!({ "format": FORMAT, "experts": experts }))
}

/// What the root says besides the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootCounts {
    pub serial: u64,
    pub experts: usize,
    pub versions: usize,
}

pub fn root(snapshot: &Document, counts: RootCounts) -> Document {
    Document::render(&root_value(snapshot, counts))
}

/// The fields of an unsigned root; signing (`signing`) appends `expires`, `keys` and
/// `signatures`.
pub fn root_value(snapshot: &Document, counts: RootCounts) -> Value {
    json!({
        "format": FORMAT,
        "serial": counts.serial,
        "snapshot": {
            "path": snapshot_path(&snapshot.hash),
            "blake3": snapshot.hash.to_hex(),
            "size": snapshot.bytes.len(),
        },
        "experts": counts.experts,
        "versions": counts.versions,
        "generator": generator(),
    })
}
