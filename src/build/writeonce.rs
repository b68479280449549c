//! The write-once guarantee: what was published stays published.
//!
//! Compares an expert as it was published with the same expert now and refuses any published
//! version whose bytes changed or that disappeared, any status change the lifecycle forbids,
//! and any expert or custom tag that would vanish (a tag may go only when `[retired-tags]`
//! records that it was removed on purpose). The rules work on [`ExpertState`], a model both the
//! build (from the previous registry's index documents) and the pull-request review (from the
//! base revision's files in git) can produce, so the two enforce exactly the same rules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::diagnostic::{Diagnostic, Position};
use crate::common::model::{ExpertName, Hash, LATEST, Status};
use crate::data::meta;
use crate::data::validate::{Expert, Registry};
use crate::format::reader::{IndexDoc, PublishedError, PublishedRegistry};

use super::Changes;

/// What the write-once rules need to know about one expert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpertState {
    /// Version text -> its file's hash and status.
    pub versions: BTreeMap<String, VersionState>,
    /// Custom tags (never `latest`).
    pub tags: BTreeSet<String>,
    /// Tags removed on purpose.
    pub retired_tags: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionState {
    pub blake3: Hash,
    pub status: Status,
    /// Where the status is written in expert.toml, when it is known.
    pub status_position: Option<Position>,
    /// When it was published, if recorded. Once recorded it never changes.
    pub published: Option<String>,
}

impl ExpertState {
    /// The state a published index document records.
    pub fn from_index(doc: &IndexDoc) -> ExpertState {
        ExpertState {
            versions: doc
                .versions
                .iter()
                .map(|(version, entry)| {
                    let state = VersionState {
                        blake3: entry.blake3,
                        status: entry.status,
                        status_position: None,
                        published: entry.published.clone(),
                    };
                    (version.clone(), state)
                })
                .collect(),
            tags: doc
                .dist_tags
                .keys()
                .filter(|tag| *tag != LATEST)
                .cloned()
                .collect(),
            retired_tags: BTreeSet::new(),
        }
    }

    /// The state of a validated expert.
    pub fn of(expert: &Expert) -> ExpertState {
        ExpertState {
            versions: expert
                .versions
                .values()
                .map(|published| {
                    let state = VersionState {
                        blake3: published.record.blake3,
                        status: published.status,
                        status_position: None,
                        published: published.published.clone(),
                    };
                    (published.record.version.clone(), state)
                })
                .collect(),
            tags: expert.tags.keys().cloned().collect(),
            retired_tags: expert.retired_tags.keys().cloned().collect(),
        }
    }
}

/// Compares a registry about to be built with the one published before, given what differs
/// between them (`changes`, from comparing their bins). Returns one diagnostic per violation;
/// empty means the new registry may be published. Experts whose index document is
/// byte-identical to the published one cannot break a rule and are not even read.
pub fn check(
    registry: &Registry,
    changes: &Changes,
    previous: &PublishedRegistry,
    data_dir: &Path,
) -> Result<Vec<Diagnostic>, PublishedError> {
    let mut problems = Vec::new();
    for (name_text, (old_index, _)) in &changes.experts {
        let Some(old_index) = old_index else {
            continue;
        };
        let current = ExpertName::parse(name_text)
            .ok()
            .and_then(|name| registry.experts.get(&name));
        let old = previous.read_index_sized(old_index)?;
        let now = current.map(ExpertState::of);
        problems.extend(compare(
            name_text,
            data_dir,
            &ExpertState::from_index(&old),
            now.as_ref(),
        ));
    }
    Ok(problems)
}

/// The expert's directory in `registry-data/`, also for a name that no longer parses.
pub fn expert_dir(name_text: &str, data_dir: &Path) -> std::path::PathBuf {
    ExpertName::parse(name_text)
        .map(|name| name.data_dir(data_dir))
        .unwrap_or_else(|_| data_dir.join(name_text))
}

/// Applies the write-once rules to one expert: `old` as published, `new` as it is now (`None`
/// when the expert is gone).
pub fn compare(
    name_text: &str,
    data_dir: &Path,
    old: &ExpertState,
    new: Option<&ExpertState>,
) -> Vec<Diagnostic> {
    let dir = expert_dir(name_text, data_dir);
    let Some(new) = new else {
        return vec![Diagnostic::error(
            "expert-removed",
            &dir,
            format!("expert \"{name_text}\" was published and cannot be removed"),
        )];
    };
    let mut problems = Vec::new();
    let meta_path = dir.join(meta::FILE_NAME);
    for (version_text, old_version) in &old.versions {
        let version_path = dir.join(format!("{version_text}.toml"));
        let Some(current) = new.versions.get(version_text) else {
            problems.push(Diagnostic::error(
                "version-removed",
                &version_path,
                format!(
                    "version {name_text}@{version_text} was published and cannot be removed; restore the file"
                ),
            ));
            continue;
        };
        if current.blake3 != old_version.blake3 {
            problems.push(Diagnostic::error(
                "version-changed",
                &version_path,
                format!(
                    "version {name_text}@{version_text} was published with BLAKE3 {}, but the file now hashes to {}; published versions never change, so publish a new version instead",
                    old_version.blake3, current.blake3
                ),
            ));
        }
        if !old_version.status.may_become(current.status) {
            problems.push(
                Diagnostic::error(
                    "status-regressed",
                    &meta_path,
                    format!(
                        "version {name_text}@{version_text} is {} in the published registry and cannot become {}: deprecated never returns to available, and disabled is final",
                        old_version.status, current.status
                    ),
                )
                .at(current.status_position),
            );
        }
        if let Some(when) = &old_version.published
            && current.published.as_ref() != Some(when)
        {
            let now = match &current.published {
                Some(other) => format!("says {other}"),
                None => "no longer records it".to_owned(),
            };
            problems.push(
                Diagnostic::error(
                    "published-changed",
                    &meta_path,
                    format!(
                        "version {name_text}@{version_text} was published at {when}, but expert.toml {now}; a recorded publish time never changes"
                    ),
                )
                .at(current.status_position),
            );
        }
    }
    for tag in &old.tags {
        if !new.tags.contains(tag) && !new.retired_tags.contains(tag) {
            problems.push(Diagnostic::error(
                "tag-removed",
                &meta_path,
                format!(
                    "tag \"{tag}\" of \"{name_text}\" was published and cannot silently vanish; point it at another version, or retire it with `perstack-registry untag {name_text} {tag}`"
                ),
            ));
        }
    }
    problems
}
