//! The one-version path: a publish in a git checkout loads, checks and renders only the
//! experts it changed.
//!
//! A full build, even with the build cache, decodes a record of every version file, validates
//! every expert, renders every index document for its hash and builds every bin: at a million
//! versions that is tens of seconds and gigabytes for a publish that changed one file. When
//! the last complete build's record still describes the output (`unchanged::baseline`: the
//! same executable and options, the root it wrote, made from a clean commit with no warning),
//! git names the paths changed since that commit, and every one lies in an expert directory,
//! the build needs nothing else from the data directory: every other expert is exactly what
//! the published registry already serves. So this path reads `registry.toml`, the changed
//! experts and the experts their delegates name (so delegates resolve as in a full build),
//! renders the changed experts' index documents, and patches the published bins along their
//! paths (`PublishedRegistry::patched_bins`). Write-once checks, the publish log, the deploy
//! plan and the writing then work from the changed experts alone, as they already do.
//!
//! The shortcut is taken only where its answer is the full build's. Anything else returns
//! `None` and the build walks everything, which reports what it finds:
//! - the website is rendered (its listings and search index cover every expert);
//! - a changed path outside an expert directory (`registry.toml`, a stray file), a changed
//!   expert directory that is gone, holds anything but files, or is a link;
//! - any problem, error or warning, in what was read: a full build reports it with every other
//!   one;
//! - a change that another expert could see other than as new versions: a version whose status
//!   changed or that disappeared, or a tag removed. Those may make another expert's delegate
//!   fail or warn, and only a full build checks every delegate. (New versions and moved tags
//!   cannot: a tag never names a disabled version, and a new version never takes `latest`
//!   away.)
//! - a registry without bins or a publish log, API documents in another format, or a tree
//!   that would take another depth.
//!
//! The build cache is neither read nor written here: it stays as the last full build left
//! it, with the commit it was made from, and git's diff from that commit still covers every
//! change since, so the next full build reads what it must.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::build::unchanged::Baseline;
use crate::build::{BuildError, BuildOptions, Whole};
use crate::common::model::{ExpertKey, ExpertName, LATEST};
use crate::common::transport::Source;
use crate::data::git_changes;
use crate::data::load::{self, LoadedRegistry};
use crate::data::validate::{self, Expert, Registry};
use crate::format::api;
use crate::format::index::{self, IndexRef};
use crate::format::reader::{IndexDoc, PublishedRegistry};

/// A registry loaded in part: the changed experts, and what the rest of the build needs of
/// the others.
pub struct Partial {
    /// The changed experts only.
    pub registry: Registry,
    /// The published registry, its bins patched with the changed experts, and how many
    /// experts and versions the whole registry holds.
    pub(super) whole: Whole,
    /// The commit the data directory matches exactly, if it does (no file differs from
    /// `HEAD`), for the next build's baseline.
    pub clean_commit: Option<String>,
}

/// The changed experts, loaded, checked and placed in the published bins; `None` when this
/// build must walk everything (see the module's list).
pub fn load(options: &BuildOptions, baseline: &Baseline) -> Result<Option<Partial>, BuildError> {
    if options.site {
        return Ok(None);
    }
    let Some(changed_paths) = &baseline.view.changed else {
        return Ok(None);
    };
    let mut dirs = BTreeSet::new();
    for path in changed_paths {
        match git_changes::expert_dir_of(path) {
            Some(dir) => dirs.insert(dir.to_owned()),
            None => return Ok(None),
        };
    }
    let Some(existing) = PublishedRegistry::open(Arc::new(Source::dir(&options.out_dir)))? else {
        return Ok(None);
    };
    if existing.root.log.is_none() || !api::format_is_current(existing.reader.as_ref())? {
        return Ok(None);
    }
    let Some(loaded) = load_with_delegates(options, &dirs)? else {
        return Ok(None);
    };
    let changed: BTreeSet<ExpertName> = loaded
        .experts
        .keys()
        .filter(|name| dirs.contains(name.as_str()))
        .cloned()
        .collect();
    let (registry, problems) = validate::validate_changed(loaded, &changed);
    let Some(registry) = registry.filter(|_| problems.is_empty()) else {
        return Ok(None);
    };

    let mut indexes = BTreeMap::new();
    let (mut added_experts, mut removed_versions, mut added_versions) = (0, 0, 0);
    for (name, expert) in &registry.experts {
        match existing.index_ref(name.as_str())? {
            Some(old) => {
                let old = existing.read_index_sized(&old)?;
                if !only_adds_to(&old, expert) {
                    return Ok(None);
                }
                removed_versions += old.versions.len();
            }
            None => added_experts += 1,
        }
        added_versions += expert.versions.len();
        let index = IndexRef::of(&index::expert_index(expert));
        indexes.insert(name.to_string(), index);
    }
    let Some(bins) = existing.patched_bins(&indexes)? else {
        return Ok(None);
    };
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let experts = count(existing.root.experts).saturating_add(added_experts);
    let versions = count(existing.root.versions)
        .saturating_sub(removed_versions)
        .saturating_add(added_versions);
    let clean_commit = baseline
        .view
        .dirty
        .is_empty()
        .then(|| baseline.view.head.clone());
    Ok(Some(Partial {
        registry,
        whole: Whole {
            existing,
            bins,
            experts,
            versions,
        },
        clean_commit,
    }))
}

/// The expert directories `dirs`, and the experts their delegates name, so those resolve; `None`
/// when a directory cannot be read this way (`load::load_experts`).
fn load_with_delegates(
    options: &BuildOptions,
    dirs: &BTreeSet<String>,
) -> Result<Option<LoadedRegistry>, BuildError> {
    let Some(mut loaded) = load::load_experts(&options.data_dir, dirs)? else {
        return Ok(None);
    };
    let named: BTreeSet<String> = loaded
        .experts
        .values()
        .flat_map(|expert| expert.versions.values())
        .flat_map(|version| &version.record.delegates)
        .filter_map(|delegate| ExpertKey::parse(&delegate.key).ok())
        .map(|key| key.name.to_string())
        .filter(|name| !dirs.contains(name))
        .collect();
    if named.is_empty() {
        return Ok(Some(loaded));
    }
    let Some(targets) = load::load_experts(&options.data_dir, &named)? else {
        return Ok(None);
    };
    loaded.experts.extend(targets.experts);
    loaded.problems.extend(targets.problems);
    Ok(Some(loaded))
}

/// Whether `new` differs from the published `old` only by new versions and tags pointing
/// anywhere: no other expert can see that change but as versions to resolve to.
fn only_adds_to(old: &IndexDoc, new: &Expert) -> bool {
    let now: BTreeMap<&str, &validate::Published> = new
        .versions
        .values()
        .map(|published| (published.record.version.as_str(), published))
        .collect();
    let versions_kept = old.versions.iter().all(|(version, published)| {
        now.get(version.as_str()).is_some_and(|now| {
            now.status == published.status && now.record.blake3 == published.blake3
        })
    });
    let tags_kept = old
        .tags()
        .all(|(tag, _)| tag == LATEST || new.tags.contains_key(tag));
    versions_kept && tags_kept
}
