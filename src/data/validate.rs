//! Rules that need the whole registry: build-metadata twins, tags and statuses naming real
//! versions, and delegates resolving inside the registry.
//!
//! The output is a [`Registry`]: the checked model that the index and the site are built from.
//! It exists only when the data broke no rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use crate::common::diagnostic::Diagnostic;
use crate::common::model::{ExpertKey, ExpertName, Selector, Status};
use crate::common::sorted_map::SortedMap;
use crate::data::build_cache::Stamp;
use crate::data::definition::VersionRecord;
use crate::data::load::{LoadedExpert, LoadedRegistry};
use crate::data::meta::ExpertMeta;
use crate::data::settings::Settings;

/// A registry whose every file and cross-reference is valid.
#[derive(Debug, Clone)]
pub struct Registry {
    pub settings: Settings,
    pub experts: BTreeMap<ExpertName, Expert>,
}

#[derive(Debug, Clone)]
pub struct Expert {
    pub name: ExpertName,
    /// Published versions in SemVer precedence order.
    pub versions: SortedMap<semver::Version, Published>,
    /// Custom tags (never `latest`) in byte order.
    pub tags: BTreeMap<String, semver::Version>,
    /// Tags removed on purpose, with the reason (`[retired-tags]` in expert.toml).
    pub retired_tags: BTreeMap<String, String>,
    pub latest: Option<semver::Version>,
}

#[derive(Debug, Clone)]
pub struct Published {
    pub path: PathBuf,
    pub record: VersionRecord,
    /// The source file's stamp, when the build cache may remember it.
    pub stamp: Option<Stamp>,
    pub status: Status,
    pub reason: Option<String>,
    /// When it was published, as `expert.toml` records it (`2026-01-31T12:00:00Z`).
    pub published: Option<String>,
}

impl Expert {
    /// The dist-tags with the version each names: `latest` first (when there is one), then the
    /// custom tags in byte order, as the index and API documents list them.
    pub fn dist_tags(&self) -> Vec<(&str, String)> {
        let latest = self
            .latest
            .iter()
            .map(|version| (crate::common::model::LATEST, version.to_string()));
        let custom = self
            .tags
            .iter()
            .map(|(tag, version)| (tag.as_str(), version.to_string()));
        latest.chain(custom).collect()
    }
}

impl Registry {
    pub fn version_count(&self) -> usize {
        self.experts.values().map(|e| e.versions.len()).sum()
    }

    /// What the build cache remembers: each version file with a settled stamp, and its record.
    pub fn cache_entries(&self) -> impl Iterator<Item = (&std::path::Path, Stamp, &VersionRecord)> {
        self.experts
            .values()
            .flat_map(|expert| expert.versions.values())
            .filter_map(|published| {
                Some((
                    published.path.as_path(),
                    published.stamp?,
                    &published.record,
                ))
            })
    }
}

impl Expert {
    /// The version a key selects, if it names one of this expert's versions or tags.
    pub fn select(&self, selector: &Selector) -> Option<&semver::Version> {
        match selector {
            Selector::Latest => self.latest.as_ref(),
            Selector::Version(version) => self.versions.get_key_value(version).map(|(v, _)| v),
            Selector::Tag(tag) => self.tags.get(tag),
        }
    }
}

/// The `latest` rule: the highest available version without a prerelease; failing that, the
/// highest available prerelease; failing that, none.
pub fn compute_latest<'a>(
    versions: impl DoubleEndedIterator<Item = (&'a semver::Version, Status)> + Clone,
) -> Option<semver::Version> {
    let mut available = versions.filter(|(_, status)| *status == Status::Available);
    available
        .clone()
        .rev()
        .find(|(v, _)| v.pre.is_empty())
        .or_else(|| available.next_back())
        .map(|(v, _)| v.clone())
}

/// Applies the cross-file rules. Returns the registry when neither the load nor these rules
/// found an error; all problems (warnings too) are returned either way.
pub fn validate(loaded: LoadedRegistry) -> (Option<Registry>, Vec<Diagnostic>) {
    validate_where(loaded, |_| true)
}

/// [`validate`] for a registry loaded in part (`load::load_experts`): the experts in `checked`
/// and those their delegates name. Only `checked` experts' delegates are resolved, and only
/// they are in the registry returned; the others are there for their delegates to resolve.
pub fn validate_changed(
    loaded: LoadedRegistry,
    checked: &BTreeSet<ExpertName>,
) -> (Option<Registry>, Vec<Diagnostic>) {
    validate_where(loaded, |name| checked.contains(name))
}

fn validate_where(
    loaded: LoadedRegistry,
    checked: impl Fn(&ExpertName) -> bool,
) -> (Option<Registry>, Vec<Diagnostic>) {
    let mut loaded = loaded;
    let mut problems = std::mem::take(&mut loaded.problems);
    let mut experts = BTreeMap::new();
    for expert in loaded.experts.values_mut() {
        experts.insert(expert.name.clone(), check_expert(expert, &mut problems));
    }
    for expert in experts.values().filter(|expert| checked(&expert.name)) {
        for published in expert.versions.values() {
            check_delegates(published, &experts, &loaded.experts, &mut problems);
        }
    }
    experts.retain(|name, _| checked(name));
    let has_errors = crate::common::diagnostic::has_errors(&problems);
    let registry = (!has_errors).then_some(Registry {
        settings: loaded.settings,
        experts,
    });
    (registry, problems)
}

/// Checks one expert's versions, tags and statuses. The version records are moved out of
/// `loaded`: a large registry holds hundreds of thousands, and copying them would double the
/// memory.
fn check_expert(loaded: &mut LoadedExpert, problems: &mut Vec<Diagnostic>) -> Expert {
    let mut by_precedence: BTreeMap<(u64, u64, u64, &semver::Prerelease), &semver::Version> =
        BTreeMap::new();
    for (version, published) in &loaded.versions {
        let precedence = (version.major, version.minor, version.patch, &version.pre);
        if let Some(twin) = by_precedence.insert(precedence, version) {
            problems.push(Diagnostic::error(
                "build-metadata-twin",
                &published.path,
                format!(
                    "versions {twin} and {version} of \"{}\" differ only in build metadata, which SemVer ignores when comparing; publish a new version number instead",
                    loaded.name
                ),
            ));
        }
    }

    let meta: &ExpertMeta = &loaded.meta;
    let mut versions = Vec::with_capacity(loaded.versions.len());
    for (version, file) in std::mem::take(&mut loaded.versions) {
        let (status, reason, published) = match meta.versions.get(&file.record.version) {
            Some(entry) => (
                entry.value.status,
                entry.value.reason.clone(),
                entry.value.published.clone(),
            ),
            None => (Status::Available, None, None),
        };
        versions.push((
            version,
            Published {
                path: file.path,
                record: file.record,
                stamp: file.stamp,
                status,
                reason,
                published,
            },
        ));
    }
    let versions = SortedMap::from_unsorted(versions);
    // By the text `expert.toml` names them with, so that an expert with thousands of versions
    // is not searched once per entry.
    let by_text: HashMap<&str, &semver::Version> = versions
        .iter()
        .map(|(version, published)| (published.record.version.as_str(), version))
        .collect();
    let find = |text: &str| by_text.get(text).map(|version| (*version).clone());
    for (version_text, entry) in &meta.versions {
        if find(version_text).is_none() && !loaded.invalid_versions.contains(version_text) {
            problems.push(
                Diagnostic::error(
                    "unknown-version",
                    &loaded.meta_path,
                    format!(
                        "[versions.\"{version_text}\"] names a version of \"{}\" that does not exist",
                        loaded.name
                    ),
                )
                .at(entry.position),
            );
        }
    }
    let mut tags = BTreeMap::new();
    for (tag, target) in &meta.tags {
        let place =
            |code, message| Diagnostic::error(code, &loaded.meta_path, message).at(target.position);
        match find(&target.value) {
            Some(version) if versions[&version].status == Status::Disabled => {
                problems.push(place(
                    "tag-disabled",
                    format!(
                        "tag \"{tag}\" points at {}@{version}, which is disabled; move the tag first",
                        loaded.name
                    ),
                ));
            }
            Some(version) => {
                tags.insert(tag.clone(), version);
            }
            None if loaded.invalid_versions.contains(&target.value) => {}
            None => problems.push(place(
                "tag-unknown-version",
                format!(
                    "tag \"{tag}\" points at version \"{}\", which \"{}\" does not have",
                    target.value, loaded.name
                ),
            )),
        }
    }
    let latest = compute_latest(versions.iter().map(|(v, p)| (v, p.status)));
    Expert {
        name: loaded.name.clone(),
        versions,
        tags,
        retired_tags: meta
            .retired_tags
            .iter()
            .map(|(tag, reason)| (tag.clone(), reason.value.clone()))
            .collect(),
        latest,
    }
}

fn check_delegates(
    published: &Published,
    experts: &BTreeMap<ExpertName, Expert>,
    loaded: &BTreeMap<ExpertName, LoadedExpert>,
    problems: &mut Vec<Diagnostic>,
) {
    for delegate in &published.record.delegates {
        // The key was checked when the file was read; a failure here cannot happen, and would
        // already have been reported.
        let Ok(key) = ExpertKey::parse(&delegate.key) else {
            continue;
        };
        let at =
            |code, message| Diagnostic::error(code, &published.path, message).at(delegate.position);
        // A delegate that names a real version which can no longer be used is only a warning:
        // the delegating version is immutable, and the lifecycle of its target must not make
        // the whole registry unbuildable.
        let warn = |code, message| {
            Diagnostic::warning(code, &published.path, message).at(delegate.position)
        };
        let Some(target) = experts.get(&key.name) else {
            problems.push(at(
                "delegate-unknown",
                format!(
                    "delegate \"{}\" does not resolve: there is no expert \"{}\" in this registry",
                    delegate.key, key.name
                ),
            ));
            continue;
        };
        let target_invalid = &loaded[&key.name].invalid_versions;
        match (&key.selector, target.select(&key.selector)) {
            (_, Some(version)) => {
                let status = target.versions[version].status;
                if status == Status::Disabled {
                    problems.push(warn(
                        "delegate-disabled",
                        format!(
                            "delegate \"{}\" names {}@{version}, which is disabled",
                            delegate.key, key.name
                        ),
                    ));
                }
            }
            (Selector::Version(version), None) => {
                if !target_invalid.contains(&version.to_string()) {
                    problems.push(at(
                        "delegate-unknown-version",
                        format!(
                            "delegate \"{}\" does not resolve: \"{}\" has no version {version}",
                            delegate.key, key.name
                        ),
                    ));
                }
            }
            (Selector::Tag(tag), None) => {
                let meta = &loaded[&key.name].meta;
                if !meta.tags.contains_key(tag) && !meta.tag_is_broken(tag) {
                    problems.push(at(
                        "delegate-unknown-tag",
                        format!(
                            "delegate \"{}\" does not resolve: \"{}\" has no tag \"{tag}\"",
                            delegate.key, key.name
                        ),
                    ));
                }
            }
            (Selector::Latest, None) => {
                if target_invalid.is_empty() {
                    problems.push(warn(
                        "delegate-no-latest",
                        format!(
                            "delegate \"{}\" has nothing to resolve to: \"{}\" has no available version",
                            delegate.key, key.name
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> semver::Version {
        text.parse().unwrap()
    }

    #[test]
    fn latest_prefers_available_releases_then_prereleases() {
        use Status::*;
        let versions = [
            (v("1.0.0"), Available),
            (v("1.1.0"), Deprecated),
            (v("2.0.0-beta.1"), Available),
        ];
        let iter = versions.iter().map(|(v, s)| (v, *s));
        assert_eq!(compute_latest(iter), Some(v("1.0.0")));

        let only_pre = [(v("1.0.0"), Disabled), (v("2.0.0-rc.1"), Available)];
        let iter = only_pre.iter().map(|(v, s)| (v, *s));
        assert_eq!(compute_latest(iter), Some(v("2.0.0-rc.1")));

        let none = [(v("1.0.0"), Deprecated)];
        assert_eq!(compute_latest(none.iter().map(|(v, s)| (v, *s))), None);
    }
}
