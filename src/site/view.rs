//! What each page shows, as plain serializable data for the templates.
//!
//! The checked registry gives versions, statuses, tags and delegates; the shown version's file
//! is parsed again here for what only the definition holds (skills, category tags, runtime
//! version). Every string is handed to the templates as text, never as markup: escaping is the
//! templates' job, done by minijinja's auto-escaping.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::common::model::{ExpertKey, ExpertName, Selector, Status};
use crate::data::validate::{Expert, Published};
use crate::format::index;
use crate::site::highlight;

/// Where an expert's page lives, relative to the registry root.
pub fn expert_page_path(name: &ExpertName) -> String {
    format!("experts/{name}/index.html")
}

/// The scope an expert is listed under: `@acme`, or [`UNSCOPED`].
pub fn scope_of(name: &ExpertName) -> &str {
    name.scope().unwrap_or(UNSCOPED)
}

/// The listing of experts without a scope; no real scope is named this, since scopes start
/// with `@`.
pub const UNSCOPED: &str = "unscoped";

pub fn scope_page_path(scope: &str) -> String {
    format!("scopes/{scope}/index.html")
}

/// The version a page shows: `latest`; failing that, the highest version still usable; failing
/// that, the highest version.
pub fn shown_version(expert: &Expert) -> &Published {
    let version = expert
        .latest
        .as_ref()
        .or_else(|| {
            expert
                .versions
                .iter()
                .rev()
                .find(|(_, p)| p.status != Status::Disabled)
                .map(|(v, _)| v)
        })
        .or_else(|| expert.versions.keys().next_back())
        .expect("a checked expert has at least one version");
    &expert.versions[version]
}

/// One line of a listing: a link to an expert with its summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub href: String,
    pub latest: Option<String>,
    pub description: String,
}

impl Summary {
    pub fn of(expert: &Expert) -> Summary {
        Summary {
            name: expert.name.to_string(),
            href: expert_page_path(&expert.name),
            latest: expert.latest.as_ref().map(ToString::to_string),
            description: shown_version(expert).record.description.clone(),
        }
    }
}

/// A link to another page, relative to the registry root.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub text: String,
    pub href: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub version: String,
    pub status: Status,
    pub reason: Option<String>,
    /// Dist-tags pointing at this version, `latest` first.
    pub tags: Vec<String>,
    pub blake3: String,
    pub size: u64,
    pub href: String,
    pub shown: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkillView {
    pub name: String,
    pub kind: String,
    /// What runs: the npm package, the command line, or the endpoint.
    pub source: Option<String>,
    pub description: Option<String>,
    pub pick: Vec<String>,
    pub omit: Vec<String>,
    pub required_env: Vec<String>,
    /// The tools of an interactive skill.
    pub tools: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpertView {
    pub name: String,
    pub scope: Link,
    pub description: String,
    pub latest: Option<String>,
    pub version: String,
    pub status: Status,
    pub reason: Option<String>,
    pub versions: Vec<VersionRow>,
    pub categories: Vec<String>,
    pub min_runtime_version: Option<String>,
    /// `npx perstack run ...`, absent when the shown version is disabled.
    pub command: Option<String>,
    pub required_env: Vec<String>,
    pub skills: Vec<SkillView>,
    pub delegates: Vec<Link>,
    pub used_by: Vec<Link>,
    /// The highlighted definition, as escaped HTML ([`highlight::html`]).
    pub definition_html: String,
    pub blake3: String,
    pub blob_href: String,
    pub blob_name: String,
    pub api_href: String,
}

/// The parts of a version file that only the definition holds. Fields the page does not show
/// are ignored; the file was fully checked when it was loaded.
#[derive(Debug, Deserialize)]
struct VersionFile {
    experts: BTreeMap<String, Definition>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Definition {
    #[serde(default)]
    tags: Vec<String>,
    min_runtime_version: Option<String>,
    #[serde(default)]
    skills: BTreeMap<String, SkillDefinition>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkillDefinition {
    #[serde(rename = "type")]
    kind: String,
    command: Option<String>,
    package_name: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    endpoint: Option<String>,
    description: Option<String>,
    #[serde(default)]
    pick: Vec<String>,
    #[serde(default)]
    omit: Vec<String>,
    #[serde(default)]
    required_env: Vec<String>,
    #[serde(default)]
    tools: BTreeMap<String, toml::Value>,
}

/// Why a definition could not be shown. The file was checked when it was loaded, so either
/// means it changed since, or the checks and this reading disagree.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error(transparent)]
    Parse(#[from] toml::de::Error),
    #[error("the file defines no expert")]
    NoExpert,
}

/// Builds the view of one expert from the checked registry and the bytes of its shown version.
pub fn expert_view(
    expert: &Expert,
    text: &str,
    used_by: &BTreeSet<&ExpertName>,
) -> Result<ExpertView, DefinitionError> {
    let shown = shown_version(expert);
    let definition = parse_definition(text)?;
    let record = &shown.record;
    let scope = scope_of(&expert.name);
    Ok(ExpertView {
        name: expert.name.to_string(),
        scope: Link {
            text: scope.to_owned(),
            href: scope_page_path(scope),
        },
        description: record.description.clone(),
        latest: expert.latest.as_ref().map(ToString::to_string),
        version: record.version.clone(),
        status: shown.status,
        reason: shown.reason.clone(),
        versions: version_rows(expert, shown),
        categories: definition.tags,
        min_runtime_version: definition.min_runtime_version,
        command: (shown.status != Status::Disabled).then(|| {
            format!(
                "npx perstack run {}@{} \"...\"",
                expert.name, record.version
            )
        }),
        required_env: record.required_env.clone(),
        skills: skill_views(definition.skills),
        delegates: delegate_links(shown),
        used_by: used_by_links(used_by),
        definition_html: highlight::html(text),
        blake3: record.blake3.to_hex(),
        blob_href: index::blob_path(&record.blake3),
        blob_name: format!("{}.toml", record.blake3.to_hex()),
        api_href: expert.name.readable_index_path(),
    })
}

/// The definition in a version file's text: its only expert's table.
fn parse_definition(text: &str) -> Result<Definition, DefinitionError> {
    let file: VersionFile = toml::from_str(text)?;
    file.experts
        .into_values()
        .next()
        .ok_or(DefinitionError::NoExpert)
}

/// The version table, newest first, each row with the dist-tags pointing at it.
fn version_rows(expert: &Expert, shown: &Published) -> Vec<VersionRow> {
    let mut tags_by_version: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(latest) = &expert.latest {
        tags_by_version
            .entry(latest.to_string())
            .or_default()
            .push(crate::common::model::LATEST.to_owned());
    }
    for (tag, version) in &expert.tags {
        tags_by_version
            .entry(version.to_string())
            .or_default()
            .push(tag.clone());
    }
    expert
        .versions
        .values()
        .rev()
        .map(|published| {
            let record = &published.record;
            VersionRow {
                version: record.version.clone(),
                status: published.status,
                reason: published.reason.clone(),
                tags: tags_by_version
                    .get(&record.version)
                    .cloned()
                    .unwrap_or_default(),
                blake3: record.blake3.to_hex(),
                size: record.size,
                href: index::blob_path(&record.blake3),
                shown: record.version == shown.record.version,
            }
        })
        .collect()
}

/// The skills of the shown definition, in name order, each with what it runs.
fn skill_views(skills: BTreeMap<String, SkillDefinition>) -> Vec<SkillView> {
    skills
        .into_iter()
        .map(|(name, skill)| {
            let source = match (skill.package_name, skill.endpoint, skill.command) {
                (Some(package), _, _) => Some(package),
                (None, Some(endpoint), _) => Some(endpoint),
                (None, None, Some(command)) => Some(
                    std::iter::once(command)
                        .chain(skill.args)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                (None, None, None) => None,
            };
            SkillView {
                name,
                kind: skill.kind,
                source,
                description: skill.description,
                pick: skill.pick,
                omit: skill.omit,
                required_env: skill.required_env,
                tools: skill.tools.into_keys().collect(),
            }
        })
        .collect()
}

/// Links to the experts the shown version delegates to.
fn delegate_links(shown: &Published) -> Vec<Link> {
    shown
        .record
        .delegates
        .iter()
        .filter_map(|delegate| {
            let key = ExpertKey::parse(&delegate.key).ok()?;
            // A pinned version links to its row in the version table.
            let anchor = match &key.selector {
                Selector::Version(version) => format!("#v{version}"),
                _ => String::new(),
            };
            Some(Link {
                text: delegate.key.clone(),
                href: format!("{}{anchor}", expert_page_path(&key.name)),
            })
        })
        .collect()
}

/// Links to the experts that delegate to this one.
fn used_by_links(used_by: &BTreeSet<&ExpertName>) -> Vec<Link> {
    used_by
        .iter()
        .map(|name| Link {
            text: name.to_string(),
            href: expert_page_path(name),
        })
        .collect()
}

/// Which experts delegate to each expert, from any of their versions.
pub fn used_by(
    experts: &BTreeMap<ExpertName, Expert>,
) -> BTreeMap<&ExpertName, BTreeSet<&ExpertName>> {
    let mut used_by: BTreeMap<&ExpertName, BTreeSet<&ExpertName>> = BTreeMap::new();
    for expert in experts.values() {
        for published in expert.versions.values() {
            for delegate in &published.record.delegates {
                if let Ok(key) = ExpertKey::parse(&delegate.key)
                    && let Some((target, _)) = experts.get_key_value(&key.name)
                {
                    used_by.entry(target).or_default().insert(&expert.name);
                }
            }
        }
    }
    used_by
}
