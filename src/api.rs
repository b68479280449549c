//! Perstack API compatibility: the hosted Registry's `GET /api/registry/v1/experts/{key}`
//! answers as static files, so a runtime whose `perstackApiBaseUrl` points at a static host
//! runs registry experts unchanged.
//!
//! One document per servable version (`name@version`), per dist-tag (`name@tag`, `latest`
//! included) and per bare name (the latest version), at `api/registry/v1/experts/<key>`. The
//! runtime percent-encodes the key as a whole; static servers decode `%40` and `%2F` before
//! mapping the path to a file, so `@acme/researcher@1.2.3` lives in directory `@acme` as file
//! `researcher@1.2.3`. Disabled versions are not served. Everything in a document comes from
//! the data: ids are derived from hashes and timestamps are a documented constant, never the
//! clock, so the build stays deterministic.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::model::{ExpertName, Hash, Status};

pub const DIR: &str = "api/registry/v1/experts";
/// The creation and update time of every document: the registry keeps no publish times.
pub const TIMESTAMP: &str = "1970-01-01T00:00:00Z";
/// What `minRuntimeVersion` says when a definition does not; the only value the API knows.
pub const DEFAULT_MIN_RUNTIME_VERSION: &str = "v1.0";

/// One published version, as the API documents need it.
pub struct ApiVersion<'a> {
    pub version: &'a str,
    pub status: Status,
    pub blake3: Hash,
    /// The version file, byte for byte.
    pub bytes: &'a [u8],
}

/// An expert's servable state: its dist-tags (`latest` first) and versions.
pub struct ApiExpert<'a> {
    pub name: &'a ExpertName,
    pub dist_tags: Vec<(&'a str, &'a str)>,
    pub versions: Vec<ApiVersion<'a>>,
}

/// The path of the document for `key`, relative to the registry root.
pub fn path(key: &str) -> String {
    format!("{DIR}/{key}")
}

/// One servable version's document and every path it is served at.
#[derive(Debug)]
pub struct VersionDocument {
    /// `name@version`, the document's own path.
    pub path: String,
    /// `name@tag` for each tag on the version, and the bare name when it is the latest: the
    /// same bytes, so a build writes them as hard links to `path`.
    pub aliases: Vec<String>,
    pub bytes: Vec<u8>,
}

impl VersionDocument {
    /// The document's own path and its aliases.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.path).chain(&self.aliases)
    }
}

/// Every document of one expert, one per servable version, in version order.
pub fn documents(expert: &ApiExpert) -> Result<Vec<VersionDocument>, String> {
    let name = expert.name.as_str();
    let latest = expert
        .dist_tags
        .iter()
        .find(|(tag, _)| *tag == crate::model::LATEST)
        .map(|(_, version)| *version);
    let mut documents = Vec::new();
    for version in &expert.versions {
        if version.status == Status::Disabled {
            continue;
        }
        let tags: Vec<&str> = expert
            .dist_tags
            .iter()
            .filter(|(_, target)| *target == version.version)
            .map(|(tag, _)| *tag)
            .collect();
        let bytes = render(expert.name, version, &tags)?;
        let mut keys = version_keys(name, version.version, &tags, latest).into_iter();
        let path = path(&keys.next().expect("a version always has its own key"));
        documents.push(VersionDocument {
            path,
            aliases: keys.map(|key| self::path(&key)).collect(),
            bytes,
        });
    }
    Ok(documents)
}

/// The keys one version is served under: `name@version` first, then `name@tag` for each tag on
/// it (`latest` included), and the bare name when it is the latest.
fn version_keys(name: &str, version: &str, tags: &[&str], latest: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!("{name}@{version}")];
    keys.extend(tags.iter().map(|tag| format!("{name}@{tag}")));
    if latest == Some(version) {
        keys.push(name.to_owned());
    }
    keys
}

/// The paths of every document served for an expert whose versions have the given statuses
/// and whose dist-tags (`latest` included) point at the given versions: `name@version` and
/// `name@tag` for each version that is not disabled, and the bare name for the latest.
fn paths<'a>(
    name: &str,
    versions: impl Iterator<Item = (&'a str, Status)>,
    dist_tags: &[(&str, &str)],
) -> BTreeSet<String> {
    let latest = dist_tags
        .iter()
        .find(|(tag, _)| *tag == crate::model::LATEST)
        .map(|(_, version)| *version);
    let mut paths = BTreeSet::new();
    for (version, status) in versions {
        if status == Status::Disabled {
            continue;
        }
        let tags: Vec<&str> = dist_tags
            .iter()
            .filter(|(_, target)| *target == version)
            .map(|(tag, _)| *tag)
            .collect();
        paths.extend(
            version_keys(name, version, &tags, latest)
                .iter()
                .map(|key| path(key)),
        );
    }
    paths
}

/// The paths of every document [`documents`] renders for a checked expert, without rendering
/// them (the deploy plan needs only the names).
pub fn document_paths(expert: &crate::validate::Expert) -> BTreeSet<String> {
    let versions: Vec<(String, Status)> = expert
        .versions
        .values()
        .map(|p| (p.record.version.clone(), p.status))
        .collect();
    let dist_tags = expert.dist_tags();
    let dist_tags: Vec<(&str, &str)> = dist_tags.iter().map(|(t, v)| (*t, v.as_str())).collect();
    paths(
        expert.name.as_str(),
        versions.iter().map(|(v, s)| (v.as_str(), *s)),
        &dist_tags,
    )
}

/// The API documents already under an output directory, by expert name, as relative paths.
/// Listed once per build rather than once per expert: the unscoped experts share one directory
/// that can hold a hundred thousand files.
#[derive(Debug, Default)]
pub struct ExistingDocuments(std::collections::HashMap<String, Vec<String>>);

impl ExistingDocuments {
    pub fn list(out: &Path) -> ExistingDocuments {
        let mut by_name: std::collections::HashMap<String, Vec<String>> = Default::default();
        let mut add = |prefix: &str, file_name: String| {
            let name = file_name.split('@').next().unwrap_or_default();
            by_name
                .entry(format!("{prefix}{name}"))
                .or_default()
                .push(format!("{DIR}/{prefix}{file_name}"));
        };
        let files = |dir: &Path| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let is_dir = entry.file_type().ok()?.is_dir();
                    Some((entry.file_name().into_string().ok()?, is_dir))
                })
                .collect::<Vec<_>>()
        };
        for (entry, is_dir) in files(&out.join(DIR)) {
            if !is_dir {
                add("", entry);
            } else if entry.starts_with('@') {
                for (file_name, is_dir) in files(&out.join(DIR).join(&entry)) {
                    if !is_dir {
                        add(&format!("{entry}/"), file_name);
                    }
                }
            }
        }
        ExistingDocuments(by_name)
    }

    /// The documents a complete build wrote for `names`, derived from the index documents
    /// `registry` published for them, without listing directories: the directory of unscoped
    /// experts can hold a hundred thousand files, and listing it was most of a rebuild with one
    /// new version. Only for a registry whose last build completed; after a killed build, a
    /// document may exist that no index document names, and [`ExistingDocuments::list`] finds it.
    pub fn published<'a>(
        registry: &crate::published::PublishedRegistry,
        names: impl Iterator<Item = &'a ExpertName>,
    ) -> Result<ExistingDocuments, crate::published::PublishedError> {
        let mut by_name = std::collections::HashMap::new();
        for name in names {
            let Some(doc) = registry.read_index(name.as_str())? else {
                continue;
            };
            let tags: Vec<(&str, &str)> = doc.tags().collect();
            let versions = doc
                .versions
                .iter()
                .map(|(version, entry)| (version.as_str(), entry.status));
            let paths = paths(name.as_str(), versions, &tags);
            by_name.insert(name.as_str().to_owned(), paths.into_iter().collect());
        }
        Ok(ExistingDocuments(by_name))
    }

    /// The documents of `name` under `out` that `keep` does not list: documents of versions
    /// since disabled, to be removed once the new root is in place.
    pub fn stale(&self, out: &Path, name: &ExpertName, keep: &BTreeSet<String>) -> Vec<PathBuf> {
        let mut stale: Vec<PathBuf> = self
            .0
            .get(name.as_str())
            .into_iter()
            .flatten()
            .filter(|relative| !keep.contains(*relative))
            .map(|relative| out.join(relative))
            .collect();
        stale.sort();
        stale
    }
}

/// The parts of a version file an API document needs. Deserialized straight from the TOML
/// text: building a TOML value tree first and converting it doubled the cost of the documents.
#[derive(serde::Deserialize)]
struct VersionFile {
    experts: std::collections::HashMap<String, Definition>,
}

#[derive(serde::Deserialize)]
struct Definition {
    description: Option<String>,
    instruction: Option<String>,
    #[serde(rename = "minRuntimeVersion")]
    min_runtime_version: Option<String>,
    /// By skill name, in name order.
    #[serde(default)]
    skills: std::collections::BTreeMap<String, Value>,
    delegates: Option<Value>,
}

fn render(name: &ExpertName, version: &ApiVersion, tags: &[&str]) -> Result<Vec<u8>, String> {
    let location = format!("{name}@{}", version.version);
    let text = std::str::from_utf8(version.bytes)
        .map_err(|_| format!("{location}: the definition is not UTF-8"))?;
    let mut file: VersionFile =
        toml::from_str(text).map_err(|err| format!("{location}: invalid TOML: {err}"))?;
    let definition = file
        .experts
        .remove(name.as_str())
        .ok_or_else(|| format!("{location}: the definition has no [experts.\"{name}\"] table"))?;
    let mut skills = Map::new();
    for (skill_name, mut skill) in definition.skills {
        sort_keys(&mut skill);
        // The API requires a description on every skill; a definition may omit it.
        if let Some(object) = skill.as_object_mut()
            && !object.contains_key("description")
        {
            object.insert("description".into(), skill_name.clone().into());
        }
        skills.insert(skill_name, skill);
    }
    let delegates = definition.delegates.unwrap_or_else(|| json!([]));
    let owner_key = name.scope().unwrap_or(name.as_str());
    let document = DocumentView {
        data: DataView {
            expert: ExpertView {
                kind: "registryExpert",
                id: derived_id('e', &version.blake3),
                key: &location,
                name: name.as_str(),
                version: version.version,
                status: version.status.as_str(),
                min_runtime_version: definition
                    .min_runtime_version
                    .unwrap_or_else(|| DEFAULT_MIN_RUNTIME_VERSION.to_owned()),
                description: definition.description.unwrap_or_default(),
                instruction: definition.instruction.unwrap_or_default(),
                skills,
                delegates,
                tags,
                owner: OwnerView {
                    name: name.scope().map(|scope| scope.trim_start_matches('@')),
                    organization_id: derived_id('o', &Hash::of(owner_key.as_bytes())),
                    created_at: TIMESTAMP,
                },
                created_at: TIMESTAMP,
                updated_at: TIMESTAMP,
            },
        },
    };
    Ok(crate::index::render_json(&document))
}

// The document's shape, in the hosted API's field order. Serialized from these views rather
// than a built `serde_json::Value`, which cost a large share of rendering 100k documents.

#[derive(serde::Serialize)]
struct DocumentView<'a> {
    data: DataView<'a>,
}

#[derive(serde::Serialize)]
struct DataView<'a> {
    expert: ExpertView<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ExpertView<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: String,
    key: &'a str,
    name: &'a str,
    version: &'a str,
    status: &'a str,
    min_runtime_version: String,
    description: String,
    instruction: String,
    skills: Map<String, Value>,
    delegates: Value,
    tags: &'a [&'a str],
    owner: OwnerView<'a>,
    created_at: &'a str,
    updated_at: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnerView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    organization_id: String,
    created_at: &'a str,
}

/// Sorts every object in `value` by key, at every depth: the documents list a skill's fields
/// in name order (then a `description` the document adds), whatever order the definition
/// wrote them in.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.sort_keys();
            object.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// An id in the API's cuid2 shape (a lowercase letter, then lowercase letters and digits):
/// the letter, then the first 24 hex digits of a hash.
fn derived_id(letter: char, hash: &Hash) -> String {
    format!("{letter}{}", &hash.to_hex()[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_versions_tags_and_the_bare_name_but_not_disabled_versions() {
        let name = ExpertName::parse("@acme/x").unwrap();
        let files: Vec<String> = ["0.9.0", "1.0.0", "1.1.0"]
            .iter()
            .map(|v| {
                format!(
                    "[experts.\"@acme/x\"]\nversion = \"{v}\"\ndescription = \"d\"\ninstruction = \"i\"\n"
                )
            })
            .collect();
        let version = |i: usize, status| ApiVersion {
            version: ["0.9.0", "1.0.0", "1.1.0"][i],
            status,
            blake3: Hash::of(files[i].as_bytes()),
            bytes: files[i].as_bytes(),
        };
        let expert = ApiExpert {
            name: &name,
            dist_tags: vec![("latest", "1.1.0"), ("stable", "1.0.0")],
            versions: vec![
                version(0, Status::Disabled),
                version(1, Status::Deprecated),
                version(2, Status::Available),
            ],
        };
        let docs = documents(&expert).unwrap();
        let mut paths: Vec<&str> = docs
            .iter()
            .flat_map(VersionDocument::paths)
            .map(String::as_str)
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "api/registry/v1/experts/@acme/x",
                "api/registry/v1/experts/@acme/x@1.0.0",
                "api/registry/v1/experts/@acme/x@1.1.0",
                "api/registry/v1/experts/@acme/x@latest",
                "api/registry/v1/experts/@acme/x@stable",
            ]
        );
        assert_eq!(docs[0].path, "api/registry/v1/experts/@acme/x@1.0.0");
        assert_eq!(docs[0].aliases, ["api/registry/v1/experts/@acme/x@stable"]);
        let stable: Value = serde_json::from_slice(&docs[0].bytes).unwrap();
        assert_eq!(stable["data"]["expert"]["key"], "@acme/x@1.0.0");
        assert_eq!(stable["data"]["expert"]["status"], "deprecated");
        assert_eq!(stable["data"]["expert"]["tags"], json!(["stable"]));
        assert_eq!(stable["data"]["expert"]["owner"]["name"], "acme");
    }
}
