//! `mirror`: copy a registry, or some scopes of it, into a directory that is a registry too.
//!
//! Every file is verified against its hash before it is written, and only what the destination
//! lacks is downloaded. Writes go in the build's safe order (blobs, index documents, bins,
//! readable and Perstack API documents, and the root last), so a mirror killed at any moment
//! leaves the destination's previous state valid and the next run resumes where it stopped.
//!
//! A full mirror copies the source's root and bins (or, from a format-1 source, its snapshot)
//! byte for byte, signatures included; a bin whose hash the mirror already holds is not
//! downloaded again, so mirroring after one publish transfers the root, the bins on the
//! changed paths, and the changed experts' documents. A partial mirror (`--scope`) cannot
//! carry the source's signature, since its bins list fewer experts: it writes bins and a root
//! of its own (keeping the source's serial), keeps
//! the source's root in `v1/upstream-root.json` for auditing, and is unsigned unless given keys
//! to sign with.
//!
//! A destination ending in `.tar` is a registry archive (`common::archive`): the mirror is made
//! in a working directory beside it (`<archive>.mirroring/`, where an interrupted run resumes),
//! packed into one reproducible archive written by rename, and the working directory removed.
//! The archive it replaces supplies every hash-named file it still holds (checked against its
//! hash), so a new archive downloads only what changed. The client's state
//! (`.perstack-client/`) stays out of the archive: it is this host's.
//!
//! A full mirror also copies the publish log its source's root pins (`publog`), following it
//! from the log it held before and refusing a log that does not extend that one (a split
//! view); a partial mirror serves no log of its own.
//!
//! The website is not copied unless asked (`--with-site`): it is derived from the registry and
//! is most of a registry's files (a page per expert and version, the search index), while
//! clients and the Perstack runtime need none of it; and only by a full mirror, since its pages
//! link to every expert. The root pins the website's manifest (`format::site_manifest`), so the
//! website is copied from any source, HTTP included, and every file is verified against it:
//! only the manifest documents whose hashes changed since the destination's previous root are
//! read, and only the files whose entries changed are fetched (when the destination's manifest
//! is of an earlier format, the whole manifest is read, and the files it holds intact are
//! still not fetched). A source whose root pins a manifest of an earlier format is refused,
//! saying so. A source whose root pins no
//! website (built before the manifest) is copied by listing its files where it can be listed (a
//! directory, an archive), as its files come; over HTTP it is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::client::cache::{self, ClientError};
use crate::client::publog;
use crate::client::replica::{Replica, ReplicaError, UPSTREAM_ROOT_PATH};
use crate::client::trust::TrustState;
use crate::common::archive;
use crate::common::fsutil::{self, IoContext};
use crate::common::model::{ExpertName, Hash};
use crate::common::progress::Progress;
use crate::common::signing::{PublicKey, SecretKey};
use crate::common::transport::{self, Source};
use crate::format::api::{self, ApiExpert, ApiVersion};
use crate::format::reader::{
    self, IndexDoc, IndexVersion, PublishedError, PublishedRegistry, RootDoc,
};
use crate::format::{index, site_manifest};

#[derive(Debug, Clone)]
pub struct MirrorOptions {
    pub source: Source,
    pub dest: PathBuf,
    /// Scopes to copy (`@acme`); empty copies everything.
    pub scopes: Vec<String>,
    pub trust: Vec<PublicKey>,
    /// Keys to sign a partial mirror's root with, and its validity in days.
    pub sign: Option<(Vec<SecretKey>, u32)>,
    /// Copy the website too (`--with-site`).
    pub site: bool,
}

/// What a mirror run did; also the document `mirror --format json` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MirrorReport {
    pub experts: usize,
    pub versions: usize,
    pub serial: u64,
    pub downloaded: usize,
    pub present: usize,
    pub partial: bool,
    /// Website files copied, with `--with-site`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_files: Option<usize>,
    /// The archive written, for a destination ending in `.tar`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveReport>,
}

/// The archive a mirror wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveReport {
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("--scope \"{0}\" is not a scope (expected @name)")]
    BadScope(String),
    #[error(
        "--sign-key-env signs a partial mirror's own root; a full mirror keeps the source's root and signatures"
    )]
    SignFull,
    #[error(
        "--with-site copies the whole registry's website, whose pages link to every expert; a partial mirror (--scope) does not hold them all"
    )]
    SitePartial,
    #[error(
        "--with-site needs a website manifest or a source whose files can be listed: {0} is served over HTTP, a static host cannot list its website's files, and its root pins no website manifest (it was built with --no-site, or before the manifest). Build it again with this version, mirror from the built directory, or build the website from registry-data"
    )]
    SiteOverHttp(String),
    #[error(
        "{0}: larger than the {MAX_SITE_FILE_BYTES} bytes any website file may be; refusing to copy it"
    )]
    SiteFileTooLarge(String),
    #[error("{0}: a symbolic link; refusing to copy it (the website holds only files)")]
    SiteLink(String),
    /// A website file that is not what the root's website manifest lists.
    #[error("{location}: {message}")]
    SiteFile { location: String, message: String },
    #[error("{work}: cannot be packed into an archive: {reason}")]
    Unpackable { work: String, reason: String },
}

/// The largest website file copied: far above any page, asset or search file a build writes
/// (a search shard is split past 64 KiB), so that only a source that is not a built registry
/// can hit it.
pub const MAX_SITE_FILE_BYTES: u64 = 16 * 1024 * 1024;

impl From<ReplicaError> for MirrorError {
    fn from(err: ReplicaError) -> MirrorError {
        MirrorError::Client(err.into())
    }
}

impl From<PublishedError> for MirrorError {
    fn from(err: PublishedError) -> MirrorError {
        MirrorError::Client(err.into())
    }
}

impl From<crate::common::transport::FetchError> for MirrorError {
    fn from(err: crate::common::transport::FetchError) -> MirrorError {
        MirrorError::Client(err.into())
    }
}

impl From<crate::common::fsutil::IoError> for MirrorError {
    fn from(err: crate::common::fsutil::IoError) -> MirrorError {
        MirrorError::Client(err.into())
    }
}

impl MirrorError {
    pub fn class(&self) -> crate::common::diagnostic::ErrorClass {
        match self {
            MirrorError::Client(err) => err.class(),
            MirrorError::BadScope(_)
            | MirrorError::SignFull
            | MirrorError::SitePartial
            | MirrorError::SiteOverHttp(_)
            | MirrorError::Unpackable { .. } => crate::common::diagnostic::ErrorClass::Environment,
            MirrorError::SiteFileTooLarge(_)
            | MirrorError::SiteLink(_)
            | MirrorError::SiteFile { .. } => crate::common::diagnostic::ErrorClass::Data,
        }
    }
}

pub fn mirror(
    options: &MirrorOptions,
    progress: &dyn Progress,
) -> Result<MirrorReport, MirrorError> {
    check_request(options)?;
    if transport::is_archive_path(&options.dest) {
        mirror_to_archive(options, progress)
    } else {
        mirror_to_dir(options, progress)
    }
}

/// Mirrors into the working directory beside the archive, then packs it. The working directory
/// is removed only once the archive is in place, so a run killed at any point either leaves the
/// previous archive or resumes from the working directory; its lock is held until it is gone.
fn mirror_to_archive(
    options: &MirrorOptions,
    progress: &dyn Progress,
) -> Result<MirrorReport, MirrorError> {
    let mut work_name = options.dest.file_name().unwrap_or_default().to_owned();
    work_name.push(".mirroring");
    let work = options.dest.with_file_name(work_name);
    let mut replica = Replica::open(&work, Some(options.source.clone()), false)?;
    // The archive this run replaces, if it is a sound one, supplies every hash-named file it
    // still holds, so only what changed since is downloaded.
    if let Ok(previous) = archive::Archive::open(&options.dest) {
        replica = replica.seeded_from(previous);
    }
    let replica = Arc::new(replica);
    let mut report = mirror_into(options, &replica, progress)?;
    // What an earlier, killed run downloaded from a registry that has changed since is not
    // part of this one: the same registry gives the same archive, however it was reached.
    let swept = crate::client::gc::sweep(&replica, false, Default::default())?;
    if let Some(reason) = swept.skipped {
        return Err(MirrorError::Unpackable {
            work: work.display().to_string(),
            reason,
        });
    }
    progress.stage("writing the archive", 0, 1);
    let state_dir = format!("{}/", crate::client::replica::STATE_DIR);
    let written = archive::write(&work, &options.dest, |relative| {
        !relative.starts_with(&state_dir)
    })?;
    std::fs::remove_dir_all(&work).with_path("cannot remove", &work)?;
    drop(replica);
    report.archive = Some(ArchiveReport {
        files: written.files,
        bytes: written.bytes,
    });
    Ok(report)
}

fn mirror_to_dir(
    options: &MirrorOptions,
    progress: &dyn Progress,
) -> Result<MirrorReport, MirrorError> {
    let replica = Arc::new(Replica::open(
        &options.dest,
        Some(options.source.clone()),
        false,
    )?);
    mirror_into(options, &replica, progress)
}

/// Mirrors the source into `replica`, whose lock the caller holds.
fn mirror_into(
    options: &MirrorOptions,
    replica: &Arc<Replica>,
    progress: &dyn Progress,
) -> Result<MirrorReport, MirrorError> {
    let partial = !options.scopes.is_empty();
    let (root_bytes, root, state) = fetch_trusted_root(options, replica, partial, progress)?;
    // Refused before anything else is read: without a manifest, nothing says what the website
    // of a host that cannot list its files is.
    if options.site && root.site.is_none() && matches!(options.source, Source::Http(_)) {
        return Err(MirrorError::SiteOverHttp(options.source.describe()));
    }
    let registry = PublishedRegistry::from_root(replica.clone(), root_bytes.clone())?;
    let selected = select_experts(&registry, &options.scopes)?;
    let indexes = download_indexes_and_blobs(&registry, &selected, progress)?;
    let (versions, stale) = write_documents(replica, &registry, &indexes, progress)?;
    write_fixed_documents(replica)?;
    if !partial && let Some(log) = &root.log {
        let pin = log.pin().map_err(|message| PublishedError::Invalid {
            location: options.source.location(index::ROOT_PATH),
            message,
        })?;
        publog::copy(
            replica,
            &options.source,
            &pin,
            publog::held_pin(replica).as_ref(),
        )?;
    }
    let site_files = if options.site {
        Some(copy_site(options, replica, &root, progress)?)
    } else {
        None
    };
    write_root(options, replica, &root_bytes, &root, &selected, versions)?;
    // The website now is what the root's manifest lists.
    let marker = site_marker(replica);
    match std::fs::remove_file(&marker) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        other => other.with_path("cannot remove", &marker)?,
    }
    state
        .save(&replica.state_path())
        .map_err(ClientError::from)?;
    for path in stale {
        std::fs::remove_file(&path).with_path("cannot remove", &path)?;
    }
    let (downloaded, present) = replica.counts();
    Ok(MirrorReport {
        experts: selected.len(),
        versions,
        serial: root.serial,
        downloaded,
        present,
        partial,
        site_files,
        archive: None,
    })
}

/// Refuses a request that cannot be carried out, before anything is opened: a scope that is
/// not one, or keys to sign a full mirror, which keeps the source's signed root.
fn check_request(options: &MirrorOptions) -> Result<(), MirrorError> {
    for scope in &options.scopes {
        let valid = scope
            .strip_prefix('@')
            .is_some_and(|name| ExpertName::parse(&format!("@{name}/x")).is_ok());
        if !valid {
            return Err(MirrorError::BadScope(scope.clone()));
        }
    }
    if options.scopes.is_empty() && options.sign.is_some() {
        return Err(MirrorError::SignFull);
    }
    if options.site && !options.scopes.is_empty() {
        return Err(MirrorError::SitePartial);
    }
    Ok(())
}

/// The source's root, checked against the trusted keys and the trust state the replica
/// recorded, with the trust state to save once the mirror is complete. A partial mirror keeps
/// its copy of the source's root apart from its own.
fn fetch_trusted_root(
    options: &MirrorOptions,
    replica: &Replica,
    partial: bool,
    progress: &dyn Progress,
) -> Result<(Vec<u8>, RootDoc, TrustState), MirrorError> {
    let state = TrustState::load(&replica.state_path()).map_err(ClientError::from)?;
    let cached_root = if partial {
        UPSTREAM_ROOT_PATH
    } else {
        index::ROOT_PATH
    };
    progress.stage("reading the root", 0, 1);
    let (root_bytes, state) =
        cache::fetch_root(&options.source, replica, cached_root, &options.trust, state)?;
    let root = reader::parse_root(&options.source.location(index::ROOT_PATH), &root_bytes)?;
    Ok((root_bytes, root, state))
}

/// The experts to copy, by name with their index document hash: all of them, or those in
/// `scopes`. Every bin is read (through the replica, which downloads only the bins it lacks),
/// so a full mirror holds every file its copy of the root reaches.
fn select_experts(
    registry: &PublishedRegistry,
    scopes: &[String],
) -> Result<BTreeMap<String, Hash>, PublishedError> {
    Ok(registry
        .experts()?
        .into_iter()
        .filter(|(name, _)| {
            scopes.is_empty()
                || scopes
                    .iter()
                    .any(|scope| name.starts_with(&format!("{scope}/")))
        })
        .map(|(name, index)| (name, index.hash))
        .collect())
}

/// Reads the index documents of `selected`, then every blob they name, through the replica,
/// which downloads and verifies what it lacks. Returns the index documents.
fn download_indexes_and_blobs(
    registry: &PublishedRegistry,
    selected: &BTreeMap<String, Hash>,
    progress: &dyn Progress,
) -> Result<Vec<(String, Hash, IndexDoc)>, MirrorError> {
    progress.stage("index documents", 0, selected.len());
    let indexes: Vec<(String, Hash, IndexDoc)> = selected
        .par_iter()
        .map(|(name, hash)| Ok((name.clone(), *hash, registry.read_index_at(hash)?)))
        .collect::<Result<_, PublishedError>>()?;
    // Each blob with the size its index document gives, which bounds what is read of it.
    let blobs: BTreeSet<(Hash, u64)> = indexes
        .iter()
        .flat_map(|(_, _, doc)| doc.versions.values().map(|v| (v.blake3, v.size)))
        .collect();
    let total = blobs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    blobs.par_iter().try_for_each(|(hash, size)| {
        let step = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if step.is_multiple_of(256) {
            progress.stage("blobs", step, total);
        }
        registry.read_blob(hash, *size).map(drop)
    })?;
    Ok(indexes)
}

/// Writes each expert's readable index document and Perstack API documents. Returns how many
/// versions the experts have, and the API documents of versions no longer served, which the
/// caller removes once the new root is in place.
fn write_documents(
    replica: &Replica,
    registry: &PublishedRegistry,
    indexes: &[(String, Hash, IndexDoc)],
    progress: &dyn Progress,
) -> Result<(usize, Vec<PathBuf>), MirrorError> {
    progress.stage("documents", 0, indexes.len());
    let mut stale = Vec::new();
    let mut versions = 0;
    let existing = api::ExistingDocuments::list(&replica.dir);
    for (name, hash, doc) in indexes {
        versions += doc.versions.len();
        let Ok(expert) = ExpertName::parse(name) else {
            continue;
        };
        let index_bytes = reader::read_hashed_at_most(
            registry.reader.as_ref(),
            &index::index_path(hash),
            hash,
            reader::MAX_INDEX_BYTES,
        )?;
        replica.write(&expert.readable_index_path(), &index_bytes, false)?;
        stale.extend(write_api(replica, registry, &existing, &expert, hash, doc)?);
    }
    Ok((versions, stale))
}

/// Writes the documents every registry has once, whatever its experts: the fixed API
/// documents and the host's `_headers`.
fn write_fixed_documents(replica: &Replica) -> Result<(), MirrorError> {
    for (relative, bytes) in api::fixed_documents() {
        replica.write(relative, &bytes, false)?;
    }
    replica.write(
        crate::format::headers::HEADERS_PATH,
        crate::format::headers::headers_file().as_bytes(),
        false,
    )?;
    Ok(())
}

/// Copies the website the source's root pins, before the root is written (`copy_pinned_site`);
/// from a source whose root pins none, every file a listing finds (`copy_listed_site`).
/// Returns how many files the website has.
fn copy_site(
    options: &MirrorOptions,
    replica: &Replica,
    root: &RootDoc,
    progress: &dyn Progress,
) -> Result<usize, MirrorError> {
    let source = &options.source;
    match &root.site {
        Some(site) => {
            let pin = site.pin().map_err(|message| PublishedError::Invalid {
                location: source.location(index::ROOT_PATH),
                message,
            })?;
            copy_pinned_site(source, replica, &pin, progress)
        }
        None => copy_listed_site(source, replica, progress),
    }
}

/// The most bytes of changed website files a mirror holds in memory until every one is
/// verified, so that a refused file leaves the destination's website as it was. A larger change
/// (a first copy of a large website, which has no previous state to keep) is written file by
/// file as each is verified; the root is still written only after all of them.
const SITE_BUFFER_BYTES: u64 = 256 * 1024 * 1024;

/// Copies the website the manifest `pin` lists: reads the manifest documents the destination's
/// previous root did not pin (through the replica, which verifies and keeps them), then fetches
/// each file whose entry changed, no more than its listed size, and checks its BLAKE3 before it
/// is written. Files the destination has and the manifest no longer lists are left, as a build
/// leaves them (a cached page may still link to them).
fn copy_pinned_site(
    source: &Source,
    replica: &Replica,
    pin: &index::SitePin,
    progress: &dyn Progress,
) -> Result<usize, MirrorError> {
    progress.stage("website manifest", 0, 1);
    // After a run that wrote website files but not its root, the previous manifest no longer
    // says what the destination holds: every file is checked against its own bytes instead.
    let marker = site_marker(replica);
    let held = held_site(replica).filter(|_| !marker.exists());
    let local = Source::dir(&replica.dir);
    let changes = site_manifest::changes(
        replica,
        pin,
        held.as_ref()
            .map(|held| (&local as &dyn reader::Reader, held)),
    )?;
    let total: u64 = changes.iter().map(|change| change.new.size).sum();
    let store = total > SITE_BUFFER_BYTES;
    if store {
        fsutil::write_atomic(&marker, b"", false)?;
    }
    progress.stage("website", 0, changes.len());
    let fetched: Vec<Option<(String, Vec<u8>)>> = changes
        .par_iter()
        .map(|change| {
            let relative = change.path.as_str();
            if change.new.size > MAX_SITE_FILE_BYTES {
                return Err(MirrorError::SiteFileTooLarge(source.location(relative)));
            }
            if let Source::Dir(dir) = source
                && std::fs::symlink_metadata(dir.join(relative))
                    .is_ok_and(|meta| meta.file_type().is_symlink())
            {
                return Err(MirrorError::SiteLink(source.location(relative)));
            }
            let refused = |message: String| MirrorError::SiteFile {
                location: source.location(relative),
                message,
            };
            let (bytes, held) = replica
                .fetch_verified(relative, &change.new.hash, change.new.size, store)?
                .ok_or_else(|| refused("missing, but the website manifest lists it".to_owned()))?;
            let actual = Hash::of(&bytes);
            if actual != change.new.hash {
                return Err(refused(format!(
                    "content hashes to {actual} ({} bytes), but the website manifest lists {} ({} bytes)",
                    bytes.len(),
                    change.new.hash,
                    change.new.size
                )));
            }
            Ok((!held && !store).then(|| (change.path.clone(), bytes)))
        })
        .collect::<Result<_, MirrorError>>()?;
    let verified: Vec<(String, Vec<u8>)> = fetched.into_iter().flatten().collect();
    if !verified.is_empty() {
        fsutil::write_atomic(&marker, b"", false)?;
    }
    for (relative, bytes) in verified {
        replica.write(&relative, &bytes, false)?;
    }
    Ok(usize::try_from(pin.files).unwrap_or(usize::MAX))
}

/// Present while the destination's website may differ from what its root's manifest lists:
/// from before the first website file is written until the root is.
fn site_marker(replica: &Replica) -> PathBuf {
    replica
        .dir
        .join(crate::client::replica::STATE_DIR)
        .join("site-writing")
}

/// The website manifest the destination holds: the one its previous root pins, when its top
/// document is there (a mirror without `--with-site` copies none) and its format is the one
/// this program reads. It says which files the destination holds, so unchanged subtrees of the
/// new manifest are not read again.
fn held_site(replica: &Replica) -> Option<index::SitePin> {
    let bytes = replica.read_local(index::ROOT_PATH).ok().flatten()?;
    let root = reader::parse_root(index::ROOT_PATH, &bytes).ok()?;
    let pin = root.site?.pin().ok()?;
    replica
        .dir
        .join(index::site_manifest_path(&pin.top.hash))
        .is_file()
        .then_some(pin)
}

/// Copies every website file of a source whose root pins no manifest, as a listing finds them
/// (a directory or an archive; over HTTP nothing can be listed, and the copy is refused),
/// bounded in size and never through a link. No root vouches for these files.
fn copy_listed_site(
    source: &Source,
    replica: &Replica,
    progress: &dyn Progress,
) -> Result<usize, MirrorError> {
    let listed = source
        .list("")?
        .ok_or_else(|| MirrorError::SiteOverHttp(source.describe()))?;
    let files: Vec<String> = listed
        .into_iter()
        .filter(|f| site_manifest::is_site_file(f))
        .collect();
    progress.stage("website", 0, files.len());
    files.par_iter().try_for_each(|relative| {
        if let Source::Dir(dir) = source
            && std::fs::symlink_metadata(dir.join(relative))
                .is_ok_and(|meta| meta.file_type().is_symlink())
        {
            return Err(MirrorError::SiteLink(source.location(relative)));
        }
        let bytes = match source.get_at_most(relative, MAX_SITE_FILE_BYTES) {
            Err(crate::common::transport::FetchError::TooLarge { location, .. }) => {
                return Err(MirrorError::SiteFileTooLarge(location));
            }
            other => other?,
        };
        // Listed a moment ago; gone since, it is simply not copied.
        if let Some(bytes) = bytes {
            replica.write(relative, &bytes, false)?;
        }
        Ok(())
    })?;
    Ok(files.len())
}

/// Writes the root, last: the source's byte for byte for a full mirror, or for a partial one
/// bins and a root of their own over `selected`.
fn write_root(
    options: &MirrorOptions,
    replica: &Replica,
    root_bytes: &[u8],
    root: &RootDoc,
    selected: &BTreeMap<String, Hash>,
    versions: usize,
) -> Result<(), MirrorError> {
    if options.scopes.is_empty() {
        replica.write(index::ROOT_PATH, root_bytes, true)?;
    } else {
        let sign = options
            .sign
            .as_ref()
            .map(|(keys, days)| (keys.as_slice(), *days));
        replica.write_own_root(root_bytes, root, selected, versions, sign)?;
    }
    Ok(())
}

/// Writes an expert's Perstack API documents from its index document and blobs (already in
/// the replica), and returns the files of versions no longer served.
fn write_api(
    replica: &Replica,
    registry: &PublishedRegistry,
    existing: &api::ExistingDocuments,
    expert: &ExpertName,
    index_hash: &Hash,
    doc: &IndexDoc,
) -> Result<Vec<PathBuf>, MirrorError> {
    let mut blobs = Vec::new();
    for (version, entry) in &doc.versions {
        blobs.push((
            version.as_str(),
            entry,
            registry.read_blob(&entry.blake3, entry.size)?,
        ));
    }
    let documents = api_documents(expert, doc, &blobs).map_err(|message| {
        ClientError::Published(PublishedError::Invalid {
            location: registry.reader.location(&index::index_path(index_hash)),
            message,
        })
    })?;
    api::remove_legacy_bare_name(&replica.dir, expert).with_path(
        "cannot remove",
        &replica
            .dir
            .join(api::legacy_bare_name_path(expert.as_str())),
    )?;
    for document in &documents.versions {
        for path in document.paths() {
            replica.write(path, &document.bytes, false)?;
        }
    }
    if let Some((path, bytes)) = &documents.listing {
        replica.write(path, bytes, false)?;
    }
    let keep = documents.paths().cloned().collect();
    Ok(existing.stale(&replica.dir, expert, &keep))
}

/// The Perstack API documents of an expert, rendered from its index document and the bytes of
/// every version it lists, as the build renders them: what a mirror writes and `verify`
/// compares against.
pub fn api_documents(
    expert: &ExpertName,
    doc: &IndexDoc,
    blobs: &[(&str, &IndexVersion, Vec<u8>)],
) -> Result<api::Documents, String> {
    let mut versions: Vec<ApiVersion> = blobs
        .iter()
        .map(|(version, entry, bytes)| ApiVersion {
            version,
            status: entry.status,
            blake3: entry.blake3,
            bytes,
            published: entry.published.as_deref(),
        })
        .collect();
    // In SemVer order, as the build has them (the `/versions` list is that order reversed),
    // not the order of the version strings: 1.10.0 after 1.9.0, 1.1.0 after 1.1.0-beta.1.
    versions.sort_by_cached_key(|version| semver::Version::parse(version.version).ok());
    api::documents(&ApiExpert {
        name: expert,
        dist_tags: doc.tags().collect(),
        versions,
    })
}
