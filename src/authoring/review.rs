//! `check --base REV`: the review of a pull request.
//!
//! Compares `registry-data/` at a git revision (read from git's object store by [`git`]) with
//! the working tree. On top of everything `check` reports, it applies the write-once rules of
//! [`writeonce`] to the base as "published" (a changed or removed version file, a status moved
//! backwards, a tag that silently vanished are refused, a changed file at its first changed
//! line), checks new names with [`names`], and lists what the change does: versions added,
//! tags set, moved or retired, statuses changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use walkdir::WalkDir;

use crate::authoring::git;
use crate::authoring::names;
use crate::authoring::outcome::CommandError;
use crate::build::writeonce::{self, ExpertState, VersionState};
use crate::common::diagnostic::{Diagnostic, Position};
use crate::common::fsutil::{self, IoError};
use crate::common::model::{ExpertName, Hash, Status};
use crate::data::meta::{self, ExpertMeta};
use crate::data::settings::{self, Settings};
use crate::data::validate::Registry;

/// Something the change does that is allowed and worth showing a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub file: PathBuf,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ReviewReport {
    /// The working tree's registry, when it is valid.
    pub registry: Option<Registry>,
    /// Every problem `check` finds, plus refused changes and name problems.
    pub problems: Vec<Diagnostic>,
    pub changes: Vec<Change>,
}

/// One expert's files: version text -> bytes, and expert.toml.
#[derive(Debug, Default)]
struct ExpertFiles {
    versions: BTreeMap<String, Vec<u8>>,
    meta: Option<Vec<u8>>,
}

/// Directories of the repository that the build or a deploy reads besides `registry-data/`: a
/// pull request must not bring files there (a planted `dist/` would be trusted as the registry
/// published before).
const READ_BY_THE_BUILD: [&str; 1] = ["dist"];

pub fn review(data_dir: &Path, base: &str) -> Result<ReviewReport, CommandError> {
    // A data directory moved and replaced by a link would make the base look empty and every
    // published version new.
    if std::fs::symlink_metadata(data_dir).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Ok(ReviewReport {
            registry: None,
            problems: vec![Diagnostic::error(
                "data-dir-symlink",
                data_dir,
                "the data directory is a symbolic link; the review reads the base from git and compares it with the files here, so the directory must be a real one",
            )],
            changes: Vec::new(),
        });
    }
    let base_files = git::files_at(data_dir, base)?;
    let base_settings = base_files
        .get(settings::FILE_NAME)
        .map(|file| file.bytes.clone());
    let (registry, mut problems) = crate::data::check(data_dir)?;
    for dir in READ_BY_THE_BUILD {
        let committed = git::tracked_below(data_dir, dir)?;
        if let Some(first) = committed.first() {
            problems.push(Diagnostic::error(
                "committed-output",
                Path::new(first),
                format!(
                    "{} file(s) under {dir}/ are committed, but {dir}/ is what the build writes (and reads as the registry published before); remove them from the repository (git rm -r --cached {dir}) and keep {dir}/ in .gitignore",
                    committed.len()
                ),
            ));
        }
    }
    let base_experts = group(
        base_files
            .into_iter()
            .filter(|(_, file)| file.mode != "120000")
            .map(|(path, file)| (path, file.bytes)),
    );
    let current_experts = group(working_tree(data_dir)?.into_iter());

    let mut changes = Vec::new();
    let mut scratch = Vec::new();
    for (name, old_files) in &base_experts {
        let dir = writeonce::expert_dir(name, data_dir);
        let old_meta = parse_meta(&dir, old_files, &mut scratch);
        let old = state(old_files, &old_meta);
        let current = current_experts.get(name);
        let new_meta = current.map(|files| parse_meta(&dir, files, &mut scratch));
        let new = current.zip(new_meta.as_ref()).map(|(f, m)| state(f, m));
        for mut problem in writeonce::compare(name, data_dir, &old, new.as_ref()) {
            if problem.code == "version-changed"
                && let Some((version, old_bytes)) = old_files
                    .versions
                    .iter()
                    .find(|(v, _)| dir.join(format!("{v}.toml")) == problem.file)
                && let Some(new_bytes) = current.and_then(|c| c.versions.get(version))
            {
                problem.position = Some(first_changed_line(old_bytes, new_bytes));
            }
            problems.push(problem);
        }
        if let (Some(files), Some(meta)) = (current, &new_meta) {
            describe(
                name,
                &dir,
                Some((old_files, &old_meta)),
                files,
                meta,
                &mut changes,
            );
        }
    }
    let mut new_names = Vec::new();
    for (name, files) in &current_experts {
        if base_experts.contains_key(name) {
            continue;
        }
        let dir = writeonce::expert_dir(name, data_dir);
        let meta = parse_meta(&dir, files, &mut scratch);
        describe(name, &dir, None, files, &meta, &mut changes);
        if let Ok(parsed) = ExpertName::parse(name) {
            new_names.push(parsed);
        }
    }

    let existing: Vec<names::Existing> = base_experts
        .iter()
        .filter_map(|(name, files)| {
            let name = ExpertName::parse(name).ok()?;
            let used_by = registry.as_ref().map_or(0, |r| used_by(r, &name));
            Some(names::Existing {
                name,
                used_by,
                versions: files.versions.len(),
            })
        })
        .collect();
    let settings_path = data_dir.join(settings::FILE_NAME);
    let base = base_settings
        .map(|bytes| settings::parse(&settings_path, &bytes, &mut scratch))
        .unwrap_or_default();
    let current = match &registry {
        Some(registry) => registry.settings.clone(),
        None => fsutil::read_optional(&settings_path)?
            .map(|bytes| settings::parse(&settings_path, &bytes, &mut scratch))
            .unwrap_or_default(),
    };
    problems.extend(settings_changes(&settings_path, &base, &current));
    let with_allowances = names::check(&new_names, &existing, &current.allowed_names, data_dir);
    // A name that passes only because this same change allows it: the allowance must be
    // approved, and merged, on its own.
    let before_allowances = names::check(&new_names, &existing, &base.allowed_names, data_dir);
    for problem in before_allowances {
        if !with_allowances.contains(&problem) {
            problems.push(Diagnostic {
                severity: crate::common::diagnostic::Severity::Error,
                code: "allowed-in-same-change",
                message: format!(
                    "{} — and this same change adds the [names] allow entry that lets it pass; allow a name in a change of its own, so a maintainer approves it before anyone publishes under it",
                    problem.message
                ),
                ..problem
            });
        }
    }
    problems.extend(with_allowances);
    Ok(ReviewReport {
        registry,
        problems,
        changes,
    })
}

/// Every change to the registry's settings, one diagnostic each. Settings decide who is
/// trusted and what passes review, so a change needs the maintainers' approval: with
/// `[maintainers]` set at the base, CODEOWNERS (from `codeowners`) makes the code host require
/// it, and the change is a warning that says so; without maintainers nothing does, and it is
/// an error.
fn settings_changes(path: &Path, base: &Settings, current: &Settings) -> Vec<Diagnostic> {
    let mut changes = Vec::new();
    let mut sets = |what: &str, old: &BTreeSet<String>, new: &BTreeSet<String>| {
        for added in new.difference(old) {
            changes.push(format!("adds {what} {added}"));
        }
        for removed in old.difference(new) {
            changes.push(format!("removes {what} {removed}"));
        }
    };
    let set = |items: &[String]| items.iter().cloned().collect::<BTreeSet<String>>();
    sets(
        "trust key",
        &set(&base.trust_keys),
        &set(&current.trust_keys),
    );
    sets("allowed name", &base.allowed_names, &current.allowed_names);
    sets(
        "maintainer",
        &set(&base.maintainers),
        &set(&current.maintainers),
    );
    let scopes = |settings: &Settings| {
        settings
            .scope_owners
            .iter()
            .map(|(scope, owners)| format!("{scope} (owners {})", owners.join(" ")))
            .collect::<BTreeSet<String>>()
    };
    sets("scope", &scopes(base), &scopes(current));
    if base.max_version_bytes != current.max_version_bytes {
        changes.push(format!(
            "changes max-version-bytes from {} to {}",
            base.max_version_bytes, current.max_version_bytes
        ));
    }
    let shown_url = |url: &Option<url::Url>| {
        url.as_ref()
            .map_or_else(|| "(unset)".to_owned(), |url| url.to_string())
    };
    // The address every page tells the runtime to use: a change redirects users.
    if base.site_url != current.site_url {
        changes.push(format!(
            "changes [site] url from {} to {}",
            shown_url(&base.site_url),
            shown_url(&current.site_url)
        ));
    }
    // Where every version page sends readers to see a file and its history.
    if base.site_repository != current.site_repository {
        changes.push(format!(
            "changes [site] repository from {} to {}",
            shown_url(&base.site_repository),
            shown_url(&current.site_repository)
        ));
    }
    if base.log_origin != current.log_origin {
        // Read only when the publish log starts; afterwards the build refuses a different one.
        let shown =
            |origin: &Option<String>| origin.clone().unwrap_or_else(|| "(unset)".to_owned());
        changes.push(format!(
            "changes [log] origin from {} to {}",
            shown(&base.log_origin),
            shown(&current.log_origin)
        ));
    }
    if base.name != current.name {
        changes.push(format!(
            "renames the registry from \"{}\" to \"{}\"",
            base.name, current.name
        ));
    }
    changes
        .into_iter()
        .map(|change| {
            if base.maintainers.is_empty() {
                Diagnostic::error(
                    "settings-change-unapproved",
                    path,
                    format!("{change}: the registry's settings decide who is trusted and what passes review, and no [maintainers] are set in {} to approve this; set [maintainers] owners and run `perstack-registry codeowners`, committed by a maintainer, first", settings::FILE_NAME),
                )
            } else {
                Diagnostic::warning(
                    "settings-change",
                    path,
                    format!("{change}: needs the approval of the maintainers ({}), which CODEOWNERS requires", base.maintainers.join(" ")),
                )
            }
        })
        .collect()
}

/// How many other experts delegate to `name` in any of their versions.
fn used_by(registry: &Registry, name: &ExpertName) -> usize {
    registry
        .experts
        .values()
        .filter(|expert| &expert.name != name)
        .filter(|expert| {
            expert.versions.values().any(|published| {
                published.record.delegates.iter().any(|delegate| {
                    crate::common::model::ExpertKey::parse(&delegate.key)
                        .is_ok_and(|k| &k.name == name)
                })
            })
        })
        .count()
}

/// Groups files by expert from their paths relative to the data directory; files that are not
/// part of an expert (registry.toml, strays that `check` reports) are left out.
fn group(files: impl Iterator<Item = (String, Vec<u8>)>) -> BTreeMap<String, ExpertFiles> {
    let mut experts: BTreeMap<String, ExpertFiles> = BTreeMap::new();
    for (path, bytes) in files {
        let parts: Vec<&str> = path.split('/').collect();
        let (name, file) = match parts.as_slice() {
            [scope, local, file] if scope.starts_with('@') => (format!("{scope}/{local}"), *file),
            [name, file] if !name.starts_with('@') => ((*name).to_owned(), *file),
            _ => continue,
        };
        let entry = experts.entry(name).or_default();
        if file == meta::FILE_NAME {
            entry.meta = Some(bytes);
        } else if let Some(version) = file.strip_suffix(".toml") {
            entry.versions.insert(version.to_owned(), bytes);
        }
    }
    experts
}

/// The regular files of the working tree's data directory, by relative path.
fn working_tree(data_dir: &Path) -> Result<Vec<(String, Vec<u8>)>, IoError> {
    let mut files = Vec::new();
    for entry in WalkDir::new(data_dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|err| fsutil::walk_error(err, data_dir))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(data_dir) else {
            continue;
        };
        let relative: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        files.push((relative.join("/"), fsutil::read(entry.path())?));
    }
    Ok(files)
}

/// Parses an expert.toml; its problems are `check`'s to report, so they are set aside here.
fn parse_meta(dir: &Path, files: &ExpertFiles, scratch: &mut Vec<Diagnostic>) -> ExpertMeta {
    match &files.meta {
        Some(bytes) => meta::parse(&dir.join(meta::FILE_NAME), bytes, scratch),
        None => ExpertMeta::default(),
    }
}

fn state(files: &ExpertFiles, meta: &ExpertMeta) -> ExpertState {
    ExpertState {
        versions: files
            .versions
            .iter()
            .map(|(version, bytes)| {
                let entry = meta.versions.get(version);
                let state = VersionState {
                    blake3: Hash::of(bytes),
                    status: entry.map_or(Status::Available, |e| e.value.status),
                    status_position: entry.and_then(|e| e.position),
                    published: entry.and_then(|e| e.value.published.clone()),
                };
                (version.clone(), state)
            })
            .collect(),
        tags: meta.tags.keys().cloned().collect(),
        retired_tags: meta.retired_tags.keys().cloned().collect(),
    }
}

/// The 1-based line where two versions of a file first differ.
fn first_changed_line(old: &[u8], new: &[u8]) -> Position {
    let old_lines: Vec<&[u8]> = old.split(|&b| b == b'\n').collect();
    let new_lines: Vec<&[u8]> = new.split(|&b| b == b'\n').collect();
    let same = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let last = new_lines.len().saturating_sub(1).max(1);
    Position {
        line: (same + 1).min(last),
        column: 1,
    }
}

/// Lists the allowed changes to one expert: `old` is its files and metadata at the base, if it
/// existed there.
fn describe(
    name: &str,
    dir: &Path,
    old: Option<(&ExpertFiles, &ExpertMeta)>,
    files: &ExpertFiles,
    meta: &ExpertMeta,
    changes: &mut Vec<Change>,
) {
    let meta_path = dir.join(meta::FILE_NAME);
    let empty_files = ExpertFiles::default();
    let empty_meta = ExpertMeta::default();
    let (old_files, old_meta) = old.unwrap_or((&empty_files, &empty_meta));
    for (version, bytes) in &files.versions {
        if !old_files.versions.contains_key(version) {
            let when = meta
                .versions
                .get(version)
                .and_then(|entry| entry.value.published.as_deref())
                .map(|when| format!(", published {when}"))
                .unwrap_or_default();
            changes.push(Change {
                file: dir.join(format!("{version}.toml")),
                position: None,
                message: format!("adds {name}@{version} (BLAKE3 {}{when})", Hash::of(bytes)),
            });
        }
    }
    for (tag, target) in &meta.tags {
        let message = match old_meta.tags.get(tag) {
            Some(old) if old.value == target.value => continue,
            Some(old) => format!(
                "moves tag \"{tag}\" of {name} from {} to {}",
                old.value, target.value
            ),
            None => format!("sets tag \"{tag}\" of {name} to {}", target.value),
        };
        changes.push(Change {
            file: meta_path.clone(),
            position: target.position,
            message,
        });
    }
    for (tag, reason) in &meta.retired_tags {
        if old_meta.tags.contains_key(tag) {
            changes.push(Change {
                file: meta_path.clone(),
                position: reason.position,
                message: format!("retires tag \"{tag}\" of {name}: {}", reason.value),
            });
        }
    }
    for (version, entry) in &meta.versions {
        let old_entry = old_meta.versions.get(version);
        if let Some(when) = &entry.value.published
            && old_files.versions.contains_key(version)
            && old_entry.is_none_or(|old| old.value.published.is_none())
        {
            changes.push(Change {
                file: meta_path.clone(),
                position: entry.position,
                message: format!("records that {name}@{version} was published at {when}"),
            });
        }
        let before = old_entry.map_or(Status::Available, |e| e.value.status);
        if entry.value.status != before && before.may_become(entry.value.status) {
            changes.push(Change {
                file: meta_path.clone(),
                position: entry.position,
                message: format!(
                    "{name}@{version}: {before} -> {}: {}",
                    entry.value.status,
                    entry.value.reason.as_deref().unwrap_or_default()
                ),
            });
        }
    }
}
