//! `expert.toml`: the part of an expert that may change after publishing.
//!
//! It holds custom dist-tags, tags retired on purpose (so the write-once rules know a published
//! tag's removal was deliberate), and the status of versions. This module reads the file into an
//! [`ExpertMeta`] and checks what the file alone can tell; whether tags and statuses name real
//! versions is decided in `validate`, which sees the expert's versions.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use crate::common::diagnostic::{Diagnostic, Position};
use crate::common::model::{self, LATEST, Status};
use crate::common::timestamp;
use crate::data::toml_file::{self, Checker, Table, TomlFile, Value};

pub const FILE_NAME: &str = "expert.toml";
/// The table of tags removed on purpose.
pub const RETIRED_TAGS: &str = "retired-tags";

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed<T> {
    pub value: T,
    pub position: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionStatus {
    pub status: Status,
    pub reason: Option<String>,
    /// When the version was published (`published`, as [`timestamp::format`] writes it), if
    /// recorded. `publish` records it; versions published before it did have none.
    pub published: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpertMeta {
    /// Custom tag -> version text.
    pub tags: BTreeMap<String, Placed<String>>,
    /// Tag -> why it was removed. A published tag may vanish from `[tags]` only if it is here.
    pub retired_tags: BTreeMap<String, Placed<String>>,
    /// Version text -> status. Versions not listed are available.
    pub versions: BTreeMap<String, Placed<VersionStatus>>,
    /// Tags the file sets to something that is not a version string.
    pub invalid_tags: BTreeSet<String>,
    /// The file, or its `[tags]`, could not be read, so which tags it sets is unknown.
    pub unreadable: bool,
}

impl ExpertMeta {
    /// Whether the file may set `tag` although [`ExpertMeta::tags`] does not hold it, because
    /// the file or that tag is broken. That problem is already reported, so a delegate naming
    /// the tag is not reported again as unknown.
    pub fn tag_is_broken(&self, tag: &str) -> bool {
        self.unreadable || self.invalid_tags.contains(tag)
    }
}

pub fn parse(path: &Path, bytes: &[u8], problems: &mut Vec<Diagnostic>) -> ExpertMeta {
    let mut meta = ExpertMeta::default();
    let Some(text) = toml_file::check_text(path, bytes, problems) else {
        meta.unreadable = true;
        return meta;
    };
    let src = TomlFile::new(path, text);
    let Some(document) = src.parse(problems) else {
        meta.unreadable = true;
        return meta;
    };
    let mut checker = Checker {
        src: &src,
        problems,
    };
    for (key, value) in document.get_ref().iter() {
        match key.get_ref().as_ref() {
            "tags" => parse_tags(&mut checker, value, &mut meta),
            RETIRED_TAGS => parse_retired_tags(&mut checker, value, &mut meta),
            "versions" => parse_versions(&mut checker, value, &mut meta),
            other => checker.unknown_key(FILE_NAME, other, key.span()),
        }
    }
    check_retired_tags_are_unset(path, &meta, problems);
    meta
}

/// `[tags]`: custom tag -> version text. A tag set to something that is not a string is
/// remembered as broken, and a `[tags]` that is not a table makes the whole file unreadable.
fn parse_tags<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    meta: &mut ExpertMeta,
) {
    let Some(tags) = checker.table("tags", value) else {
        meta.unreadable = true;
        return;
    };
    let text = checker.src.text;
    for Entry {
        name: tag_name,
        span,
        value: target,
        ..
    } in entries(text, tags)
    {
        if !checker.custom_tag(&tag_name, span) {
            continue;
        }
        match checker.string(&tag_name, target) {
            Some(version) => {
                meta.tags.insert(
                    tag_name,
                    Placed {
                        value: version.to_owned(),
                        position: Some(checker.src.position(target.span().start)),
                    },
                );
            }
            None => {
                meta.invalid_tags.insert(tag_name);
            }
        }
    }
}

/// `[retired-tags]`: tag -> why it was removed.
fn parse_retired_tags<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    meta: &mut ExpertMeta,
) {
    let Some(retired) = checker.table(RETIRED_TAGS, value) else {
        return;
    };
    let text = checker.src.text;
    for Entry {
        name: tag_name,
        span,
        value: reason,
        ..
    } in entries(text, retired)
    {
        if !checker.custom_tag(&tag_name, span.clone()) {
            continue;
        }
        if let Some(reason) = checker.non_empty_string(&tag_name, reason) {
            meta.retired_tags.insert(
                tag_name,
                Placed {
                    value: reason.to_owned(),
                    position: Some(checker.src.position(span.start)),
                },
            );
        }
    }
}

/// `[versions]`: version text -> its `[versions."<version>"]` table.
fn parse_versions<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    meta: &mut ExpertMeta,
) {
    let Some(versions) = checker.table("versions", value) else {
        return;
    };
    let text = checker.src.text;
    for Entry {
        name: version,
        span,
        value: entry,
        dotted,
    } in entries(text, versions)
    {
        if dotted {
            checker.error(
                "unquoted-version",
                span,
                format!("write the version as a quoted key, [versions.\"{version}\"]: unquoted, TOML reads its dots as nested tables"),
            );
            continue;
        }
        if let Some(status) = parse_version_status(checker, &version, entry) {
            meta.versions.insert(
                version,
                Placed {
                    value: status,
                    position: Some(checker.src.position(span.start)),
                },
            );
        }
    }
}

/// One `[versions."<version>"]` table: a `status`, the `reason` every status but `available`
/// needs, and when the version was `published`. A table with only `published` is available.
fn parse_version_status<'i>(
    checker: &mut Checker<'_, 'i>,
    version: &str,
    entry: &Spanned<Value<'i>>,
) -> Option<VersionStatus> {
    let what = format!("[versions.\"{version}\"]");
    let table = checker.table(&what, entry)?;
    let mut status = None;
    let mut reason = None;
    let mut published = None;
    for (field, value) in table.iter() {
        match field.get_ref().as_ref() {
            "status" => {
                if let Some(text) = checker.string("status", value) {
                    match Status::parse(text) {
                        Some(parsed) => status = Some(parsed),
                        None => checker.error(
                            "invalid-status",
                            value.span(),
                            format!(
                                "status \"{text}\" is not one of available, deprecated, disabled"
                            ),
                        ),
                    }
                }
            }
            "reason" => reason = checker.non_empty_string("reason", value),
            "published" => published = parse_published(checker, value),
            other => checker.unknown_key(&what, other, field.span()),
        }
    }
    let status = match status {
        Some(status) => Some(status),
        None if !table.contains_key("status") && table.contains_key("published") => {
            Some(Status::Available)
        }
        None => None,
    };
    let Some(status) = status else {
        if !table.contains_key("status") {
            checker.error(
                "missing-field",
                entry.span(),
                format!("{what} is missing the required field `status`"),
            );
        }
        return None;
    };
    if status != Status::Available && reason.is_none() {
        checker.error(
            "missing-reason",
            entry.span(),
            format!(
                "{what} is {status} but gives no `reason`; tell users why and what to use instead"
            ),
        );
    }
    Some(VersionStatus {
        status,
        reason: reason.map(str::to_owned),
        published,
    })
}

/// `published = "2026-01-31T12:00:00Z"`: UTC to the second, exactly as `publish` writes it, so
/// one instant has one spelling and the documents derived from it stay deterministic.
fn parse_published<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
) -> Option<String> {
    let text = checker.string("published", value)?;
    if timestamp::parse(text).is_some() {
        return Some(text.to_owned());
    }
    checker.error(
        "invalid-published",
        value.span(),
        format!(
            "published \"{text}\" is not a UTC time to the second, written like \"2026-01-31T12:00:00Z\""
        ),
    );
    None
}

/// A tag is either set or retired, never both.
fn check_retired_tags_are_unset(path: &Path, meta: &ExpertMeta, problems: &mut Vec<Diagnostic>) {
    for (tag, retired) in &meta.retired_tags {
        if meta.tags.contains_key(tag) {
            problems.push(
                Diagnostic::error(
                    "tag-retired-and-set",
                    path,
                    format!("tag \"{tag}\" is both set in [tags] and listed in [{RETIRED_TAGS}]; remove it from one of them"),
                )
                .at(retired.position),
            );
        }
    }
}

/// An entry of `[tags]` or `[versions]`.
struct Entry<'t, 'i> {
    /// The key as written, its dotted parts joined again with '.'.
    name: String,
    /// Where the key starts (see [`entries`]).
    span: Range<usize>,
    value: &'t Spanned<Value<'i>>,
    /// Whether the key was written unquoted with dots.
    dotted: bool,
}

/// The entries of `[tags]` or `[versions]`, with dotted keys joined back together.
///
/// TOML reads an unquoted `1.0.0 = "1.0.0"` (or `[versions.1.0.0]`) as the dotted key
/// `1`.`0`.`0`, that is as nested tables, but the author meant one key named `1.0.0`. Joining
/// the parts again lets the rules speak of the name the author wrote, rather than of a table
/// `1` with a field `0`. The span is where the joined key starts when that is on the entry's own
/// line (TOML keeps only the first place a shared prefix such as `1.0` was written), otherwise
/// where its last part starts.
fn entries<'t, 'i>(text: &str, table: &'t Table<'i>) -> Vec<Entry<'t, 'i>> {
    fn collect<'t, 'i>(
        text: &str,
        entry: Entry<'t, 'i>,
        key: Range<usize>,
        entries: &mut Vec<Entry<'t, 'i>>,
    ) {
        // Only a key followed by a dot was written as a dotted key; any other table (inline or
        // from a header) is the entry's value.
        let dotted = text[key.end..]
            .trim_start_matches([' ', '\t'])
            .starts_with('.');
        match entry.value.get_ref() {
            Value::Table(inner) if dotted && !inner.is_empty() => {
                for (part, value) in inner.iter() {
                    let next = Entry {
                        name: format!("{}.{}", entry.name, part.get_ref()),
                        span: entry.span.clone(),
                        value,
                        dotted: true,
                    };
                    collect(text, next, part.span(), entries);
                }
            }
            _ => {
                let start = entry.span.start;
                let same_line = start <= key.start && !text[start..key.start].contains('\n');
                let span = if same_line { entry.span } else { key };
                entries.push(Entry { span, ..entry });
            }
        }
    }
    let mut entries = Vec::new();
    for (key, value) in table.iter() {
        let entry = Entry {
            name: key.get_ref().to_string(),
            span: key.span(),
            value,
            dotted: false,
        };
        collect(text, entry, key.span(), &mut entries);
    }
    entries
}

impl Checker<'_, '_> {
    /// Checks a key naming a custom tag: a valid tag name, and never `latest`.
    fn custom_tag(&mut self, name: &str, span: Range<usize>) -> bool {
        if name == LATEST {
            self.error(
                "latest-tag",
                span,
                "`latest` is computed by the registry and cannot be set or retired".to_owned(),
            );
            return false;
        }
        if let Err(err) = model::check_tag(name) {
            self.error("invalid-tag", span, err);
            return false;
        }
        true
    }
}
