//! Perstack API compatibility: the hosted Registry's read API as static files, so a runtime
//! whose `perstackApiBaseUrl` points at a static host runs registry experts unchanged.
//!
//! `GET /api/registry/v1/experts/{key}` is answered by one document per servable version
//! (`name@version`), per dist-tag (`name@tag`, `latest` included) and per bare name (the latest
//! version); `GET /api/registry/v1/experts/{name}/versions` by one list per expert. The runtime
//! percent-encodes the key as a whole and static hosts decode `%40` and `%2F` before mapping the
//! path to a file, so `@acme/researcher@1.2.3` is file `researcher@1.2.3` in directory `@acme`.
//! A bare name is both a document and the parent of `versions`, so its document is the
//! directory's index file, `<name>/index.html`, which every static host serves for the
//! directory (most after a redirect to `<name>/`; the runtime follows it). Requests a static
//! registry cannot answer get [`NOT_FOUND_PATH`], the API's 404 body, where the host lets us.
//!
//! Documents carry a definition the way Perstack's own schema yields it ([`expert_schema`]),
//! never the author's table as written. Disabled versions are not served. Everything in a
//! document comes from the data: ids are derived from hashes and timestamps are a documented
//! constant, never the clock, so the build stays deterministic.

pub mod expert_schema;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::common::model::{ExpertName, Hash, Status};

pub const DIR: &str = "api/registry/v1/experts";
/// The API's 404 body (`{"code":404,"error":"Not Found","reason":...}`), for hosts that can
/// answer a missing path with a file of our choosing (see README, Serving).
pub const NOT_FOUND_PATH: &str = "api/registry/v1/not-found.json";
/// Says which format the API documents beside it are in, so a build knows whether the
/// documents a previous build left (or a deploy serves) must all be written again.
pub const FORMAT_PATH: &str = "api/registry/v1/format.json";
/// The format of the API documents, raised whenever what a document holds for the same data
/// changes. 2: definitions as Perstack's schema yields them, bare names as `<name>/index.html`,
/// and `/versions` lists. (1, never written down: skills as the author wrote them.)
pub const FORMAT: u32 = 2;
/// The creation and update time of every document: the registry keeps no publish times.
pub const TIMESTAMP: &str = "1970-01-01T00:00:00Z";
/// The file that holds a bare name's document inside the name's directory: the index file
/// every static host serves for a directory.
const BARE_NAME_FILE: &str = "index.html";
/// The file, inside a name's directory, that answers `GET .../experts/{name}/versions`.
const VERSIONS_FILE: &str = "versions";

/// One published version, as the API documents need it.
pub struct ApiVersion<'a> {
    pub version: &'a str,
    pub status: Status,
    pub blake3: Hash,
    /// The version file, byte for byte.
    pub bytes: &'a [u8],
    /// When it was published, if recorded; the documents' `createdAt` and `updatedAt`.
    pub published: Option<&'a str>,
}

impl<'a> ApiVersion<'a> {
    /// `createdAt` and `updatedAt`: the publish time, or [`TIMESTAMP`] when none is recorded.
    /// A published version never changes, so both are the same instant.
    fn created_at(&self) -> &'a str {
        self.published.unwrap_or(TIMESTAMP)
    }
}

/// An expert's servable state: its dist-tags (`latest` first) and versions, in version order.
pub struct ApiExpert<'a> {
    pub name: &'a ExpertName,
    pub dist_tags: Vec<(&'a str, &'a str)>,
    pub versions: Vec<ApiVersion<'a>>,
}

/// The path of the document that answers `GET .../experts/{key}` for a `name@version` or
/// `name@tag` key, relative to the registry root.
pub fn path(key: &str) -> String {
    format!("{DIR}/{key}")
}

/// The path of the document that answers `GET .../experts/{name}` for a bare name.
pub fn bare_name_path(name: &str) -> String {
    format!("{DIR}/{name}/{BARE_NAME_FILE}")
}

/// The path of the document that answers `GET .../experts/{name}/versions`.
pub fn versions_path(name: &str) -> String {
    format!("{DIR}/{name}/{VERSIONS_FILE}")
}

/// The path where builds before the `/versions` endpoint kept a bare name's document, as a
/// file where the name's directory now is.
pub fn legacy_bare_name_path(name: &str) -> String {
    format!("{DIR}/{name}")
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

/// Every API document of one expert.
#[derive(Debug)]
pub struct Documents {
    /// One per servable version, in version order.
    pub versions: Vec<VersionDocument>,
    /// The `/versions` list: its path and bytes; none when no version is servable.
    pub listing: Option<(String, Vec<u8>)>,
}

impl Documents {
    /// Every path these documents are served at.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.versions
            .iter()
            .flat_map(VersionDocument::paths)
            .chain(self.listing.iter().map(|(path, _)| path))
    }
}

/// Every document of one expert.
pub fn documents(expert: &ApiExpert) -> Result<Documents, String> {
    let name = expert.name.as_str();
    let latest = latest(&expert.dist_tags);
    let mut versions = Vec::new();
    let mut digests = Vec::new();
    for version in &expert.versions {
        if version.status == Status::Disabled {
            continue;
        }
        let tags = tags_on(&expert.dist_tags, version.version);
        let definition = parse(expert.name, version)?;
        let bytes = render(expert.name, version, &definition, &tags)?;
        digests.push(DigestView::new(
            expert.name,
            version,
            definition,
            tags.clone(),
        ));
        let mut keys = version_paths(name, version.version, &tags, latest).into_iter();
        let path = keys.next().expect("a version always has its own key");
        versions.push(VersionDocument {
            path,
            aliases: keys.collect(),
            bytes,
        });
    }
    let listing = latest.filter(|_| !digests.is_empty()).map(|latest| {
        // The hosted API lists versions newest first.
        digests.reverse();
        let total = digests.len();
        let view = VersionsView {
            data: VersionsDataView {
                versions: digests,
                latest,
            },
            meta: MetaView { total },
        };
        (versions_path(name), crate::common::json::render_json(&view))
    });
    Ok(Documents { versions, listing })
}

/// The documents every registry has once, whatever its experts: [`NOT_FOUND_PATH`] and
/// [`FORMAT_PATH`], the format last, so a build killed before it writes them all again.
pub fn fixed_documents() -> [(&'static str, Vec<u8>); 2] {
    [
        (NOT_FOUND_PATH, not_found_document()),
        (FORMAT_PATH, format_document()),
    ]
}

/// Whether the API documents of the registry `reader` reads are in this build's [`FORMAT`].
pub fn format_is_current(
    reader: &dyn crate::format::reader::Reader,
) -> Result<bool, crate::format::reader::PublishedError> {
    Ok(reader.read(FORMAT_PATH)?.as_deref() == Some(format_document().as_slice()))
}

fn format_document() -> Vec<u8> {
    crate::common::json::render_json(&json!({
        "format": FORMAT,
        "perstackSchemas": format!("perstack-ai/perstack@{}", expert_schema::UPSTREAM),
    }))
}

/// The API's 404 body, for [`NOT_FOUND_PATH`].
fn not_found_document() -> Vec<u8> {
    crate::common::json::render_json(&json!({
        "code": 404,
        "error": "Not Found",
        "reason": "This static registry has no document at this path. It serves \
            GET /api/registry/v1/experts/{key} for an expert's name, name@version and \
            name@tag, and GET /api/registry/v1/experts/{name}/versions; listing and searching \
            experts need the hosted API.",
    }))
}

fn latest<'a>(dist_tags: &[(&str, &'a str)]) -> Option<&'a str> {
    dist_tags
        .iter()
        .find(|(tag, _)| *tag == crate::common::model::LATEST)
        .map(|(_, version)| *version)
}

fn tags_on<'a>(dist_tags: &[(&'a str, &str)], version: &str) -> Vec<&'a str> {
    dist_tags
        .iter()
        .filter(|(_, target)| *target == version)
        .map(|(tag, _)| *tag)
        .collect()
}

/// The paths one version's document is served at: `name@version` first, then `name@tag` for
/// each tag on it (`latest` included), and the bare name's when it is the latest.
fn version_paths(name: &str, version: &str, tags: &[&str], latest: Option<&str>) -> Vec<String> {
    let mut paths = vec![path(&format!("{name}@{version}"))];
    paths.extend(tags.iter().map(|tag| path(&format!("{name}@{tag}"))));
    if latest == Some(version) {
        paths.push(bare_name_path(name));
    }
    paths
}

/// The paths of every document served for an expert whose versions have the given statuses
/// and whose dist-tags (`latest` included) point at the given versions: `name@version` and
/// `name@tag` for each version that is not disabled, the bare name's for the latest, and the
/// `/versions` list.
fn paths<'a>(
    name: &str,
    versions: impl Iterator<Item = (&'a str, Status)>,
    dist_tags: &[(&str, &str)],
) -> BTreeSet<String> {
    let latest = latest(dist_tags);
    let mut paths = BTreeSet::new();
    for (version, status) in versions {
        if status == Status::Disabled {
            continue;
        }
        let tags = tags_on(dist_tags, version);
        paths.extend(version_paths(name, version, &tags, latest));
    }
    if latest.is_some() && !paths.is_empty() {
        paths.insert(versions_path(name));
    }
    paths
}

/// The paths of every document [`documents`] renders for a checked expert, without rendering
/// them (the deploy plan needs only the names).
pub fn document_paths(expert: &crate::data::validate::Expert) -> BTreeSet<String> {
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

/// Removes a bare name's document left as a file by a build from before the `/versions`
/// endpoint, so the name's directory can take its place. The registry serves no document for
/// the bare name until the build writes the new one, a moment later.
pub fn remove_legacy_bare_name(out: &Path, name: &ExpertName) -> std::io::Result<()> {
    let legacy = out.join(legacy_bare_name_path(name.as_str()));
    match std::fs::symlink_metadata(&legacy) {
        Ok(meta) if meta.is_file() => std::fs::remove_file(&legacy),
        _ => Ok(()),
    }
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
        // A name's directory holds its bare-name and `/versions` documents, which every
        // expert keeps for good (experts never vanish), so only files are listed: version and
        // tag documents, and bare-name documents in the layout of older builds.
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
    /// experts can hold a hundred thousand files, and listing it would dwarf the rest of a
    /// rebuild with one new version. Only for a registry whose last build completed; after a
    /// killed build, a document may exist that no index document names, and
    /// [`ExistingDocuments::list`] finds it.
    pub fn published<'a>(
        registry: &crate::format::reader::PublishedRegistry,
        names: impl Iterator<Item = &'a ExpertName>,
    ) -> Result<ExistingDocuments, crate::format::reader::PublishedError> {
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
            // Removed before the name's directory took its place.
            .filter(|relative| **relative != legacy_bare_name_path(name.as_str()))
            .map(|relative| out.join(relative))
            .collect();
        stale.sort();
        stale
    }
}

/// The parts of a version file an API document needs. Deserialized straight from the TOML
/// text rather than through a TOML value tree, which is costly to build and convert.
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
    /// By skill name, in name order; `None` when the definition declares no skills, which
    /// Perstack reads as the default base skill.
    skills: Option<std::collections::BTreeMap<String, Value>>,
    delegates: Option<Value>,
}

fn parse(name: &ExpertName, version: &ApiVersion) -> Result<Definition, String> {
    let location = format!("{name}@{}", version.version);
    let text = std::str::from_utf8(version.bytes)
        .map_err(|_| format!("{location}: the definition is not UTF-8"))?;
    let mut file: VersionFile =
        toml::from_str(text).map_err(|err| format!("{location}: invalid TOML: {err}"))?;
    file.experts
        .remove(name.as_str())
        .ok_or_else(|| format!("{location}: the definition has no [experts.\"{name}\"] table"))
}

fn render(
    name: &ExpertName,
    version: &ApiVersion,
    definition: &Definition,
    tags: &[&str],
) -> Result<Vec<u8>, String> {
    let location = format!("{name}@{}", version.version);
    let skills = match &definition.skills {
        None => expert_schema::default_skills(),
        Some(written) => written
            .iter()
            .map(|(skill_name, skill)| {
                expert_schema::skill(skill_name, skill)
                    .map(|parsed| (skill_name.clone(), parsed))
                    .map_err(|err| format!("{location}: {err}"))
            })
            .collect::<Result<_, _>>()?,
    };
    let document = DocumentView {
        data: DataView {
            expert: ExpertView {
                kind: "registryExpert",
                id: derived_id('e', &version.blake3),
                key: &location,
                name: name.as_str(),
                version: version.version,
                status: version.status.as_str(),
                min_runtime_version: min_runtime_version(definition),
                description: definition.description.as_deref().unwrap_or_default(),
                instruction: definition.instruction.as_deref().unwrap_or_default(),
                skills,
                delegates: definition.delegates.clone().unwrap_or_else(|| json!([])),
                tags,
                owner: OwnerView::of(name),
                created_at: version.created_at(),
                updated_at: version.created_at(),
            },
        },
    };
    Ok(crate::common::json::render_json(&document))
}

fn min_runtime_version(definition: &Definition) -> &str {
    definition
        .min_runtime_version
        .as_deref()
        .unwrap_or(crate::data::definition::DEFAULT_MIN_RUNTIME_VERSION)
}

// The documents' shapes, in the hosted API's field order. Serialized from these views rather
// than a built `serde_json::Value`, which would be a large share of rendering a document.

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
    min_runtime_version: &'a str,
    description: &'a str,
    instruction: &'a str,
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

impl OwnerView<'_> {
    /// The owner is the scope; an unscoped expert owns itself.
    fn of(name: &ExpertName) -> OwnerView<'_> {
        let owner_key = name.scope().unwrap_or(name.as_str());
        OwnerView {
            name: name.scope().map(|scope| scope.trim_start_matches('@')),
            organization_id: derived_id('o', &Hash::of(owner_key.as_bytes())),
            created_at: TIMESTAMP,
        }
    }
}

/// `GET .../experts/{name}/versions`: `docs/api-reference/registry-v1/experts-versions.md`
/// upstream, checked by the api-client's `getExpertVersionsResponseSchema`.
#[derive(serde::Serialize)]
struct VersionsView<'a> {
    data: VersionsDataView<'a>,
    meta: MetaView,
}

#[derive(serde::Serialize)]
struct VersionsDataView<'a> {
    versions: Vec<DigestView<'a>>,
    latest: &'a str,
}

#[derive(serde::Serialize)]
struct MetaView {
    total: usize,
}

/// One version in the list: the api-client's `expertDigestSchema`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DigestView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    key: String,
    name: &'a str,
    min_runtime_version: String,
    description: String,
    owner: OwnerView<'a>,
    created_at: &'a str,
    updated_at: &'a str,
    version: &'a str,
    tags: Vec<&'a str>,
}

impl<'a> DigestView<'a> {
    fn new(
        name: &'a ExpertName,
        version: &ApiVersion<'a>,
        definition: Definition,
        tags: Vec<&'a str>,
    ) -> DigestView<'a> {
        DigestView {
            kind: "expertDigest",
            id: derived_id('e', &version.blake3),
            key: format!("{name}@{}", version.version),
            name: name.as_str(),
            min_runtime_version: min_runtime_version(&definition).to_owned(),
            description: definition.description.unwrap_or_default(),
            owner: OwnerView::of(name),
            created_at: version.created_at(),
            updated_at: version.created_at(),
            version: version.version,
            tags,
        }
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
            published: None,
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
        let mut paths: Vec<&str> = docs.paths().map(String::as_str).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "api/registry/v1/experts/@acme/x/index.html",
                "api/registry/v1/experts/@acme/x/versions",
                "api/registry/v1/experts/@acme/x@1.0.0",
                "api/registry/v1/experts/@acme/x@1.1.0",
                "api/registry/v1/experts/@acme/x@latest",
                "api/registry/v1/experts/@acme/x@stable",
            ]
        );
        let docs = docs.versions;
        assert_eq!(docs[0].path, "api/registry/v1/experts/@acme/x@1.0.0");
        assert_eq!(docs[0].aliases, ["api/registry/v1/experts/@acme/x@stable"]);
        let stable: Value = serde_json::from_slice(&docs[0].bytes).unwrap();
        assert_eq!(stable["data"]["expert"]["key"], "@acme/x@1.0.0");
        assert_eq!(stable["data"]["expert"]["status"], "deprecated");
        assert_eq!(stable["data"]["expert"]["tags"], json!(["stable"]));
        assert_eq!(stable["data"]["expert"]["owner"]["name"], "acme");
    }
}
