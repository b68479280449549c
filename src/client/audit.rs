//! `verify`: audit a whole registry from its root.
//!
//! Every document and blob the root reaches must exist, re-hash to the hash that names it,
//! match its JSON Schema (the files in `schemas/`, compiled into the program), and agree with
//! the documents that point at it (paths, sizes, counts, tags, readable copies). Signatures on
//! a signed root are checked against its own keys and any `--trust` keys. A lockfile can be
//! checked against the registry too. Every problem is collected; none stops the audit.
//!
//! The Perstack API documents (`api/registry/v1/`) are derived, not signed, so they are checked
//! by rendering them again: each expert's documents from its index document and blobs, with the
//! same code a build and a mirror use, must be served byte for byte; `format.json` and
//! `not-found.json` must be this program's. Where the files can be listed (a directory, an
//! archive), any other file under `api/` is stale: a document of a version since disabled, a
//! tag since retired, or an expert this registry does not serve (a partial mirror holds only
//! its scopes' documents). Over HTTP, nothing can be listed, so only the documents of disabled
//! versions are asked for, and must be missing. A registry with no API documents at all (a
//! client cache) has none to check.
//!
//! A root that pins a publish log has its log audited too (`publog::audit`): the checkpoint,
//! every tile, every entry, and the state the entries add up to against what is served.
//!
//! A root that pins a website manifest has its website audited when the registry holds it (its
//! top manifest document is there): every manifest document against its pin, and every file it
//! lists against its BLAKE3 and size, a missing or altered file named. A registry that does not
//! hold it (a mirror made without `--with-site`) is intact without it: the website is derived,
//! and clients need none of it.
//!
//! The schema check is the cargo feature `schemas` (on by default): `jsonschema` is 38 of the
//! program's 180 crates and a third of a clean release build's CPU time (311 s against 196 s
//! on two cores), and nothing but this audit uses it. A build without it (`cargo install
//! --no-default-features`, for a CI that only checks and builds) still checks every document
//! by type, and everything else above.

use std::collections::BTreeSet;
use std::path::PathBuf;

use rayon::prelude::*;
use serde_json::Value;

use crate::client::lockfile::Lockfile;
use crate::client::mirror::api_documents;
use crate::client::publog;
use crate::common::diagnostic::Diagnostic;
use crate::common::model::{ExpertName, Hash, Status};
use crate::common::signing::{self, PublicKey};
use crate::common::timestamp;
use crate::common::transport::{FetchError, Source};
use crate::format::index::IndexRef;
use crate::format::reader::{
    self, BinDoc, CheckedBin, IndexDoc, Pointer, PublishedError, RootDoc, SnapshotDoc,
};
use crate::format::{api, index, site_manifest};

#[derive(Debug, Default)]
pub struct AuditReport {
    pub problems: Vec<Diagnostic>,
    pub experts: usize,
    pub versions: usize,
    /// Hash-named documents, blobs and readable copies checked.
    pub files: usize,
    /// Perstack API documents checked (none for a registry that serves none, such as a cache).
    pub api_documents: usize,
    /// Website files checked against the manifest the root pins; `None` when the root pins
    /// none or the registry does not hold the website.
    pub website_files: Option<usize>,
}

/// Which schema of `schemas/` a document must match.
#[derive(Debug, Clone, Copy)]
enum Schema {
    Root,
    Snapshot,
    Bin,
    Index,
}

/// What is wrong with `value` by its schema, one message per violation.
#[cfg(feature = "schemas")]
fn schema_violations(schema: Schema, value: &Value) -> Vec<String> {
    struct Validators {
        root: jsonschema::Validator,
        snapshot: jsonschema::Validator,
        bin: jsonschema::Validator,
        index: jsonschema::Validator,
    }
    static VALIDATORS: std::sync::OnceLock<Validators> = std::sync::OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        let compile = |text: &str| {
            let schema: Value = serde_json::from_str(text).expect("schemas/ holds valid JSON");
            jsonschema::validator_for(&schema).expect("schemas/ holds valid schemas")
        };
        Validators {
            root: compile(include_str!("../../schemas/root.schema.json")),
            snapshot: compile(include_str!("../../schemas/snapshot.schema.json")),
            bin: compile(include_str!("../../schemas/bin.schema.json")),
            index: compile(include_str!("../../schemas/expert-index.schema.json")),
        }
    });
    let validator = match schema {
        Schema::Root => &validators.root,
        Schema::Snapshot => &validators.snapshot,
        Schema::Bin => &validators.bin,
        Schema::Index => &validators.index,
    };
    validator
        .iter_errors(value)
        .map(|error| {
            format!(
                "does not match its schema at \"{}\": {error}",
                error.instance_path()
            )
        })
        .collect()
}

/// Built without the `schemas` feature: documents are checked by type only.
#[cfg(not(feature = "schemas"))]
fn schema_violations(_: Schema, _: &Value) -> Vec<String> {
    Vec::new()
}

/// Audits the registry at `source`. Only failing to reach the source at all is an error;
/// everything wrong with what it serves is a problem in the report.
pub fn audit(
    source: &Source,
    trust: &[PublicKey],
    lock: Option<&Lockfile>,
) -> Result<AuditReport, FetchError> {
    let mut report = AuditReport::default();
    let problem = |code: &'static str, path: &str, message: String| {
        Diagnostic::error(code, &PathBuf::from(path), message)
    };
    let Some(root_bytes) = source.get_at_most(index::ROOT_PATH, reader::MAX_ROOT_BYTES)? else {
        report.problems.push(problem(
            "missing",
            index::ROOT_PATH,
            "missing: there is no registry here".to_owned(),
        ));
        return Ok(report);
    };
    report.files += 1;
    let Some((root_value, root)) =
        parse_checked::<RootDoc>(&root_bytes, index::ROOT_PATH, Schema::Root, &mut report)
    else {
        return Ok(report);
    };
    check_signatures(&root_value, &root, trust, &mut report.problems);

    let experts = match (&root.bins, &root.snapshot) {
        (Some(bins), _) => {
            let mut experts = Vec::new();
            let top = IndexRef {
                hash: bins.blake3,
                size: bins.size,
            };
            audit_bin(
                source,
                &top,
                bins.depth,
                &mut Vec::new(),
                &mut experts,
                &mut report,
            )?;
            experts
        }
        (None, Some(snapshot)) => match audit_snapshot(source, &root, snapshot, &mut report)? {
            Some(experts) => experts,
            None => return Ok(report),
        },
        // The schema requires one of them; a root without either was reported.
        (None, None) => return Ok(report),
    };

    let api_listing = api_listing(source)?;
    let audited: Vec<ExpertAudit> = experts
        .par_iter()
        .map(|(name, pointer)| audit_expert(source, name, pointer, api_listing.is_some()))
        .collect::<Result<_, FetchError>>()?;
    let mut indexes = Vec::new();
    let mut api_paths = BTreeSet::new();
    let mut unchecked = Vec::new();
    for (audit, (name, _)) in audited.into_iter().zip(&experts) {
        let ExpertAudit {
            report: part,
            index,
            api: paths,
        } = audit;
        report.problems.extend(part.problems);
        report.files += part.files;
        report.versions += part.versions;
        report.api_documents += part.api_documents;
        indexes.extend(index);
        match paths {
            ApiPaths::Checked(paths) => api_paths.extend(paths),
            ApiPaths::Unchecked => unchecked.push(name.as_str()),
        }
    }
    if let Some(listing) = api_listing {
        // The documents of an expert that could not be checked are not called stale: the
        // problem that stopped the check is reported already.
        let listing = listing
            .into_iter()
            .filter(|path| {
                !unchecked.iter().any(|name| {
                    let own = format!("{}/{name}", api::DIR);
                    path.strip_prefix(&own)
                        .is_some_and(|rest| rest.starts_with('@') || rest.starts_with('/'))
                })
            })
            .collect();
        check_api_files(source, listing, &api_paths, &mut report)?;
    }
    report.experts = experts.len();
    if root.experts != report.experts as u64 || root.versions != report.versions as u64 {
        report.problems.push(problem(
            "wrong-count",
            index::ROOT_PATH,
            format!(
                "the root counts {} experts and {} versions; its bins reach {} and {}",
                root.experts, root.versions, report.experts, report.versions
            ),
        ));
    }
    if let Some(log) = &root.log {
        match log.pin() {
            Ok(pin) => {
                let (problems, files) = publog::audit(source, &pin, &root.keys, &indexes)?;
                report.problems.extend(problems);
                report.files += files;
            }
            Err(why) => report.problems.push(problem("log", index::ROOT_PATH, why)),
        }
    }
    if let Some(site) = &root.site {
        match site.pin() {
            Ok(pin) => audit_site(source, &pin, &mut report)?,
            Err(why) => report.problems.push(problem("site", index::ROOT_PATH, why)),
        }
    }
    if let Some(lock) = lock {
        check_lock(lock, &indexes, &mut report.problems);
    }
    Ok(report)
}

/// Checks the website the manifest `pin` lists, when the registry holds its top document: each
/// manifest document against its parent, and each file against its listed BLAKE3 and size.
fn audit_site(
    source: &Source,
    pin: &index::SitePin,
    report: &mut AuditReport,
) -> Result<(), FetchError> {
    let top = index::site_manifest_path(&pin.top.hash);
    match source.get_at_most(&top, pin.top.size) {
        Ok(None) => return Ok(()),
        // Held but not as pinned: reading the manifest reports it.
        Ok(Some(_)) | Err(FetchError::TooLarge { .. }) => {}
        Err(err) => return Err(err),
    }
    let files = match site_manifest::files(source, pin) {
        Ok(files) => files,
        Err(PublishedError::Fetch(err)) => return Err(err),
        Err(PublishedError::Invalid { location, message }) => {
            report.problems.push(Diagnostic::error(
                "site-manifest",
                &PathBuf::from(location),
                message,
            ));
            return Ok(());
        }
    };
    if files.len() as u64 != pin.files {
        report.problems.push(Diagnostic::error(
            "wrong-count",
            &PathBuf::from(index::ROOT_PATH),
            format!(
                "the root counts {} website files; its site manifest lists {}",
                pin.files,
                files.len()
            ),
        ));
    }
    let problems: Vec<Option<Diagnostic>> = files
        .par_iter()
        .map(|(relative, entry)| {
            let at = PathBuf::from(relative);
            let found = match source.get_at_most(relative, entry.size) {
                Err(FetchError::TooLarge { .. }) => {
                    return Ok(Some(Diagnostic::error(
                        "site-file",
                        &at,
                        format!(
                            "altered: larger than the {} bytes the website manifest lists",
                            entry.size
                        ),
                    )));
                }
                other => other?,
            };
            let Some(bytes) = found else {
                return Ok(Some(Diagnostic::error(
                    "site-file",
                    &at,
                    "missing, but the website manifest lists it".to_owned(),
                )));
            };
            let actual = site_manifest::entry_of(&bytes);
            Ok((actual != *entry).then(|| {
                Diagnostic::error(
                    "site-file",
                    &at,
                    format!(
                        "altered: content hashes to {} ({} bytes), but the website manifest lists {} ({} bytes)",
                        actual.hash, actual.size, entry.hash, entry.size
                    ),
                )
            }))
        })
        .collect::<Result<_, FetchError>>()?;
    report.problems.extend(problems.into_iter().flatten());
    report.website_files = Some(files.len());
    Ok(())
}

/// Audits a format-1 root's snapshot: its path, hash and schema. Returns the experts it lists,
/// or `None` when it cannot be read (the problem is in the report).
fn audit_snapshot(
    source: &Source,
    root: &RootDoc,
    snapshot: &Pointer,
    report: &mut AuditReport,
) -> Result<Option<Vec<(String, Pointer)>>, FetchError> {
    let snapshot_path = index::snapshot_path(&snapshot.blake3);
    if snapshot.path != snapshot_path {
        report.problems.push(Diagnostic::error(
            "wrong-path",
            &PathBuf::from(index::ROOT_PATH),
            format!(
                "the snapshot's path is \"{}\"; its hash puts it at \"{snapshot_path}\"",
                snapshot.path
            ),
        ));
    }
    let Some(snapshot_bytes) = fetch(
        source,
        &snapshot_path,
        &snapshot.blake3,
        root.snapshot_limit(),
        report,
    )?
    else {
        return Ok(None);
    };
    let Some((_, snapshot)) =
        parse_checked::<SnapshotDoc>(&snapshot_bytes, &snapshot_path, Schema::Snapshot, report)
    else {
        return Ok(None);
    };
    Ok(Some(snapshot.experts.into_iter().collect()))
}

/// Audits a bin and, depth first, the bins under it: hash, size, schema, and that it is the
/// bin its parent says (level, slots, and experts whose names' hashes lead to it). Adds the
/// experts the leaves list to `experts`; a bin that cannot be read is reported and skipped.
fn audit_bin(
    source: &Source,
    pointer: &IndexRef,
    depth: u32,
    path: &mut Vec<usize>,
    experts: &mut Vec<(String, Pointer)>,
    report: &mut AuditReport,
) -> Result<(), FetchError> {
    let relative = index::bin_path(&pointer.hash);
    let limit = pointer.size.min(reader::MAX_BIN_BYTES);
    let Some(bytes) = fetch(source, &relative, &pointer.hash, limit, report)? else {
        return Ok(());
    };
    if parse_checked::<BinDoc>(&bytes, &relative, Schema::Bin, report).is_none() {
        return Ok(());
    }
    match reader::check_bin(&relative, &bytes, depth, path) {
        Err(err) => report.problems.push(Diagnostic::error(
            "misplaced",
            &PathBuf::from(&relative),
            match err {
                reader::PublishedError::Invalid { message, .. } => message,
                other => other.to_string(),
            },
        )),
        Ok(CheckedBin::Leaf(listed)) => {
            experts.extend(listed.into_iter().map(|(name, index)| {
                let pointer = Pointer {
                    path: index::index_path(&index.hash),
                    blake3: index.hash,
                    size: Some(index.size),
                };
                (name, pointer)
            }));
        }
        Ok(CheckedBin::Inner(children)) => {
            for (slot, child) in children {
                path.push(slot);
                audit_bin(source, &child, depth, path, experts, report)?;
                path.pop();
            }
        }
    }
    Ok(())
}

/// The API documents an expert's audit found it should have.
enum ApiPaths {
    /// Rendered and checked: the paths they are served at.
    Checked(BTreeSet<String>),
    /// Not rendered, because the expert's index document or a blob is unusable.
    Unchecked,
}

/// One expert's audit.
struct ExpertAudit {
    report: AuditReport,
    /// Its name and index document, when the document could be read.
    index: Option<(String, IndexDoc)>,
    api: ApiPaths,
}

/// Audits one expert: its index document, readable copy, tags and blobs, and its API
/// documents when `check_api`.
fn audit_expert(
    source: &Source,
    name: &str,
    pointer: &Pointer,
    check_api: bool,
) -> Result<ExpertAudit, FetchError> {
    let mut report = AuditReport::default();
    let index_path = index::index_path(&pointer.blake3);
    if pointer.path != index_path {
        report.problems.push(Diagnostic::error(
            "wrong-path",
            &PathBuf::from(&index_path),
            format!(
                "the registry puts \"{name}\" at \"{}\"; its hash puts it at \"{index_path}\"",
                pointer.path
            ),
        ));
    }
    let Some(bytes) = fetch(
        source,
        &index_path,
        &pointer.blake3,
        pointer
            .size
            .unwrap_or(reader::MAX_INDEX_BYTES)
            .min(reader::MAX_INDEX_BYTES),
        &mut report,
    )?
    else {
        return Ok(ExpertAudit {
            report,
            index: None,
            api: ApiPaths::Unchecked,
        });
    };
    let Some((_, doc)) = parse_checked::<IndexDoc>(&bytes, &index_path, Schema::Index, &mut report)
    else {
        return Ok(ExpertAudit {
            report,
            index: None,
            api: ApiPaths::Unchecked,
        });
    };
    let here = PathBuf::from(&index_path);
    if doc.name != name {
        report.problems.push(Diagnostic::error(
            "wrong-name",
            &here,
            format!(
                "the document is for \"{}\", but the registry lists it as \"{name}\"",
                doc.name
            ),
        ));
    }
    let expert = ExpertName::parse(name);
    match &expert {
        Err(err) => report
            .problems
            .push(Diagnostic::error("invalid-name", &here, err.clone())),
        Ok(expert) => {
            let readable = expert.readable_index_path();
            match source.get_at_most(&readable, reader::MAX_INDEX_BYTES)? {
                None => report.problems.push(Diagnostic::error(
                    "missing",
                    &PathBuf::from(&readable),
                    "missing: the readable copy of the index document".to_owned(),
                )),
                Some(copy) if copy != bytes => report.problems.push(Diagnostic::error(
                    "stale-copy",
                    &PathBuf::from(&readable),
                    format!("differs from {index_path}, which the registry names"),
                )),
                Some(_) => report.files += 1,
            }
        }
    }
    for (tag, version) in doc.tags() {
        match doc.versions.get(version) {
            None => report.problems.push(Diagnostic::error(
                "dangling-tag",
                &here,
                format!("tag \"{tag}\" names version {version}, which is not listed"),
            )),
            Some(entry) if entry.status == Status::Disabled => {
                report.problems.push(Diagnostic::error(
                    "dangling-tag",
                    &here,
                    format!("tag \"{tag}\" names version {version}, which is disabled"),
                ))
            }
            Some(_) => {}
        }
    }
    // Every version's verified bytes, for the API documents; `None` once one is missing.
    let mut blobs = Some(Vec::new());
    for (version, entry) in &doc.versions {
        report.versions += 1;
        let blob_path = index::blob_path(&entry.blake3);
        if entry.path != blob_path {
            report.problems.push(Diagnostic::error(
                "wrong-path",
                &here,
                format!(
                    "version {version} is at \"{}\"; its hash puts it at \"{blob_path}\"",
                    entry.path
                ),
            ));
        }
        if let Err(why) = reader::check_blob_size(entry.size) {
            report.problems.push(Diagnostic::error(
                "too-large",
                &here,
                format!("version {version} {why}"),
            ));
            blobs = None;
            continue;
        }
        // One byte more than the index says, so a longer file is reported as the wrong size.
        let limit = entry.size + 1;
        let blob = fetch(source, &blob_path, &entry.blake3, limit, &mut report)?;
        if let Some(blob) = &blob
            && blob.len() as u64 != entry.size
        {
            report.problems.push(Diagnostic::error(
                "wrong-size",
                &PathBuf::from(&blob_path),
                format!(
                    "{} bytes, but {index_path} says {} for version {version}",
                    blob.len(),
                    entry.size
                ),
            ));
        }
        match (&mut blobs, blob) {
            (Some(blobs), Some(blob)) => blobs.push((version.as_str(), entry, blob)),
            _ => blobs = None,
        }
    }
    // Documents are rendered only from a whole, verified expert: a problem above already
    // explains why one that is not cannot be checked.
    let api_paths = match (check_api, &expert, &blobs) {
        (true, Ok(expert), Some(blobs)) => {
            check_api_documents(source, expert, &index_path, &doc, blobs, &mut report)?
        }
        (false, ..) => ApiPaths::Checked(BTreeSet::new()),
        _ => ApiPaths::Unchecked,
    };
    Ok(ExpertAudit {
        report,
        index: Some((name.to_owned(), doc)),
        api: api_paths,
    })
}

/// Whether the registry serves Perstack API documents at all, and so has them checked: `None`
/// when it serves none (a client cache), else the files under `api/` where they can be
/// listed (an empty list over HTTP, where they cannot).
fn api_listing(source: &Source) -> Result<Option<Vec<String>>, FetchError> {
    let listing = source.list("api")?;
    let serves_api = match &listing {
        Some(files) => !files.is_empty(),
        None => {
            source
                .get_at_most(api::FORMAT_PATH, reader::MAX_ROOT_BYTES)?
                .is_some()
                || source
                    .get_at_most(api::NOT_FOUND_PATH, reader::MAX_ROOT_BYTES)?
                    .is_some()
        }
    };
    Ok(serves_api.then(|| listing.unwrap_or_default()))
}

/// Renders an expert's API documents from its index document and verified blobs, and checks
/// that each is served byte for byte; over HTTP, also that no disabled version's document is.
/// Returns the paths the expert's documents are served at.
fn check_api_documents(
    source: &Source,
    expert: &ExpertName,
    index_path: &str,
    doc: &IndexDoc,
    blobs: &[(&str, &crate::format::reader::IndexVersion, Vec<u8>)],
    report: &mut AuditReport,
) -> Result<ApiPaths, FetchError> {
    let documents = match api_documents(expert, doc, blobs) {
        Ok(documents) => documents,
        Err(message) => {
            report.problems.push(Diagnostic::error(
                "api-render",
                &PathBuf::from(index_path),
                format!("cannot render the Perstack API documents: {message}"),
            ));
            return Ok(ApiPaths::Unchecked);
        }
    };
    let mut expected: Vec<(&String, &[u8])> = documents
        .versions
        .iter()
        .flat_map(|document| {
            document
                .paths()
                .map(|path| (path, document.bytes.as_slice()))
        })
        .collect();
    if let Some((path, bytes)) = &documents.listing {
        expected.push((path, bytes));
    }
    for (path, bytes) in &expected {
        check_api_document(source, path, bytes, index_path, report)?;
    }
    if matches!(source, Source::Http(_)) {
        for (version, entry) in &doc.versions {
            let path = api::path(&format!("{expert}@{version}"));
            if entry.status == Status::Disabled
                && source
                    .get_at_most(&path, reader::MAX_INDEX_BYTES)?
                    .is_some()
            {
                report.problems.push(Diagnostic::error(
                    "stale-api",
                    &PathBuf::from(&path),
                    format!("served, but version {version} is disabled"),
                ));
            }
        }
    }
    Ok(ApiPaths::Checked(
        expected.into_iter().map(|(path, _)| path.clone()).collect(),
    ))
}

/// Checks that the API document at `path` is served with exactly `bytes`, what `derived_from`
/// renders.
fn check_api_document(
    source: &Source,
    path: &str,
    bytes: &[u8],
    derived_from: &str,
    report: &mut AuditReport,
) -> Result<(), FetchError> {
    // One byte more than expected, so a longer document is read far enough to differ.
    let served = match source.get_at_most(path, bytes.len() as u64 + 1) {
        Err(FetchError::TooLarge { .. }) => Some(Vec::new()),
        other => other?,
    };
    report.api_documents += 1;
    match served {
        None => report.problems.push(Diagnostic::error(
            "missing",
            &PathBuf::from(path),
            format!("missing: the Perstack API document rendered from {derived_from}"),
        )),
        Some(served) if served != bytes => report.problems.push(Diagnostic::error(
            "stale-api",
            &PathBuf::from(path),
            format!("differs from the Perstack API document rendered from {derived_from}"),
        )),
        Some(_) => {}
    }
    Ok(())
}

/// Checks the documents every API has once (`format.json`, `not-found.json`), and that no file
/// under `api/` is served beyond them and `expected`, where the files can be listed.
fn check_api_files(
    source: &Source,
    listing: Vec<String>,
    expected: &BTreeSet<String>,
    report: &mut AuditReport,
) -> Result<(), FetchError> {
    let fixed = api::fixed_documents();
    for (path, bytes) in &fixed {
        check_api_document(source, path, bytes, "this program's API format", report)?;
    }
    for path in listing {
        if !expected.contains(&path) && !fixed.iter().any(|(fixed, _)| *fixed == path) {
            report.problems.push(Diagnostic::error(
                "stale-api",
                &PathBuf::from(&path),
                "served, but the registry publishes no version or tag whose document belongs here (disabled, retired, or not in this registry)".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Fetches a hash-named file, no more than `limit` bytes of it, and checks its hash; problems
/// (a missing or too large file, a wrong hash) go into `report`.
fn fetch(
    source: &Source,
    relative: &str,
    hash: &Hash,
    limit: u64,
    report: &mut AuditReport,
) -> Result<Option<Vec<u8>>, FetchError> {
    let fetched = match source.get_at_most(relative, limit) {
        Err(FetchError::TooLarge { limit, .. }) => {
            report.problems.push(Diagnostic::error(
                "too-large",
                &PathBuf::from(relative),
                format!("larger than the {limit} bytes the registry's metadata allows for it"),
            ));
            return Ok(None);
        }
        other => other?,
    };
    let Some(bytes) = fetched else {
        report.problems.push(Diagnostic::error(
            "missing",
            &PathBuf::from(relative),
            "missing, but the registry points at it".to_owned(),
        ));
        return Ok(None);
    };
    report.files += 1;
    let actual = Hash::of(&bytes);
    if actual != *hash {
        report.problems.push(Diagnostic::error(
            "hash-mismatch",
            &PathBuf::from(relative),
            format!("content hashes to {actual}, but its name and the registry say {hash}"),
        ));
        return Ok(None);
    }
    Ok(Some(bytes))
}

fn parse_checked<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    relative: &str,
    schema: Schema,
    report: &mut AuditReport,
) -> Option<(Value, T)> {
    let here = PathBuf::from(relative);
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(err) => {
            report.problems.push(Diagnostic::error(
                "invalid-json",
                &here,
                format!("not JSON: {err}"),
            ));
            return None;
        }
    };
    let violations = schema_violations(schema, &value);
    if !violations.is_empty() {
        report.problems.extend(
            violations
                .into_iter()
                .map(|message| Diagnostic::error("schema", &here, message)),
        );
        return None;
    }
    match serde_json::from_value(value.clone()) {
        Ok(parsed) => Some((value, parsed)),
        Err(err) => {
            report
                .problems
                .push(Diagnostic::error("schema", &here, err.to_string()));
            None
        }
    }
}

fn check_signatures(
    value: &Value,
    root: &RootDoc,
    trust: &[PublicKey],
    problems: &mut Vec<Diagnostic>,
) {
    let here = PathBuf::from(index::ROOT_PATH);
    if root.signatures.is_empty() {
        if !trust.is_empty() {
            problems.push(Diagnostic::error(
                "unsigned",
                &here,
                "the root is not signed, but --trust names keys".to_owned(),
            ));
        }
        return;
    }
    let message = signing::signed_bytes(value);
    let mut trusted_signature = false;
    for signature in &root.signatures {
        if !root.keys.contains(&signature.keyid) {
            problems.push(Diagnostic::error(
                "unknown-key",
                &here,
                format!(
                    "signed by {}, which the root's keys do not list",
                    signature.keyid
                ),
            ));
        }
        let verifies = PublicKey::parse(&signature.keyid)
            .is_ok_and(|key| key.verifies(&message, &signature.sig));
        if !verifies {
            problems.push(Diagnostic::error(
                "bad-signature",
                &here,
                format!(
                    "the signature by {} does not verify: the root was altered or wrongly signed",
                    signature.keyid
                ),
            ));
        }
        trusted_signature |= trust.iter().any(|key| key.to_string() == signature.keyid) && verifies;
    }
    if !trust.is_empty() && !trusted_signature {
        problems.push(Diagnostic::error(
            "unknown-key",
            &here,
            "no signature is by a key given with --trust".to_owned(),
        ));
    }
    if let Some(expires) = root.expires.as_deref().and_then(timestamp::parse)
        && expires <= timestamp::now()
    {
        problems.push(Diagnostic::error(
            "expired",
            &here,
            format!(
                "the root expired at {}",
                root.expires.as_deref().unwrap_or_default()
            ),
        ));
    }
}

fn check_lock(lock: &Lockfile, indexes: &[(String, IndexDoc)], problems: &mut Vec<Diagnostic>) {
    let here = PathBuf::from(crate::client::lockfile::FILE_NAME);
    for entry in &lock.experts {
        let key = format!("{}@{}", entry.name, entry.version);
        let found = indexes
            .iter()
            .find(|(name, _)| *name == entry.name)
            .and_then(|(_, doc)| doc.versions.get(&entry.version));
        match found {
            None => problems.push(Diagnostic::error(
                "lock-missing",
                &here,
                format!("{key} is locked but the registry does not publish it"),
            )),
            Some(published) if published.blake3 != entry.blake3 => {
                problems.push(Diagnostic::error(
                    "lock-mismatch",
                    &here,
                    format!(
                        "{key} is locked to BLAKE3 {}, but the registry publishes {}",
                        entry.blake3, published.blake3
                    ),
                ))
            }
            Some(_) => {}
        }
    }
}

#[cfg(all(test, feature = "schemas"))]
mod tests {
    use super::*;

    #[test]
    fn documents_are_checked_against_their_schema() {
        let hash = Hash::of(b"snapshot");
        let root = format!(
            r#"{{"format": 3, "serial": 1, "snapshot": {{"path": "v1/snapshots/{hash}.json", "blake3": "{hash}"}}, "experts": 0, "versions": 0, "generator": "g", "extra": true}}"#
        );
        let mut report = AuditReport::default();
        let parsed =
            parse_checked::<RootDoc>(root.as_bytes(), index::ROOT_PATH, Schema::Root, &mut report);
        assert!(parsed.is_none());
        let messages: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("does not match its schema at \"/format\""))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("does not match its schema at \"\""))
        );
    }
}
