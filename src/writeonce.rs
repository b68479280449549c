//! The write-once guarantee: what was published stays published.
//!
//! Compares the registry about to be built with the one published before and refuses any
//! published version whose bytes changed or that disappeared, any status change the lifecycle
//! forbids, and any expert or custom tag that would vanish. Experts whose index document is
//! byte-identical to the published one cannot break a rule and are not even read.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::meta;
use crate::model::{ExpertName, Hash, LATEST};
use crate::published::{PublishedError, PublishedRegistry};
use crate::validate::Registry;

/// Returns one diagnostic per violation; empty means the new registry may be published.
pub fn check(
    registry: &Registry,
    new_indexes: &BTreeMap<ExpertName, Hash>,
    previous: &PublishedRegistry,
    data_dir: &Path,
) -> Result<Vec<Diagnostic>, PublishedError> {
    let mut problems = Vec::new();
    for (name_text, old_hash) in &previous.experts {
        let expert_dir = ExpertName::parse(name_text)
            .map(|name| name.data_dir(data_dir))
            .unwrap_or_else(|_| data_dir.join(name_text));
        let expert = ExpertName::parse(name_text)
            .ok()
            .and_then(|name| registry.experts.get(&name));
        let Some(expert) = expert else {
            problems.push(Diagnostic::error(
                "expert-removed",
                &expert_dir,
                format!("expert \"{name_text}\" was published and cannot be removed"),
            ));
            continue;
        };
        if new_indexes.get(&expert.name) == Some(old_hash) {
            continue;
        }
        let Some(old) = previous.read_index(name_text)? else {
            continue;
        };
        let meta_path = expert_dir.join(meta::FILE_NAME);
        for (version_text, old_version) in &old.versions {
            let current = expert
                .versions
                .values()
                .find(|p| &p.record.version == version_text);
            let version_path = expert_dir.join(format!("{version_text}.toml"));
            let Some(current) = current else {
                problems.push(Diagnostic::error(
                    "version-removed",
                    &version_path,
                    format!(
                        "version {name_text}@{version_text} was published and cannot be removed; restore the file"
                    ),
                ));
                continue;
            };
            if current.record.blake3 != old_version.blake3 {
                problems.push(Diagnostic::error(
                    "version-changed",
                    &version_path,
                    format!(
                        "version {name_text}@{version_text} was published with BLAKE3 {}, but the file now hashes to {}; published versions never change, so publish a new version instead",
                        old_version.blake3, current.record.blake3
                    ),
                ));
            }
            if !old_version.status.may_become(current.status) {
                problems.push(Diagnostic::error(
                    "status-regressed",
                    &meta_path,
                    format!(
                        "version {name_text}@{version_text} is {} in the published registry and cannot become {}: deprecated never returns to available, and disabled is final",
                        old_version.status, current.status
                    ),
                ));
            }
        }
        for tag in old.dist_tags.keys() {
            if tag != LATEST && !expert.tags.contains_key(tag) {
                problems.push(Diagnostic::error(
                    "tag-removed",
                    &meta_path,
                    format!(
                        "tag \"{tag}\" of \"{name_text}\" was published and cannot be removed; point it at another version instead"
                    ),
                ));
            }
        }
    }
    Ok(problems)
}
