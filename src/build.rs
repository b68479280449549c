//! `build`: registry-data in, the static API out, atomically and incrementally.
//!
//! The stages run in the order the data flows: load and validate, render every document in
//! memory, compare with the registry published before (refusing, with nothing written, anything
//! the write-once rules forbid), then write. Writes go in a safe order (blobs, index documents,
//! snapshot, readable documents, the website, and the root last), each file by rename, so a
//! build killed at any moment leaves the previous registry valid and the next build completes
//! the work.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cache::BuildCache;
use crate::diagnostic::Diagnostic;
use crate::fsutil::{self, IoContext, IoError, Staging};
use crate::index::{self, Document, RootCounts};
use crate::load;
use crate::model::{ExpertName, Hash};
use crate::published::{PublishedError, PublishedRegistry};
use crate::site::page_cache::{self, PageCache};
use crate::site::{Site, SiteError, SiteInput};
use crate::validate::{self, Expert, Registry};
use crate::writeonce;

/// The directory in the output tree that holds the build's own state (lock, staging area,
/// cache). It is not part of the registry and need not be uploaded.
pub const STATE_DIR: &str = ".perstack-build";

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub data_dir: PathBuf,
    pub out_dir: PathBuf,
    /// The registry published before; `None` means the registry already in `out_dir`, if any.
    pub previous: Option<PathBuf>,
    pub use_cache: bool,
    /// Render the website besides the API.
    pub site: bool,
}

/// Receives progress; the library never prints.
pub trait Progress: Sync {
    fn stage(&self, name: &str, done: usize, total: usize);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &str, _: usize, _: usize) {}
}

#[derive(Debug)]
pub enum BuildOutcome {
    /// The data breaks a rule; nothing was written.
    Invalid(Vec<Diagnostic>),
    /// The data is valid but would change what was published; nothing was written.
    Refused(Vec<Diagnostic>),
    Built(BuildReport),
}

#[derive(Debug, Clone)]
pub struct BuildReport {
    pub experts: usize,
    pub versions: usize,
    pub serial: u64,
    /// Paths written, relative to the output directory, in the order they were written.
    pub written: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("previous registry: {0}")]
    Previous(#[from] PublishedError),
    #[error("{0}: another build is writing to this directory")]
    Locked(PathBuf),
    #[error("{path}: the file changed while the build was running; run the build again")]
    ChangedDuringBuild { path: PathBuf },
    #[error(transparent)]
    Site(#[from] SiteError),
}

/// Loads and validates `registry-data/` without writing anything.
pub fn check(data_dir: &Path) -> Result<(Option<Registry>, Vec<Diagnostic>), IoError> {
    let loaded = load::load(data_dir, None)?;
    Ok(validate::validate(loaded))
}

pub fn build(options: &BuildOptions, progress: &dyn Progress) -> Result<BuildOutcome, BuildError> {
    let state_dir = options.out_dir.join(STATE_DIR);
    fsutil::create_dir_all(&state_dir)?;
    let _lock = lock(&state_dir.join("lock"))?;
    let cache_path = state_dir.join("cache.json");
    let cache = options.use_cache.then(|| BuildCache::load(&cache_path));

    progress.stage("checking", 0, 1);
    let loaded = load::load(&options.data_dir, cache.as_ref())?;
    let (registry, problems) = validate::validate(loaded);
    let Some(registry) = registry else {
        return Ok(BuildOutcome::Invalid(problems));
    };

    let indexes: BTreeMap<&ExpertName, Document> = registry
        .experts
        .par_iter()
        .map(|(name, expert)| (name, index::expert_index(expert)))
        .collect();
    let index_hashes: BTreeMap<ExpertName, Hash> = indexes
        .iter()
        .map(|(name, doc)| ((*name).clone(), doc.hash))
        .collect();
    let snapshot = index::snapshot(&index_hashes);

    let existing = PublishedRegistry::open(&options.out_dir)?;
    let previous = match &options.previous {
        Some(dir) => {
            Some(
                PublishedRegistry::open(dir)?.ok_or_else(|| PublishedError::Invalid {
                    path: dir.join(index::ROOT_PATH),
                    message: "no registry here (the file is missing)".to_owned(),
                })?,
            )
        }
        None => existing.clone(),
    };
    if let Some(previous) = &previous {
        let violations = writeonce::check(&registry, &index_hashes, previous, &options.data_dir)?;
        if !violations.is_empty() {
            return Ok(BuildOutcome::Refused(violations));
        }
    }

    let serial = match &previous {
        None => 1,
        Some(p) if p.root.snapshot.blake3 == snapshot.hash => p.root.serial,
        Some(p) => p.root.serial + 1,
    };
    let root = index::root(
        &snapshot.hash,
        RootCounts {
            serial,
            experts: registry.experts.len(),
            versions: registry.version_count(),
        },
    );

    let staging = Staging::new(state_dir.join("staging"))?;
    let writer = Writer {
        out: &options.out_dir,
        staging: &staging,
        progress,
    };
    let changed: Vec<(&Expert, &Document)> = registry
        .experts
        .values()
        .map(|expert| (expert, &indexes[&expert.name]))
        .filter(|(expert, doc)| {
            existing
                .as_ref()
                .and_then(|e| e.experts.get(expert.name.as_str()))
                != Some(&doc.hash)
        })
        .collect();
    let mut written = writer.blobs(&changed)?;
    written.extend(
        writer.hashed(
            "index",
            changed
                .iter()
                .map(|(_, doc)| (index::index_path(&doc.hash), *doc)),
        )?,
    );
    written.extend(writer.hashed(
        "snapshot",
        [(index::snapshot_path(&snapshot.hash), &snapshot)],
    )?);
    for (expert, doc) in &changed {
        let path = expert.name.readable_index_path();
        if staging.write_if_changed(&options.out_dir.join(&path), &doc.bytes, false)? {
            written.push(path);
        }
    }
    if options.site {
        let site = Site::prepare(SiteInput {
            registry: &registry,
            snapshot: snapshot.hash,
            serial,
            index_hashes: &index_hashes,
            previous: previous.as_ref(),
        })?;
        let pages_path = state_dir.join(page_cache::FILE_NAME);
        let pages = options.use_cache.then(|| PageCache::load(&pages_path));
        written.extend(writer.site(&site, pages.as_ref())?);
        if let Some(pages) = pages {
            pages.save(&pages_path)?;
        }
    }
    let headers_path = options.out_dir.join("_headers");
    if staging.write_if_changed(&headers_path, index::headers_file().as_bytes(), false)? {
        written.push("_headers".to_owned());
    }
    let root_path = options.out_dir.join(index::ROOT_PATH);
    if staging.write_if_changed(&root_path, &root.bytes, true)? {
        written.push(index::ROOT_PATH.to_owned());
    }
    if let Some(cache) = cache {
        cache.save(&cache_path)?;
    }
    Ok(BuildOutcome::Built(BuildReport {
        experts: registry.experts.len(),
        versions: registry.version_count(),
        serial,
        written,
        warnings: problems,
    }))
}

/// Takes the build lock, which the operating system releases if the process dies.
fn lock(path: &Path) -> Result<File, BuildError> {
    let file = File::create(path).with_path("cannot create lock file", path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(BuildError::Locked(path.to_path_buf())),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(IoError::new("cannot lock", path, err).into())
        }
    }
}

struct Writer<'a> {
    out: &'a Path,
    staging: &'a Staging,
    progress: &'a dyn Progress,
}

impl Writer<'_> {
    /// Copies the version files of changed experts into content-addressed blobs, re-hashing
    /// each one: a file edited since it was checked must not be published under the old hash.
    fn blobs(&self, changed: &[(&Expert, &Document)]) -> Result<Vec<String>, BuildError> {
        let versions: Vec<_> = changed
            .iter()
            .flat_map(|(expert, _)| expert.versions.values())
            .collect();
        let total = versions.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let written: Vec<Option<String>> = versions
            .par_iter()
            .map(|published| {
                let record = &published.record;
                let relative = index::blob_path(&record.blake3);
                let target = self.out.join(&relative);
                let step = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if step.is_multiple_of(1024) {
                    self.progress.stage("writing", step, total);
                }
                if target.exists() {
                    return Ok(None);
                }
                let bytes = fsutil::read(&published.path)?;
                if Hash::of(&bytes) != record.blake3 {
                    return Err(BuildError::ChangedDuringBuild {
                        path: published.path.clone(),
                    });
                }
                let wrote = self.staging.write_if_absent(&target, &bytes)?;
                Ok(wrote.then_some(relative))
            })
            .collect::<Result<_, BuildError>>()?;
        let mut written: Vec<String> = written.into_iter().flatten().collect();
        written.sort();
        written.dedup();
        Ok(written)
    }

    /// Renders and writes the website, wave by wave so no page links to a file not yet
    /// written, rewriting only the files whose bytes changed and skipping the pages the cache
    /// knows are unchanged.
    fn site(&self, site: &Site<'_>, cache: Option<&PageCache>) -> Result<Vec<String>, SiteError> {
        let mut written = Vec::new();
        for wave in site.waves() {
            self.progress.stage("site", 0, wave.len());
            let wrote: Vec<Option<String>> = wave
                .into_par_iter()
                .map(|page| {
                    if let (Some(cache), Some((path, key))) = (cache, site.page_key(page))
                        && cache.is_fresh(self.out, &path, key)
                    {
                        return Ok(None);
                    }
                    let (relative, bytes) = site.render(page)?;
                    let changed =
                        self.staging
                            .write_if_changed(&self.out.join(&relative), &bytes, false)?;
                    Ok(changed.then_some(relative))
                })
                .collect::<Result<_, SiteError>>()?;
            let mut wrote: Vec<String> = wrote.into_iter().flatten().collect();
            wrote.sort();
            written.extend(wrote);
        }
        Ok(written)
    }

    /// Writes hash-named documents that do not exist yet.
    fn hashed<'d>(
        &self,
        stage: &str,
        documents: impl IntoIterator<Item = (String, &'d Document)>,
    ) -> Result<Vec<String>, IoError> {
        let documents: Vec<_> = documents.into_iter().collect();
        self.progress.stage(stage, 0, documents.len());
        let written: Vec<Option<String>> = documents
            .into_par_iter()
            .map(|(relative, doc)| {
                let wrote = self
                    .staging
                    .write_if_absent(&self.out.join(&relative), &doc.bytes)?;
                Ok(wrote.then_some(relative))
            })
            .collect::<Result<_, IoError>>()?;
        Ok(written.into_iter().flatten().collect())
    }
}
