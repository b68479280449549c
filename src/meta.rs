//! `expert.toml`: the part of an expert that may change after publishing.
//!
//! It holds custom dist-tags, tags retired on purpose (so the write-once rules know a published
//! tag's removal was deliberate), and the status of versions. This module reads the file into an
//! [`ExpertMeta`] and checks what the file alone can tell; whether tags and statuses name real
//! versions is decided in `validate`, which sees the expert's versions.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::{Diagnostic, Position};
use crate::model::{self, LATEST, Status};
use crate::source::{self, Checker, Source};

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
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpertMeta {
    /// Custom tag -> version text.
    pub tags: BTreeMap<String, Placed<String>>,
    /// Tag -> why it was removed. A published tag may vanish from `[tags]` only if it is here.
    pub retired_tags: BTreeMap<String, Placed<String>>,
    /// Version text -> status. Versions not listed are available.
    pub versions: BTreeMap<String, Placed<VersionStatus>>,
}

pub fn parse(path: &Path, bytes: &[u8], problems: &mut Vec<Diagnostic>) -> ExpertMeta {
    let mut meta = ExpertMeta::default();
    let Some(text) = source::check_text(path, bytes, problems) else {
        return meta;
    };
    let src = Source::new(path, text);
    let Some(document) = src.parse(problems) else {
        return meta;
    };
    let mut checker = Checker {
        src: &src,
        problems,
    };
    let at = |span: std::ops::Range<usize>| Some(Position::at(text, span.start));
    for (key, value) in document.get_ref().iter() {
        match key.get_ref().as_ref() {
            "tags" => {
                let Some(tags) = checker.table("tags", value) else {
                    continue;
                };
                for (tag, target) in tags.iter() {
                    let Some(tag_name) = checker.custom_tag(tag) else {
                        continue;
                    };
                    if let Some(version) = checker.string(tag_name, target) {
                        meta.tags.insert(
                            tag_name.to_owned(),
                            Placed {
                                value: version.to_owned(),
                                position: at(target.span()),
                            },
                        );
                    }
                }
            }
            RETIRED_TAGS => {
                let Some(retired) = checker.table(RETIRED_TAGS, value) else {
                    continue;
                };
                for (tag, reason) in retired.iter() {
                    let Some(tag_name) = checker.custom_tag(tag) else {
                        continue;
                    };
                    if let Some(reason) = checker.non_empty_string(tag_name, reason) {
                        meta.retired_tags.insert(
                            tag_name.to_owned(),
                            Placed {
                                value: reason.to_owned(),
                                position: at(tag.span()),
                            },
                        );
                    }
                }
            }
            "versions" => {
                let Some(versions) = checker.table("versions", value) else {
                    continue;
                };
                for (version, entry) in versions.iter() {
                    let what = format!("[versions.\"{}\"]", version.get_ref());
                    let Some(table) = checker.table(&what, entry) else {
                        continue;
                    };
                    let mut status = None;
                    let mut reason = None;
                    for (field, value) in table.iter() {
                        match field.get_ref().as_ref() {
                            "status" => {
                                if let Some(text) = checker.string("status", value) {
                                    match Status::parse(text) {
                                        Some(parsed) => status = Some(parsed),
                                        None => checker.error(
                                            "invalid-status",
                                            value.span(),
                                            format!("status \"{text}\" is not one of available, deprecated, disabled"),
                                        ),
                                    }
                                }
                            }
                            "reason" => reason = checker.non_empty_string("reason", value),
                            other => checker.unknown_key(&what, other, field.span()),
                        }
                    }
                    let Some(status) = status else {
                        if !table.contains_key("status") {
                            checker.error(
                                "missing-field",
                                entry.span(),
                                format!("{what} is missing the required field `status`"),
                            );
                        }
                        continue;
                    };
                    if status != Status::Available && reason.is_none() {
                        checker.error(
                            "missing-reason",
                            entry.span(),
                            format!("{what} is {status} but gives no `reason`; tell users why and what to use instead"),
                        );
                    }
                    meta.versions.insert(
                        version.get_ref().to_string(),
                        Placed {
                            value: VersionStatus {
                                status,
                                reason: reason.map(str::to_owned),
                            },
                            position: at(version.span()),
                        },
                    );
                }
            }
            other => checker.unknown_key(FILE_NAME, other, key.span()),
        }
    }
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
    meta
}

impl Checker<'_, '_> {
    /// Checks a key naming a custom tag: a valid tag name, and never `latest`.
    fn custom_tag<'k>(
        &mut self,
        tag: &'k toml::Spanned<std::borrow::Cow<'_, str>>,
    ) -> Option<&'k str> {
        let name = tag.get_ref().as_ref();
        if name == LATEST {
            self.error(
                "latest-tag",
                tag.span(),
                "`latest` is computed by the registry and cannot be set or retired".to_owned(),
            );
            return None;
        }
        if let Err(err) = model::check_tag(name) {
            self.error("invalid-tag", tag.span(), err);
            return None;
        }
        Some(name)
    }
}
