//! `publish`: an author's `perstack.toml` in, new version files in `registry-data/` out.
//!
//! A version file holds exactly one expert's table and its skills, cut out of the author's file
//! with `toml_edit` so the text (multi-line instructions, comments inside the table) stays as
//! the author wrote it. Top-level run settings (`model`, `provider`, `envPath`, ...) are not
//! part of a definition and are dropped, and the caller is told which. Before anything is
//! written, the registry as it would be with the new files is validated with the same rules as
//! `check`; problems in the new files are reported at their line in `perstack.toml`. A version
//! that already exists is refused, never overwritten. Several experts are written in delegate
//! order, so a file is never written before the experts it delegates to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{DocumentMut, Item, Table, TableLike};

use crate::authoring::edit;
use crate::authoring::outcome::CommandError;
use crate::common::diagnostic::{Diagnostic, Position, Severity};
use crate::common::fsutil;
use crate::common::model::{self, ExpertKey, ExpertName, Hash};
use crate::common::timestamp;
use crate::data::load::{self, LoadedRegistry};
use crate::data::toml_file::{self, TomlFile};
use crate::data::validate;

/// Which experts of the file to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The file's only expert; asking is an error when it defines several.
    Only,
    /// The experts named.
    Named(Vec<String>),
    All,
}

#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The author's perstack.toml.
    pub source: PathBuf,
    pub data_dir: PathBuf,
    pub selection: Selection,
    /// Check everything and report what would be written, but write nothing.
    pub dry_run: bool,
}

/// One version file, written or to be written.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedFile {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub blake3: Hash,
    pub size: usize,
    /// When it was published (`SOURCE_DATE_EPOCH`, or the clock), as recorded in expert.toml.
    pub published: String,
    /// The file's text, reported only for a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// What `publish` did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    #[serde(rename = "dryRun")]
    pub dry_run: bool,
    /// In the order written: every expert after the experts it delegates to.
    pub files: Vec<PublishedFile>,
    /// Top-level keys of perstack.toml left out because they are run settings.
    pub dropped: Vec<String>,
    /// Warnings about the new files (errors make the whole publish fail).
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
}

/// One expert cut out of perstack.toml.
struct Candidate {
    name: ExpertName,
    version: semver::Version,
    path: PathBuf,
    text: String,
    /// The candidate's lines, each with the line of perstack.toml it came from.
    line_map: Vec<Option<usize>>,
    /// Delegates named by bare expert name, with where they are written.
    delegates: Vec<(ExpertKey, Option<Position>)>,
}

pub fn publish(options: &PublishOptions) -> Result<PublishReport, CommandError> {
    let source_path = &options.source;
    let bytes = fsutil::read(source_path)?;
    let mut problems = Vec::new();
    let (text, spanned) = parse_author_file(source_path, &bytes, &mut problems)?;
    let experts = experts_table(&spanned, source_path)?;
    let defined: Vec<String> = experts.iter().map(|(key, _)| key.to_owned()).collect();
    let chosen = choose(&options.selection, &defined, source_path)?;
    let dropped = run_settings(&spanned);
    let candidates = cut_candidates(options, text, experts, &chosen, &mut problems)?;
    check_versions_are_new(&candidates, &spanned, text, source_path, &mut problems);
    let loaded = load::load(&options.data_dir)?;
    check_delegates_resolve(&candidates, &loaded, &defined, source_path, &mut problems);
    let warnings = validate_with_candidates(loaded, &candidates, source_path, &mut problems);
    if !problems.is_empty() {
        return Err(CommandError::Invalid(problems));
    }
    let now = timestamp::build_time().map_err(CommandError::Usage)?;
    let files = write_candidates(candidates, &timestamp::format(now), options.dry_run)?;
    Ok(PublishReport {
        dry_run: options.dry_run,
        files,
        dropped,
        warnings,
    })
}

/// Checks perstack.toml as `check` checks any file, then parses it again keeping the places
/// of its keys and values, for reporting problems at their line.
fn parse_author_file<'t>(
    source_path: &Path,
    bytes: &'t [u8],
    problems: &mut Vec<Diagnostic>,
) -> Result<(&'t str, toml_edit::Document<&'t str>), CommandError> {
    let Some(text) = toml_file::check_text(source_path, bytes, problems) else {
        return Err(CommandError::Invalid(std::mem::take(problems)));
    };
    if TomlFile::new(source_path, text).parse(problems).is_none() {
        return Err(CommandError::Invalid(std::mem::take(problems)));
    }
    let spanned = toml_edit::Document::parse(text).map_err(|err| {
        CommandError::Invalid(vec![
            Diagnostic::error("toml-syntax", source_path, format!("invalid TOML: {err}"))
                .at(err.span().map(|s| Position::at(text, s.start))),
        ])
    })?;
    Ok((text, spanned))
}

/// The `[experts]` table, which must be there: without it there is nothing to publish.
fn experts_table<'d>(
    spanned: &'d toml_edit::Document<&str>,
    source_path: &Path,
) -> Result<&'d dyn TableLike, CommandError> {
    spanned
        .get("experts")
        .and_then(Item::as_table_like)
        .ok_or_else(|| {
            CommandError::Invalid(vec![Diagnostic::error(
                "missing-expert",
                source_path,
                "defines no [experts.\"<name>\"] table: there is nothing to publish",
            )])
        })
}

/// The top-level keys besides `experts`: run settings, not part of a definition.
fn run_settings(spanned: &toml_edit::Document<&str>) -> Vec<String> {
    spanned
        .iter()
        .map(|(key, _)| key.to_owned())
        .filter(|key| key != "experts")
        .collect()
}

/// Cuts each chosen expert out of the file. An expert whose name or version is invalid is
/// reported in `problems` and left out.
fn cut_candidates(
    options: &PublishOptions,
    text: &str,
    experts: &dyn TableLike,
    chosen: &[String],
    problems: &mut Vec<Diagnostic>,
) -> Result<Vec<Candidate>, CommandError> {
    let source_path = &options.source;
    let editable = toml_edit::Document::parse(text.to_owned())
        .map_err(|err| CommandError::Refused(format!("{}: {err}", source_path.display())))?
        .into_mut();
    let at = |span: Option<std::ops::Range<usize>>| span.map(|s| Position::at(text, s.start));
    let mut candidates = Vec::new();
    for name_text in chosen {
        let key_position = at(experts.key(name_text).and_then(|k| k.span()));
        let name = match ExpertName::parse(name_text) {
            Ok(name) => name,
            Err(err) => {
                problems.push(Diagnostic::error("invalid-name", source_path, err).at(key_position));
                continue;
            }
        };
        let table = experts.get(name_text).and_then(Item::as_table_like);
        let version = match candidate_version(&name, table, key_position, &at) {
            Ok(version) => version,
            Err((message, position)) => {
                problems
                    .push(Diagnostic::error("invalid-version", source_path, message).at(position));
                continue;
            }
        };
        let delegates = candidate_delegates(table, &at);
        let path = name
            .data_dir(&options.data_dir)
            .join(format!("{version}.toml"));
        let cut = cut_expert(&editable, name_text);
        let line_map = line_map(&cut, text);
        candidates.push(Candidate {
            name,
            version,
            path,
            text: cut,
            line_map,
            delegates,
        });
    }
    Ok(candidates)
}

/// The expert's `version`, which must be a canonical SemVer string; otherwise the message and
/// where to report it.
fn candidate_version(
    name: &ExpertName,
    table: Option<&dyn TableLike>,
    key_position: Option<Position>,
    at: &impl Fn(Option<std::ops::Range<usize>>) -> Option<Position>,
) -> Result<semver::Version, (String, Option<Position>)> {
    let version_item = table.and_then(|t| t.get("version"));
    match version_item.map(|item| (item.as_str(), item.span())) {
        None => Err((
            format!(
                "expert \"{name}\" has no `version`: set one (for example version = \"1.0.0\") to publish it"
            ),
            key_position,
        )),
        Some((None, span)) => Err(("`version` must be a string".to_owned(), at(span))),
        Some((Some(version), span)) => {
            model::parse_canonical_version(version).map_err(|err| (err, at(span)))
        }
    }
}

/// The delegates the expert names that parse as expert keys, with where each is written.
fn candidate_delegates(
    table: Option<&dyn TableLike>,
    at: &impl Fn(Option<std::ops::Range<usize>>) -> Option<Position>,
) -> Vec<(ExpertKey, Option<Position>)> {
    let mut delegates = Vec::new();
    if let Some(array) = table
        .and_then(|t| t.get("delegates"))
        .and_then(Item::as_array)
    {
        for value in array.iter() {
            if let Some(key) = value.as_str().and_then(|k| ExpertKey::parse(k).ok()) {
                delegates.push((key, at(value.span())));
            }
        }
    }
    delegates
}

/// Refuses a version that already exists: published versions are never overwritten.
fn check_versions_are_new(
    candidates: &[Candidate],
    spanned: &toml_edit::Document<&str>,
    text: &str,
    source_path: &Path,
    problems: &mut Vec<Diagnostic>,
) {
    for candidate in candidates {
        if candidate.path.exists() {
            problems.push(
                Diagnostic::error(
                    "version-exists",
                    source_path,
                    format!(
                        "{} already exists: {}@{} is published and never changes; raise `version` to publish a new one",
                        candidate.path.display(),
                        candidate.name,
                        candidate.version
                    ),
                )
                .at(candidate_version_position(spanned, candidate, text)),
            );
        }
    }
}

/// Every delegate must be in the registry or published along with its delegator; one defined
/// in this file but not chosen is reported with how to publish it too.
fn check_delegates_resolve(
    candidates: &[Candidate],
    loaded: &LoadedRegistry,
    defined: &[String],
    source_path: &Path,
    problems: &mut Vec<Diagnostic>,
) {
    let publishing: BTreeSet<&ExpertName> = candidates.iter().map(|c| &c.name).collect();
    for candidate in candidates {
        for (key, position) in &candidate.delegates {
            if loaded.experts.contains_key(&key.name) || publishing.contains(&key.name) {
                continue;
            }
            let message = if defined.iter().any(|d| d == key.name.as_str()) {
                format!(
                    "delegate \"{key}\" is defined in this file but not in the registry: publish it too (--expert {} or --all)",
                    key.name
                )
            } else {
                format!(
                    "delegate \"{key}\" does not resolve: there is no expert \"{}\" in the registry",
                    key.name
                )
            };
            problems
                .push(Diagnostic::error("delegate-unknown", source_path, message).at(*position));
        }
    }
}

/// Validates the registry as it would be with the candidates added, with `check`'s rules.
/// Errors go to `problems`, placed at their line in perstack.toml when they are in a
/// candidate; the candidates' warnings are returned, and other warnings dropped.
fn validate_with_candidates(
    mut loaded: LoadedRegistry,
    candidates: &[Candidate],
    source_path: &Path,
    problems: &mut Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    for candidate in candidates {
        loaded.add_version(
            &candidate.name,
            &candidate.version,
            &candidate.path,
            candidate.text.as_bytes(),
        );
    }
    let (_, validation) = validate::validate(loaded);
    let mut warnings = Vec::new();
    for problem in validation {
        let from_candidate = candidates.iter().find(|c| c.path == problem.file);
        let problem = match from_candidate {
            // Already reported with a clearer message by `check_delegates_resolve`.
            Some(_) if problem.code == "delegate-unknown" => continue,
            Some(candidate) => Diagnostic {
                file: source_path.to_path_buf(),
                position: problem.position.map(|p| Position {
                    line: candidate
                        .line_map
                        .get(p.line - 1)
                        .copied()
                        .flatten()
                        .map_or(p.line, |line| line + 1),
                    column: p.column,
                }),
                ..problem
            },
            None => problem,
        };
        match problem.severity {
            Severity::Error => problems.push(problem),
            Severity::Warning if from_candidate.is_some() => warnings.push(problem),
            Severity::Warning => {}
        }
    }
    warnings
}

/// Writes the version files in delegate order, each followed by its publish time in the
/// expert's `expert.toml` (for a dry run, only reports them). The version file goes first: if
/// recording the time fails, the version is published without one, which the error reports,
/// rather than a time recorded for a version that does not exist.
fn write_candidates(
    candidates: Vec<Candidate>,
    published: &str,
    dry_run: bool,
) -> Result<Vec<PublishedFile>, CommandError> {
    let mut files = Vec::new();
    for candidate in delegate_order(candidates) {
        let bytes = candidate.text.as_bytes();
        if !dry_run {
            fsutil::write_atomic(&candidate.path, bytes, false)?;
            let meta_path = candidate.path.with_file_name(crate::data::meta::FILE_NAME);
            edit::record_published(&meta_path, &candidate.version, published)?;
        }
        files.push(PublishedFile {
            name: candidate.name.to_string(),
            version: candidate.version.to_string(),
            path: candidate.path,
            blake3: Hash::of(bytes),
            size: bytes.len(),
            published: published.to_owned(),
            content: dry_run.then_some(candidate.text),
        });
    }
    Ok(files)
}

/// Resolves the selection against the experts the file defines.
fn choose(
    selection: &Selection,
    defined: &[String],
    source_path: &Path,
) -> Result<Vec<String>, CommandError> {
    match selection {
        Selection::All => Ok(defined.to_vec()),
        Selection::Only => match defined {
            [only] => Ok(vec![only.clone()]),
            _ => Err(CommandError::Usage(format!(
                "{} defines {} experts ({}): choose with --expert NAME or --all",
                source_path.display(),
                defined.len(),
                defined.join(", ")
            ))),
        },
        Selection::Named(names) => {
            let unknown: Vec<&String> = names.iter().filter(|n| !defined.contains(n)).collect();
            if unknown.is_empty() {
                let chosen: BTreeSet<&String> = names.iter().collect();
                Ok(chosen.into_iter().cloned().collect())
            } else {
                Err(CommandError::NotFound(format!(
                    "{} defines no expert {}; it defines {}",
                    source_path.display(),
                    unknown
                        .iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    defined.join(", ")
                )))
            }
        }
    }
}

/// The text of a version file: only `[experts."<name>"]` and its sub-tables, as written.
fn cut_expert(document: &DocumentMut, name: &str) -> String {
    let mut experts = Table::new();
    experts.set_implicit(true);
    // The key is copied with its own spelling, so `[experts."x"]` does not become `[experts.x]`.
    if let Some((key, expert)) = document
        .get("experts")
        .and_then(Item::as_table_like)
        .and_then(|table| table.get_key_value(name))
    {
        experts.insert_formatted(key, expert.clone());
    }
    let mut cut = DocumentMut::new();
    cut.insert("experts", Item::Table(experts));
    let text = cut.to_string();
    let mut text = text.trim_start_matches(['\n', '\r']).to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// For each line of `cut`, the 0-based line of `original` it was copied from. The cut keeps
/// the original's lines in order, so matching each line with the next equal line of the
/// original finds it; a line that cannot be matched maps to nothing.
fn line_map(cut: &str, original: &str) -> Vec<Option<usize>> {
    let original: Vec<&str> = original.lines().collect();
    let mut next = 0;
    cut.lines()
        .map(|line| {
            let found = original[next.min(original.len())..]
                .iter()
                .position(|candidate| *candidate == line)
                .map(|offset| next + offset);
            if let Some(index) = found {
                next = index + 1;
            }
            found
        })
        .collect()
}

fn candidate_version_position(
    spanned: &toml_edit::Document<&str>,
    candidate: &Candidate,
    text: &str,
) -> Option<Position> {
    spanned
        .get("experts")
        .and_then(Item::as_table_like)
        .and_then(|experts| experts.get(candidate.name.as_str()))
        .and_then(Item::as_table_like)
        .and_then(|table| table.get("version"))
        .and_then(Item::span)
        .map(|span| Position::at(text, span.start))
}

/// Orders candidates so each comes after the candidates it delegates to; experts in a cycle
/// (which can only be published together) and independent ones go in name order.
fn delegate_order(candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut pending: BTreeMap<ExpertName, Candidate> = candidates
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    let mut ordered = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<ExpertName> = pending
            .values()
            .filter(|c| {
                c.delegates
                    .iter()
                    .all(|(key, _)| key.name == c.name || !pending.contains_key(&key.name))
            })
            .map(|c| c.name.clone())
            .collect();
        let next = if ready.is_empty() {
            pending.keys().take(1).cloned().collect()
        } else {
            ready
        };
        for name in next {
            if let Some(candidate) = pending.remove(&name) {
                ordered.push(candidate);
            }
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_the_cut_map_to_their_place_in_the_original() {
        let original = "model = \"m\"\n\n[experts.\"a\"]\nversion = \"1.0.0\"\n\n[experts.\"b\"]\nversion = \"1.0.0\"\n";
        let cut = "[experts.\"b\"]\nversion = \"1.0.0\"\nnew\n";
        assert_eq!(line_map(cut, original), [Some(5), Some(6), None]);
    }
}
