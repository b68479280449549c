//! What each page shows, as plain serializable data for the templates.
//!
//! The checked registry gives versions, statuses, tags and delegates; the shown version's file
//! is parsed again here for what only the definition holds (skills, category tags, runtime
//! version). Every string is handed to the templates as text, never as markup: escaping is the
//! templates' job, done by minijinja's auto-escaping. The two exceptions are markup this
//! crate produced from escaped text: the highlighted definition ([`highlight::html`]) and the
//! rendered instruction ([`markdown::html`]).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::common::model::{ExpertKey, ExpertName, Selector, Status};
use crate::data::validate::{Expert, Published as PublishedVersion};
use crate::format::index;
use crate::site::{highlight, markdown, paging};

/// Where an expert's page lives, relative to the registry root.
pub fn expert_page_path(name: &ExpertName) -> String {
    format!("experts/{name}/index.html")
}

/// Where the page of one version of an expert lives, beside the expert's page. A version starts
/// with a digit, so it never collides with `index.html`.
pub fn version_page_path(name: &ExpertName, version: &str) -> String {
    format!("experts/{name}/{version}.html")
}

/// The link to a version's page. A `+` (build metadata, `1.0.0+build.5`) is written `%2B`:
/// S3 and some CDNs read a literal `+` in a path as a space, and every host decodes `%2B`.
pub fn version_page_href(name: &ExpertName, version: &str) -> String {
    version_page_path(name, version).replace('+', "%2B")
}

/// The scope an expert is listed under: `@acme`, or [`UNSCOPED`].
pub fn scope_of(name: &ExpertName) -> &str {
    name.scope().unwrap_or(UNSCOPED)
}

/// The listing of experts without a scope; no real scope is named this, since scopes start
/// with `@`.
pub const UNSCOPED: &str = "unscoped";

/// Where a page of a scope's listing lives: the first is the scope's `index.html`, so links to
/// a scope stay the same however many pages it grows; a later one is named after the expert it
/// begins with (`first`, its name without the scope), so it keeps its address when experts are
/// added before it (see [`crate::site::paging`]).
pub fn scope_page_path(scope: &str, first: Option<&str>) -> String {
    match first {
        None => format!("scopes/{scope}/index.html"),
        Some(name) => format!("scopes/{scope}/from-{}.html", paging::file_stem(name)),
    }
}

/// A name without its scope.
pub fn local_name(name: &ExpertName) -> &str {
    let name = name.as_str();
    name.split_once('/').map_or(name, |(_, local)| local)
}

/// Orders names as people count: `expert-2` before `expert-10`. Runs of digits compare by
/// value, everything else byte by byte; names equal that way (`a-01`, `a-1`) fall back to
/// byte order, so the order is total and the same on every machine.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn runs(text: &str) -> impl Iterator<Item = (bool, &str)> {
        let bytes = text.as_bytes();
        let mut start = 0;
        std::iter::from_fn(move || {
            let first = *bytes.get(start)?;
            let digits = first.is_ascii_digit();
            let len = bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit() == digits)
                .count();
            let run = &text[start..start + len];
            start += len;
            Some((digits, run))
        })
    }
    let mut left = runs(a);
    let mut right = runs(b);
    loop {
        let order = match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some((true, x)), Some((true, y))) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (Some((_, x)), Some((_, y))) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// The version a page shows: `latest`; failing that, the highest version still usable; failing
/// that, the highest version.
pub fn shown_version(expert: &Expert) -> &PublishedVersion {
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
    pub published: Option<PublishedAt>,
    pub blake3: String,
    pub size: u64,
    /// The version's page.
    pub href: String,
    /// The version file itself.
    pub blob_href: String,
    pub shown: bool,
}

/// When a version was published: the RFC 3339 time for `<time datetime>` and the day to show.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedAt {
    pub datetime: String,
    pub date: String,
}

impl PublishedAt {
    fn of(published: &PublishedVersion) -> Option<PublishedAt> {
        let datetime = published.published.as_ref()?;
        Some(PublishedAt {
            date: datetime.get(..10).unwrap_or(datetime).to_owned(),
            datetime: datetime.clone(),
        })
    }
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

/// One version's definition, as the expert page (for the version it shows) and the version's
/// own page present it.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionView {
    pub version: String,
    pub status: Status,
    pub reason: Option<String>,
    /// Dist-tags pointing at this version, `latest` first.
    pub tags: Vec<String>,
    pub published: Option<PublishedAt>,
    pub description: String,
    pub categories: Vec<String>,
    pub min_runtime_version: Option<String>,
    /// `npx perstack run ...`, absent when the version is disabled.
    pub command: Option<String>,
    pub required_env: Vec<String>,
    pub skills: Vec<SkillView>,
    pub delegates: Vec<Link>,
    /// The instruction rendered from Markdown, sanitized ([`markdown::html`]).
    pub instruction_html: String,
    /// The highlighted definition, as escaped HTML ([`highlight::html`]).
    pub definition_html: String,
    pub blake3: String,
    pub blob_href: String,
    pub blob_name: String,
    /// This version's page.
    pub href: String,
}

/// An expert's page: the expert, its versions, and the definition of the version it shows.
#[derive(Debug, Clone, Serialize)]
pub struct ExpertView {
    pub name: String,
    pub scope: Link,
    pub latest: Option<String>,
    pub versions: Vec<VersionRow>,
    pub used_by: Vec<Link>,
    pub shown: DefinitionView,
    pub api_href: String,
}

/// The page of one version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub name: String,
    pub scope: Link,
    pub href: String,
    /// The version tagged `latest`, with its page, when it is another one.
    pub latest: Option<Link>,
    pub definition: DefinitionView,
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
    instruction: String,
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

/// Builds the view of one expert from the checked registry and the text of its shown version.
pub fn expert_view(
    expert: &Expert,
    text: &str,
    used_by: &BTreeSet<&ExpertName>,
) -> Result<ExpertView, DefinitionError> {
    let shown = shown_version(expert);
    let tags = tags_by_version(expert);
    Ok(ExpertView {
        name: expert.name.to_string(),
        scope: scope_link(&expert.name),
        latest: expert.latest.as_ref().map(ToString::to_string),
        versions: version_rows(expert, shown, &tags),
        used_by: used_by_links(used_by),
        shown: definition_view(expert, shown, text, &tags)?,
        api_href: expert.name.readable_index_path(),
    })
}

/// Builds the page of one version from the checked registry and the version file's text.
pub fn version_view(
    expert: &Expert,
    version: &PublishedVersion,
    text: &str,
) -> Result<VersionView, DefinitionError> {
    let tags = tags_by_version(expert);
    let latest = expert
        .latest
        .as_ref()
        .map(ToString::to_string)
        .filter(|latest| *latest != version.record.version)
        .map(|latest| Link {
            href: version_page_href(&expert.name, &latest),
            text: latest,
        });
    Ok(VersionView {
        name: expert.name.to_string(),
        scope: scope_link(&expert.name),
        href: expert_page_path(&expert.name),
        latest,
        definition: definition_view(expert, version, text, &tags)?,
        api_href: expert.name.readable_index_path(),
    })
}

fn scope_link(name: &ExpertName) -> Link {
    let scope = scope_of(name);
    Link {
        text: scope.to_owned(),
        href: scope_page_path(scope, None),
    }
}

fn definition_view(
    expert: &Expert,
    version: &PublishedVersion,
    text: &str,
    tags: &BTreeMap<String, Vec<String>>,
) -> Result<DefinitionView, DefinitionError> {
    let definition = parse_definition(text)?;
    let record = &version.record;
    Ok(DefinitionView {
        version: record.version.clone(),
        status: version.status,
        reason: version.reason.clone(),
        tags: tags.get(&record.version).cloned().unwrap_or_default(),
        published: PublishedAt::of(version),
        description: record.description.clone(),
        categories: definition.tags,
        min_runtime_version: definition.min_runtime_version,
        command: (version.status != Status::Disabled).then(|| {
            format!(
                "npx perstack run {}@{} \"...\"",
                expert.name, record.version
            )
        }),
        required_env: record.required_env.clone(),
        skills: skill_views(definition.skills),
        delegates: delegate_links(version),
        instruction_html: markdown::html(&definition.instruction),
        definition_html: highlight::html(text),
        blake3: record.blake3.to_hex(),
        blob_href: index::blob_path(&record.blake3),
        blob_name: format!("{}.toml", record.blake3.to_hex()),
        href: version_page_href(&expert.name, &record.version),
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

/// The dist-tags pointing at each version, `latest` first.
fn tags_by_version(expert: &Expert) -> BTreeMap<String, Vec<String>> {
    let mut tags_by_version: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (tag, version) in expert.dist_tags() {
        tags_by_version
            .entry(version)
            .or_default()
            .push(tag.to_owned());
    }
    tags_by_version
}

/// The version table, newest first, each row with the dist-tags pointing at it.
fn version_rows(
    expert: &Expert,
    shown: &PublishedVersion,
    tags: &BTreeMap<String, Vec<String>>,
) -> Vec<VersionRow> {
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
                tags: tags.get(&record.version).cloned().unwrap_or_default(),
                published: PublishedAt::of(published),
                blake3: record.blake3.to_hex(),
                size: record.size,
                href: version_page_href(&expert.name, &record.version),
                blob_href: index::blob_path(&record.blake3),
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

/// Links to the experts a version delegates to.
fn delegate_links(version: &PublishedVersion) -> Vec<Link> {
    version
        .record
        .delegates
        .iter()
        .filter_map(|delegate| {
            let key = ExpertKey::parse(&delegate.key).ok()?;
            // A pinned version links to that version's page.
            let href = match &key.selector {
                Selector::Version(version) => version_page_href(&key.name, &version.to_string()),
                _ => expert_page_path(&key.name),
            };
            Some(Link {
                text: delegate.key.clone(),
                href,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_people_count() {
        let mut names = vec![
            "expert-10",
            "expert-2",
            "expert-1",
            "expert-02",
            "expert",
            "expert-1a",
            "b-1",
            "expert-100",
            "expert-9-x",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "b-1",
                "expert",
                "expert-1",
                "expert-1a",
                "expert-02",
                "expert-2",
                "expert-9-x",
                "expert-10",
                "expert-100",
            ]
        );
        assert_eq!(natural_cmp("a-007", "a-7"), "a-007".cmp("a-7"));
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }

    #[test]
    fn pages_have_stable_paths() {
        let name = ExpertName::parse("@acme/researcher").unwrap();
        assert_eq!(
            version_page_path(&name, "1.2.0-beta.1"),
            "experts/@acme/researcher/1.2.0-beta.1.html"
        );
        assert_eq!(
            version_page_href(&name, "1.0.0+build.5"),
            "experts/@acme/researcher/1.0.0%2Bbuild.5.html"
        );
        assert_eq!(scope_page_path("@acme", None), "scopes/@acme/index.html");
        assert_eq!(
            scope_page_path("@acme", Some("researcher")),
            "scopes/@acme/from-researcher.html"
        );
    }
}
