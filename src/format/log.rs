//! The publish log as a registry serves it: `v1/log/checkpoint` and the C2SP tiles under
//! `v1/log/tile/`, the entries' JSON, the root's pin of the tree head, the per-expert hint
//! files under `v1/log/experts/` that say where each version's publish entry is, and reading
//! a published log back (bounded, verified against the pin).
//!
//! The building blocks (RFC 6962 hashing, tiles, signed notes) are in [`crate::format::tlog`];
//! this module gives them their place in the registry. The build (`build::log`) decides which
//! events to append; clients read the log through [`ReaderTiles`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::common::json::render_json;
use crate::common::model::{ExpertName, Hash};
// The root's pin of the log is rendered with the root (index) and read with it (reader);
// they are named here too, where the rest of the log is.
pub use crate::format::index::LogPin;
pub use crate::format::reader::{LogPointer, MAX_CHECKPOINT_BYTES};
use crate::format::reader::{PublishedError, Reader};
use crate::format::tlog::merkle::{self, TreeHash};
use crate::format::tlog::note::{self, Checkpoint};
use crate::format::tlog::tiles::{self, Appender, TILE_WIDTH, TileStore};

/// The log's directory, relative to the registry root (the C2SP "prefix").
pub const LOG_DIR: &str = "v1/log";
/// The checkpoint: mutable, like the root, and pinned by it.
pub const CHECKPOINT_PATH: &str = "v1/log/checkpoint";
/// The most bytes of a hash tile: 256 SHA-256 hashes.
pub const MAX_TILE_BYTES: u64 = TILE_WIDTH * 32;
/// The most bytes of an entry bundle: 256 entries of at most 65,535 bytes, each after its
/// two-byte length.
pub const MAX_BUNDLE_BYTES: u64 = TILE_WIDTH * (2 + tiles::MAX_ENTRY_BYTES as u64);

/// A file of the log, relative to the registry root.
pub fn log_path(relative_to_log: &str) -> String {
    format!("{LOG_DIR}/{relative_to_log}")
}

/// One event that changed what the registry serves: the text of one log entry.
///
/// Serialized as compact JSON with the keys in the order declared here (`event` first), so the
/// same event always gives the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase", deny_unknown_fields)]
pub enum Event {
    /// A version was published: its file's BLAKE3 and size.
    Publish {
        name: String,
        version: String,
        blake3: Hash,
        size: u64,
    },
    /// A version's status (or its reason) changed.
    Status {
        name: String,
        version: String,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A custom tag was set or moved (`latest` is computed from the versions, never logged).
    Tag {
        name: String,
        tag: String,
        version: String,
    },
    /// A custom tag was retired.
    Untag { name: String, tag: String },
}

impl Event {
    /// The entry's bytes: compact JSON, no trailing newline.
    pub fn entry(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses an entry, refusing anything but the exact bytes [`Event::entry`] writes, so one
    /// event has one spelling and an auditor comparing entries compares bytes.
    pub fn parse(bytes: &[u8]) -> Result<Event, String> {
        let event: Event = serde_json::from_slice(bytes)
            .map_err(|err| format!("not a publish log entry: {err}"))?;
        if event.entry() != bytes {
            return Err(
                "not a publish log entry as written (compact JSON, keys in the documented order)"
                    .to_owned(),
            );
        }
        Ok(event)
    }

    pub fn name(&self) -> &str {
        match self {
            Event::Publish { name, .. }
            | Event::Status { name, .. }
            | Event::Tag { name, .. }
            | Event::Untag { name, .. } => name,
        }
    }
}

/// The origin of a log that starts now: `[site] url`'s host and path (`registry.example.com`,
/// `example.com/registry`), or else `perstack-registry/<the registry's name, lowercase, runs
/// of other characters as one '-'>`. Read back from the root ever after, never derived again.
pub fn derive_origin(site_url: Option<&url::Url>, registry_name: &str) -> String {
    if let Some(url) = site_url
        && let Some(host) = url.host_str()
    {
        let mut origin = host.to_owned();
        if let Some(port) = url.port() {
            origin.push_str(&format!(":{port}"));
        }
        origin.push_str(url.path().trim_end_matches('/'));
        if note::check_key_name(&origin).is_ok() {
            return origin;
        }
    }
    let mut slug = String::new();
    for c in registry_name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "registry" } else { slug };
    format!("perstack-registry/{slug}")
}

/// The checkpoint of `pin`'s tree head, signed by `keys` under the origin's name (a registry
/// without keys gets the bare text).
pub fn checkpoint_note(
    origin: &str,
    size: u64,
    hash: TreeHash,
    keys: &[ed25519_dalek::SigningKey],
) -> Vec<u8> {
    let text = Checkpoint {
        origin: origin.to_owned(),
        size,
        root: hash,
    }
    .text();
    let named: Vec<(String, ed25519_dalek::SigningKey)> = keys
        .iter()
        .map(|key| (origin.to_owned(), key.clone()))
        .collect();
    note::sign(&text, &named).into_bytes()
}

/// The log's files read through a registry [`Reader`], each no larger than its kind allows.
pub struct ReaderTiles<'r> {
    pub reader: &'r dyn Reader,
}

impl TileStore for ReaderTiles<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let limit = if path.starts_with("tile/entries/") {
            MAX_BUNDLE_BYTES
        } else {
            MAX_TILE_BYTES
        };
        self.reader
            .read_at_most(&log_path(path), limit)
            .map_err(|err| err.to_string())
    }
}

fn log_error(location: &str, message: String) -> PublishedError {
    PublishedError::Invalid {
        location: location.to_owned(),
        message,
    }
}

/// Opens the log `pin` describes for appending, checking that its right edge gives the tree
/// hash the root pins (a tile rewritten or damaged since is refused, naming it). `location`
/// names the log's directory in messages.
pub fn open_appender(
    store: &impl TileStore,
    location: &str,
    pin: &LogPin,
) -> Result<Appender, PublishedError> {
    let appender =
        Appender::open(store, pin.size).map_err(|err| log_error(location, err.to_string()))?;
    if appender.root() != pin.hash {
        return Err(log_error(
            location,
            format!(
                "the tiles at the log's right edge do not give the tree hash the root pins for {} entries: a tile was rewritten or damaged",
                pin.size
            ),
        ));
    }
    if !appender.bundle_matches_tile() {
        return Err(log_error(
            location,
            format!(
                "{}: the entries do not hash to the leaves the tree holds: an entry was rewritten",
                tiles::tile_path("entries", pin.size / TILE_WIDTH, pin.size % TILE_WIDTH)
            ),
        ));
    }
    Ok(appender)
}

/// Appends to `appender` the entries from its size up to `size`, read from the entry bundles
/// of a log of `size` entries, giving each to `visit` with its index first.
pub fn extend(
    store: &impl TileStore,
    location: &str,
    mut appender: Appender,
    size: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<Appender, PublishedError> {
    while appender.size() < size {
        let tile = appender.size() / TILE_WIDTH;
        let width = (size - tile * TILE_WIDTH).min(TILE_WIDTH);
        let path = tiles::tile_path("entries", tile, width);
        let bytes = store
            .read(&path)
            .map_err(|err| log_error(location, err))?
            .ok_or_else(|| log_error(location, format!("{path}: missing")))?;
        let entries = tiles::parse_bundle(&path, &bytes, width)
            .map_err(|err| log_error(location, err.to_string()))?;
        let skip = (appender.size() - tile * TILE_WIDTH) as usize;
        for entry in &entries[skip..] {
            let index = appender.size();
            visit(index, entry).map_err(|err| log_error(location, format!("{path}: {err}")))?;
            appender
                .append(entry)
                .map_err(|err| log_error(location, format!("{path}: {err}")))?;
        }
    }
    Ok(appender)
}

/// Checks that `appender` holds the log `pin` describes.
pub fn check_pinned(
    appender: &Appender,
    location: &str,
    pin: &LogPin,
) -> Result<(), PublishedError> {
    if appender.size() != pin.size || appender.root() != pin.hash {
        return Err(log_error(
            location,
            format!(
                "the entries do not give the tree hash the root pins for {} entries: an entry was rewritten",
                pin.size
            ),
        ));
    }
    Ok(())
}

/// Reads every entry of the log `pin` describes from its entry bundles, in order, giving each
/// to `visit` with its index, and rebuilds the tree from them, checking its hash against the
/// pin. The appender returned holds every file of a log of exactly `pin.size` entries (full
/// tiles and bundles, and the partial ones of that size) once finished.
pub fn replay(
    store: &impl TileStore,
    location: &str,
    pin: &LogPin,
    visit: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<Appender, PublishedError> {
    let appender = extend(store, location, Appender::empty(), pin.size, visit)?;
    check_pinned(&appender, location, pin)?;
    Ok(appender)
}

/// The directory of the hint files, relative to the registry root.
pub const HINTS_DIR: &str = "v1/log/experts";
/// The most bytes of a hint file: 16 MiB, hundreds of thousands of versions.
pub const MAX_HINT_BYTES: u64 = 16 * 1024 * 1024;

/// The hint file of `name`: where its publish entries are in the log (`v1/log/experts/<name>.json`,
/// the name written as in `v1/experts/`, `@scope/` a directory).
pub fn hint_path(name: &ExpertName) -> String {
    format!("{HINTS_DIR}/{name}.json")
}

/// One expert's hint file: the index in the log of each of its versions' publish entries.
///
/// Not pinned and not signed: a client proves each index it uses with an inclusion proof
/// against the tree hash the root pins, so a wrong index fails that proof, and the hint only
/// needs to be right, not trusted. Rendered like every JSON document (two spaces, a final
/// newline), versions in SemVer precedence, so its bytes follow from the log alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hint {
    /// Version -> index of its publish entry.
    pub publish: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHint {
    name: String,
    publish: BTreeMap<String, u64>,
}

/// Notes in `hints` where `entry` (at `index`) publishes a version, when it is a publish: how
/// the build, a mirror and `verify` all derive hint files from the entries they read.
pub fn record_publish(hints: &mut BTreeMap<String, Hint>, index: u64, entry: &[u8]) {
    if let Ok(Event::Publish { name, version, .. }) = Event::parse(entry) {
        hints
            .entry(name)
            .or_default()
            .publish
            .insert(version, index);
    }
}

impl Hint {
    /// The file's bytes for the expert `name`.
    pub fn render(&self, name: &ExpertName) -> Vec<u8> {
        let mut versions: Vec<(semver::Version, &String, &u64)> = self
            .publish
            .iter()
            .filter_map(|(text, index)| Some((semver::Version::parse(text).ok()?, text, index)))
            .collect();
        versions.sort_by(|a, b| a.0.cmp_precedence(&b.0).then_with(|| a.1.cmp(b.1)));
        let publish: serde_json::Map<String, serde_json::Value> = versions
            .into_iter()
            .map(|(_, text, index)| (text.clone(), serde_json::Value::from(*index)))
            .collect();
        let mut document = serde_json::Map::new();
        document.insert("name".to_owned(), serde_json::Value::from(name.as_str()));
        document.insert("publish".to_owned(), serde_json::Value::Object(publish));
        render_json(&document)
    }

    /// Reads the hint file of `name` from `bytes` (named `location` in errors): its name must
    /// be `name` and every key a version. Its indexes are not checked here: the inclusion
    /// proof checks each one used.
    pub fn parse(location: &str, name: &ExpertName, bytes: &[u8]) -> Result<Hint, PublishedError> {
        let invalid = |message: String| PublishedError::Invalid {
            location: location.to_owned(),
            message,
        };
        let raw: RawHint = serde_json::from_slice(bytes)
            .map_err(|err| invalid(format!("not a publish log hint file: {err}")))?;
        if raw.name != name.as_str() {
            return Err(invalid(format!(
                "is the hint file of \"{}\", not of {name}",
                raw.name.escape_debug()
            )));
        }
        if let Some(bad) = raw
            .publish
            .keys()
            .find(|version| semver::Version::parse(version).is_err())
        {
            return Err(invalid(format!(
                "\"{}\" is not a version",
                bad.escape_debug()
            )));
        }
        Ok(Hint {
            publish: raw.publish,
        })
    }
}

/// The hash of an entry as the tree holds it.
pub fn entry_hash(entry: &[u8]) -> TreeHash {
    merkle::leaf_hash(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_compact_json_in_the_documented_key_order() {
        let publish = Event::Publish {
            name: "@acme/researcher".to_owned(),
            version: "1.2.3".to_owned(),
            blake3: Hash::of(b"x"),
            size: 1234,
        };
        let text = String::from_utf8(publish.entry()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"event":"publish","name":"@acme/researcher","version":"1.2.3","blake3":"{}","size":1234}}"#,
                Hash::of(b"x").to_hex()
            )
        );
        assert_eq!(Event::parse(text.as_bytes()).unwrap(), publish);
        let status = Event::Status {
            name: "a".to_owned(),
            version: "1.0.0".to_owned(),
            status: "deprecated".to_owned(),
            reason: Some("use 2".to_owned()),
        };
        assert_eq!(
            String::from_utf8(status.entry()).unwrap(),
            r#"{"event":"status","name":"a","version":"1.0.0","status":"deprecated","reason":"use 2"}"#
        );
        let untag = Event::Untag {
            name: "a".to_owned(),
            tag: "beta".to_owned(),
        };
        assert_eq!(
            String::from_utf8(untag.entry()).unwrap(),
            r#"{"event":"untag","name":"a","tag":"beta"}"#
        );
        for bad in [
            r#"{"name":"a","event":"untag","tag":"beta"}"#,
            r#"{"event":"untag","name":"a","tag":"beta","x":1}"#,
            r#"{"event": "untag","name":"a","tag":"beta"}"#,
            r#"{"event":"unpublish","name":"a"}"#,
        ] {
            assert!(Event::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn hints_list_versions_in_semver_order_and_parse_back() {
        let name = ExpertName::parse("@acme/researcher").unwrap();
        assert_eq!(hint_path(&name), "v1/log/experts/@acme/researcher.json");
        let hint = Hint {
            publish: [("1.10.0", 9), ("1.2.0", 3), ("1.2.0-rc.1", 2)]
                .into_iter()
                .map(|(v, i)| (v.to_owned(), i))
                .collect(),
        };
        let bytes = hint.render(&name);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "{\n  \"name\": \"@acme/researcher\",\n  \"publish\": {\n    \"1.2.0-rc.1\": 2,\n    \"1.2.0\": 3,\n    \"1.10.0\": 9\n  }\n}\n"
        );
        assert_eq!(Hint::parse("x", &name, &bytes).unwrap(), hint);
        let other = ExpertName::parse("@acme/other").unwrap();
        assert!(
            Hint::parse("x", &other, &bytes)
                .unwrap_err()
                .to_string()
                .contains("not of @acme/other")
        );
        for bad in [
            r#"{"name":"@acme/researcher","publish":{"v1":1}}"#,
            r#"{"name":"@acme/researcher","publish":{"1.0.0":-1}}"#,
            r#"{"name":"@acme/researcher","publish":{},"x":1}"#,
            r#"{"name":"@acme/researcher"}"#,
        ] {
            assert!(Hint::parse("x", &name, bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_come_from_the_site_url_or_the_registry_name() {
        let url = url::Url::parse("https://Example.com:8443/registry/").unwrap();
        assert_eq!(derive_origin(Some(&url), "x"), "example.com:8443/registry");
        let url = url::Url::parse("https://registry.example.com/").unwrap();
        assert_eq!(derive_origin(Some(&url), "x"), "registry.example.com");
        assert_eq!(
            derive_origin(None, "Acme  Expert Registry!"),
            "perstack-registry/acme-expert-registry"
        );
        assert_eq!(derive_origin(None, "日本"), "perstack-registry/registry");
    }
}
