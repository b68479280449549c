//! `tag`, `untag`, `deprecate` and `disable`: changes to an expert's `expert.toml`.
//!
//! Each change is checked against the lifecycle and the tag rules, then applied with
//! `toml_edit`, which keeps the file's comments and layout, and the whole registry is
//! validated with the changed file before it is written (atomically). So an edit that would
//! leave the registry invalid (say, untagging a tag other experts delegate to) writes nothing.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Table, TableLike};

use crate::authoring::outcome::CommandError;
use crate::common::diagnostic::Severity;
use crate::common::fsutil;
use crate::common::model::{self, ExpertName, LATEST, Status};
use crate::data::load;
use crate::data::meta::{self, ExpertMeta};
use crate::data::validate;

/// The reason recorded for a tag retired without `--reason`.
pub const DEFAULT_UNTAG_REASON: &str = "removed by untag";

/// One change to an expert's mutable metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaChange {
    /// Points a custom tag at a version (and takes it out of `[retired-tags]`).
    Tag {
        tag: String,
        version: semver::Version,
    },
    /// Removes a custom tag and records it in `[retired-tags]`.
    Untag { tag: String, reason: String },
    /// Moves a version forward in its lifecycle.
    SetStatus {
        version: semver::Version,
        status: Status,
        reason: String,
    },
}

/// What an applied change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditReport {
    pub path: PathBuf,
    /// False when the file already said exactly this; nothing was written then.
    pub changed: bool,
    pub summary: String,
}

/// Applies `change` to the expert `name` in `data_dir`.
pub fn apply(data_dir: &Path, name: &str, change: &MetaChange) -> Result<EditReport, CommandError> {
    let name = ExpertName::parse(name).map_err(CommandError::Usage)?;
    check_arguments(change)?;
    let mut loaded = load::load(data_dir)?;
    let Some(expert) = loaded.experts.get(&name) else {
        return Err(CommandError::NotFound(format!(
            "there is no expert \"{name}\" in {} ({} does not exist)",
            data_dir.display(),
            name.data_dir(data_dir).display()
        )));
    };
    let meta_path = expert.meta_path.clone();
    let meta_problems: Vec<_> = loaded
        .problems
        .iter()
        .filter(|p| p.file == meta_path && p.severity == Severity::Error)
        .cloned()
        .collect();
    if !meta_problems.is_empty() {
        return Err(CommandError::Invalid(meta_problems));
    }
    let version_exists = |version: &semver::Version| {
        expert.versions.contains_key(version)
            || expert.invalid_versions.contains(&version.to_string())
    };
    let target = match change {
        MetaChange::Tag { version, .. } | MetaChange::SetStatus { version, .. } => Some(version),
        MetaChange::Untag { .. } => None,
    };
    if let Some(version) = target
        && !version_exists(version)
    {
        return Err(CommandError::NotFound(format!(
            "\"{name}\" has no version {version} ({} does not exist)",
            expert.dir.join(format!("{version}.toml")).display()
        )));
    }
    let summary = check_rules(&name, &expert.meta, change)?;

    let (old_text, mut document) = read_for_editing(&meta_path)?;
    edit_document(&mut document, change);
    let new_text = document.to_string();
    if new_text == old_text {
        return Ok(EditReport {
            path: meta_path,
            changed: false,
            summary: format!("{summary} (already so; nothing to change)"),
        });
    }
    loaded.replace_meta(&name, new_text.as_bytes());
    let (registry, problems) = validate::validate(loaded);
    if registry.is_none() {
        let errors = problems
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .collect();
        return Err(CommandError::Invalid(errors));
    }
    fsutil::write_atomic(&meta_path, new_text.as_bytes(), false)?;
    Ok(EditReport {
        path: meta_path,
        changed: true,
        summary,
    })
}

/// Rules that need only the command line.
fn check_arguments(change: &MetaChange) -> Result<(), CommandError> {
    let (tag, reason) = match change {
        MetaChange::Tag { tag, .. } => (Some(tag), None),
        MetaChange::Untag { tag, reason } => (Some(tag), Some(reason)),
        MetaChange::SetStatus { reason, .. } => (None, Some(reason)),
    };
    if let Some(tag) = tag {
        if tag == LATEST {
            return Err(CommandError::Usage(
                "`latest` is computed by the registry: it cannot be set or removed by hand"
                    .to_owned(),
            ));
        }
        model::check_tag(tag).map_err(CommandError::Usage)?;
    }
    if reason.is_some_and(|r| r.trim().is_empty()) {
        return Err(CommandError::Usage(
            "--reason must not be empty: tell users why, and what to use instead".to_owned(),
        ));
    }
    Ok(())
}

/// The lifecycle and tag rules; returns a one-line summary of the change.
fn check_rules(
    name: &ExpertName,
    meta: &ExpertMeta,
    change: &MetaChange,
) -> Result<String, CommandError> {
    let status_of = |version: &semver::Version| {
        meta.versions
            .get(&version.to_string())
            .map_or(Status::Available, |entry| entry.value.status)
    };
    match change {
        MetaChange::Tag { tag, version } => {
            if status_of(version) == Status::Disabled {
                return Err(CommandError::Refused(format!(
                    "{name}@{version} is disabled; a tag cannot point at a disabled version"
                )));
            }
            Ok(format!("tagged {name}@{version} as \"{tag}\""))
        }
        MetaChange::Untag { tag, .. } => {
            if !meta.tags.contains_key(tag) {
                return Err(CommandError::NotFound(format!(
                    "\"{name}\" has no tag \"{tag}\""
                )));
            }
            Ok(format!("removed tag \"{tag}\" of \"{name}\""))
        }
        MetaChange::SetStatus {
            version, status, ..
        } => {
            let current = status_of(version);
            if !current.may_become(*status) {
                return Err(CommandError::Refused(format!(
                    "{name}@{version} is {current} and cannot become {status}: deprecated never returns to available, and disabled is final"
                )));
            }
            if *status == Status::Disabled {
                let tags: Vec<&String> = meta
                    .tags
                    .iter()
                    .filter(|(_, target)| target.value == version.to_string())
                    .map(|(tag, _)| tag)
                    .collect();
                if let Some(tag) = tags.first() {
                    return Err(CommandError::Refused(format!(
                        "tag \"{tag}\" points at {name}@{version}; move it first (perstack-registry tag {name}@<version> {tag}) or retire it (perstack-registry untag {name} {tag})"
                    )));
                }
            }
            Ok(format!("{name}@{version} is now {status}"))
        }
    }
}

fn edit_document(document: &mut DocumentMut, change: &MetaChange) {
    match change {
        MetaChange::Tag { tag, version } => {
            set_string(table(document, "tags", false), tag, &version.to_string());
            if let Some(retired) = existing_table(document, meta::RETIRED_TAGS) {
                retired.remove(tag);
            }
        }
        MetaChange::Untag { tag, reason } => {
            if let Some(tags) = existing_table(document, "tags") {
                tags.remove(tag);
            }
            set_string(table(document, meta::RETIRED_TAGS, false), tag, reason);
        }
        MetaChange::SetStatus {
            version,
            status,
            reason,
        } => {
            let inline = document.get("versions").is_some_and(Item::is_inline_table);
            let versions = table(document, "versions", true);
            set_version_fields(
                versions,
                inline,
                &version.to_string(),
                &[("status", status.as_str()), ("reason", reason)],
            );
        }
    }
}

/// An expert.toml's text (empty when the file does not exist yet) and its editable document.
fn read_for_editing(meta_path: &Path) -> Result<(String, DocumentMut), CommandError> {
    let text = match fsutil::read_optional(meta_path)? {
        Some(bytes) => String::from_utf8(bytes).map_err(|_| {
            CommandError::Refused(format!("{}: not valid UTF-8", meta_path.display()))
        })?,
        None => String::new(),
    };
    let document = text.parse().map_err(|err| {
        CommandError::Refused(format!("{}: cannot edit: {err}", meta_path.display()))
    })?;
    Ok((text, document))
}

/// Records in `meta_path` (an expert's `expert.toml`, created if missing) that `version` was
/// published at `when`, keeping the file's comments and layout. `publish` calls it right after
/// writing the version file; the time is then as write-once as the file.
pub fn record_published(
    meta_path: &Path,
    version: &semver::Version,
    when: &str,
) -> Result<(), CommandError> {
    let (_, mut document) = read_for_editing(meta_path)?;
    let inline = document.get("versions").is_some_and(Item::is_inline_table);
    let versions = document
        .entry("versions")
        .or_insert_with(|| {
            let mut table = Table::new();
            table.set_implicit(true);
            Item::Table(table)
        })
        .as_table_like_mut()
        .ok_or_else(|| {
            CommandError::Refused(format!(
                "{}: `versions` is not a table; fix the file, then publish again",
                meta_path.display()
            ))
        })?;
    set_version_fields(
        versions,
        inline,
        &version.to_string(),
        &[("published", when)],
    );
    fsutil::write_atomic(meta_path, document.to_string().as_bytes(), false)?;
    Ok(())
}

/// Sets string fields of `[versions."<key>"]`: in the existing entry, keeping its layout, or in
/// a new one written the way the file writes `versions` (inline tables, or one header each).
fn set_version_fields(
    versions: &mut dyn TableLike,
    inline: bool,
    key: &str,
    fields: &[(&str, &str)],
) {
    if let Some(entry) = versions
        .get_mut(key)
        .and_then(|item| item.as_table_like_mut())
    {
        for (field, text) in fields {
            set_string(entry, field, text);
        }
        return;
    }
    if inline {
        let mut entry = InlineTable::new();
        for (field, text) in fields {
            entry.insert(*field, (*text).into());
        }
        versions.insert(key, Item::Value(entry.into()));
    } else {
        let mut entry = Table::new();
        for (field, text) in fields {
            entry.insert(field, toml_edit::value(*text));
        }
        versions.insert(key, Item::Table(entry));
    }
}

/// Sets `key` to a string, keeping the comments and spacing around an existing value.
fn set_string(table: &mut dyn TableLike, key: &str, text: &str) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(value) => {
            let decor = value.decor().clone();
            *value = text.into();
            *value.decor_mut() = decor;
        }
        None => {
            table.insert(key, toml_edit::value(text));
        }
    }
}

/// A top-level table, created when missing (as a header-less parent when `implicit`, so only its
/// sub-tables get headers).
fn table<'d>(document: &'d mut DocumentMut, key: &str, implicit: bool) -> &'d mut dyn TableLike {
    let item = document.entry(key).or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(implicit);
        Item::Table(table)
    });
    item.as_table_like_mut()
        .expect("expert.toml was validated: this key holds a table")
}

fn existing_table<'d>(document: &'d mut DocumentMut, key: &str) -> Option<&'d mut dyn TableLike> {
    document.get_mut(key).and_then(Item::as_table_like_mut)
}

/// Splits `name@version` as the command line writes it.
pub fn parse_name_at_version(text: &str) -> Result<(String, semver::Version), CommandError> {
    let usage = |why: String| {
        CommandError::Usage(format!(
            "\"{text}\" is not NAME@VERSION (for example @acme/researcher@1.2.3): {why}"
        ))
    };
    let key = model::ExpertKey::parse(text).map_err(usage)?;
    match key.selector {
        model::Selector::Version(version) => Ok((key.name.to_string(), version)),
        _ => Err(usage("it names no version".to_owned())),
    }
}
