//! `build`: registry-data in, the static API out, atomically and incrementally.
//!
//! The stages run in the order the data flows: load and validate, render every index document
//! to learn its hash (and so the bins and root), compare with the registry published before
//! (refusing, with nothing written, anything the write-once rules forbid), then write. The
//! comparison follows only the bins whose hashes changed, so its work grows with the change,
//! not with the registry. Writes go in a safe order (blobs with the Perstack API documents, read
//! from each version file once; index documents, bins, readable documents, the website, and the
//! root last). No file is rewritten in place (see
//! [`Staging`]), so a build killed at any moment leaves the previous registry valid and the
//! next build completes the work. The deploy plan (`plan`) records the files new relative to
//! the previous registry in the order a host should receive them.

pub mod delta;
pub mod log;
pub mod plan;
pub mod spool;
pub mod unchanged;
pub mod writeonce;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde_json::{Value, json};

use crate::common::diagnostic::{Diagnostic, Severity};
use crate::common::fsutil::{self, IoContext, IoError, Staging};
use crate::common::json::Document;
use crate::common::model::{ExpertName, Hash, Status};
use crate::common::progress::Progress;
use crate::common::signing::{self, PublicKey, SecretKey};
use crate::common::timestamp;
use crate::common::transport::Source;
use crate::data::build_cache;
use crate::data::git_changes;
use crate::data::load;
use crate::data::validate::{self, Expert, Registry};
use crate::format::api::{self, ApiExpert, ApiVersion};
use crate::format::index::{self, BinTree, IndexRef, RootCounts};
use crate::format::reader::{Diff, PublishedError, PublishedRegistry};
use crate::format::site_manifest;
use crate::site::page_cache::{self, PageCache};
use crate::site::{Site, SiteError, SiteInput};
use plan::Plan;

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub data_dir: PathBuf,
    pub out_dir: PathBuf,
    /// The registry published before (a directory or URL); `None` means the registry already in
    /// `out_dir`, if any.
    pub previous: Option<Source>,
    pub use_cache: bool,
    /// Render the website besides the API.
    pub site: bool,
    /// Sign the root with these keys; `None` writes an unsigned root.
    pub signing: Option<Signing>,
}

/// How to sign the root.
#[derive(Debug, Clone)]
pub struct Signing {
    pub keys: Vec<SecretKey>,
    /// How long a freshly signed root stays valid.
    pub expires_in_days: u32,
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
    /// How many files this build wrote. (A count, not the list: the list grows with the
    /// registry, and the plan already names the files a deploy needs.)
    pub files_written: usize,
    /// How many files are new relative to the previous registry, by kind; the files themselves,
    /// in safe upload order, are in `.perstack-build/plan.json` ([`plan::read_each`]).
    pub plan: plan::Summary,
    pub warnings: Vec<Diagnostic>,
    /// Whether git showed nothing had changed since the last build, which was returned as it
    /// was ([`unchanged`]).
    pub unchanged: bool,
    /// When Watchman or git named the changed experts and only they were read ([`delta`]), how
    /// many.
    pub read_changed_only: Option<usize>,
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
    #[error("Perstack API document: {0}")]
    Api(String),
    /// A bug: something that cannot happen did; nothing the data can cause.
    #[error("internal error, please report it: {0}")]
    Internal(String),
    #[error("cannot sign the root: {0}")]
    Signing(String),
    #[error(transparent)]
    Site(#[from] SiteError),
}

/// Runs the build: takes the lock, loads and validates the data, decides what to publish,
/// writes it with the root last, then removes what the new root no longer serves and records
/// the deploy plan.
pub fn build(options: &BuildOptions, progress: &dyn Progress) -> Result<BuildOutcome, BuildError> {
    let state_dir = options.out_dir.join(crate::format::STATE_DIR);
    fsutil::create_real_dir(&state_dir)?;
    let _lock = lock(&state_dir.join("lock"))?;
    Plan::remove(&options.out_dir)?;
    let marker = state_dir.join(WRITING_MARKER);
    let watch = unchanged::watch(options);
    let baseline = unchanged::baseline(options, &state_dir, marker.exists(), watch.as_ref());
    if let Some(baseline) = &baseline
        && unchanged::skippable(baseline, options, signed_root_still_good)
    {
        let record = &baseline.record;
        let plan = Plan::new(&options.out_dir, record.serial)?.write()?;
        return Ok(BuildOutcome::Built(BuildReport {
            experts: record.experts,
            versions: record.versions,
            serial: record.serial,
            files_written: 0,
            plan,
            warnings: Vec::new(),
            unchanged: true,
            read_changed_only: None,
        }));
    }
    // Removed before anything is written, so a build killed from here on leaves no record
    // that the next one could take for a description of the output.
    unchanged::forget(&state_dir)?;
    let partial = match &baseline {
        Some(baseline) => delta::load(options, baseline)?,
        None => None,
    };
    let read_changed_only = partial.as_ref().map(|p| p.registry.experts.len());
    let (registry, problems, clean_commit, whole) = match partial {
        Some(partial) => (
            partial.registry,
            Vec::new(),
            partial.clean_commit,
            Some(partial.whole),
        ),
        None => {
            let Checked {
                registry,
                problems,
                clean_commit,
            } = load_and_validate(options, &state_dir, progress)?;
            let Some(registry) = registry else {
                return Ok(BuildOutcome::Invalid(problems));
            };
            (registry, problems, clean_commit, None)
        }
    };
    let decision = match decide(options, &registry, whole, problems)? {
        Decided::Refused(violations) => return Ok(BuildOutcome::Refused(violations)),
        Decided::Publish(decision) => *decision,
    };

    // The staging marker stays until the plan is written, so a build killed at any point
    // after this is recovered from by the next one.
    let staging = Staging::for_build(&options.out_dir, marker)?;
    let writer = Writer {
        out: &options.out_dir,
        staging: &staging,
        progress,
    };
    let mut written = write_before_root(options, &state_dir, &writer, &registry, &decision)?;
    written.files += writer.checkpoint(&decision.log)?;
    written.files += writer.root(written.root.as_ref().unwrap_or(&decision.root))?;
    remove_stale_api_documents(&written.api_stale)?;
    let plan = written.plan.write()?;
    drop(staging);
    let counts = (decision.experts, decision.versions, decision.serial);
    // A build with warnings is not skipped next time, so they are shown again.
    let skippable = clean_commit.filter(|_| decision.warnings.is_empty());
    unchanged::save(options, &state_dir, watch, skippable, counts)?;
    Ok(BuildOutcome::Built(BuildReport {
        experts: counts.0,
        versions: counts.1,
        serial: counts.2,
        files_written: written.files,
        plan,
        warnings: decision.warnings,
        unchanged: false,
        read_changed_only,
    }))
}

/// The data, loaded and validated.
struct Checked {
    /// None when the data breaks a rule.
    registry: Option<Registry>,
    problems: Vec<Diagnostic>,
    /// The commit the data matched exactly, if git knows one.
    clean_commit: Option<String>,
}

/// Loads `registry-data/`, reading the build cache while the directory is walked, and
/// validates it. Returns no registry when the data breaks a rule; otherwise saves the cache if
/// it changed.
fn load_and_validate(
    options: &BuildOptions,
    state_dir: &Path,
    progress: &dyn Progress,
) -> Result<Checked, BuildError> {
    let cache_path = state_dir.join(build_cache::FILE_NAME);
    let (loaded, cache) = load::load_with_cache(
        &options.data_dir,
        options.use_cache.then_some(cache_path.as_path()),
        &|done, total| progress.stage("checking", done, total),
    )?;
    let clean_commit = cache.as_ref().and_then(|cache| cache.clean_commit.clone());
    let (registry, problems) = validate::validate(loaded);
    let Some(registry) = registry else {
        return Ok(Checked {
            registry: None,
            problems,
            clean_commit: None,
        });
    };
    // A file with a warning is left out of the cache and its expert walked again next time,
    // so every build reads it and shows the warning again, as the first did.
    let warned: BTreeSet<&Path> = problems
        .iter()
        .filter(|problem| problem.severity == Severity::Warning)
        .map(|problem| problem.file.as_path())
        .collect();
    // Saved now, not after writing, so its lookup table is freed before the documents are
    // rendered: the cache records file contents, which the rest of the build cannot change.
    if let Some(cache) = cache
        && (!cache.fully_reused() || !warned.is_empty())
    {
        let mut git = cache.next_git.clone();
        drop(cache);
        if let Some(git) = &mut git {
            let expert_dirs = warned.iter().filter_map(|file| {
                let relative = file.strip_prefix(&options.data_dir).ok()?.to_str()?;
                git_changes::expert_dir_of(relative)
            });
            git.reread.extend(expert_dirs.map(str::to_owned));
        }
        let entries = registry
            .cache_entries()
            .filter(|(path, ..)| !warned.contains(path));
        build_cache::save(&cache_path, git.as_ref(), entries)?;
    }
    Ok(Checked {
        registry: Some(registry),
        problems,
        clean_commit,
    })
}

/// What a build that loaded only the changed experts ([`delta`]) knows of the whole registry.
struct Whole {
    /// The registry in the output directory, which the bins were patched from: its bins on
    /// the changed paths are already read.
    existing: PublishedRegistry,
    /// The published bins patched with the changed experts.
    bins: BinTree,
    experts: usize,
    versions: usize,
}

/// Whether the registry may be published, decided before anything is written.
enum Decided<'r> {
    /// The data would change what was published.
    Refused(Vec<Diagnostic>),
    Publish(Box<Decision<'r>>),
}

/// What this build publishes, and what it is compared with.
struct Decision<'r> {
    /// The registry already in `out`, if any.
    existing: Option<PublishedRegistry>,
    /// The registry published before: `--previous`, or else `existing`.
    previous: Option<PublishedRegistry>,
    /// The experts whose index document `out` does not hold yet, with its hash.
    changed: Vec<(&'r Expert, Hash)>,
    index_hashes: BTreeMap<ExpertName, Hash>,
    bins: BinTree,
    /// The bins `out` does not hold yet.
    new_bins: BTreeSet<Hash>,
    /// What differs from the registry published before (everything, when there is none).
    from_previous: Changes,
    /// The publish log's new files and checkpoint, which the root pins.
    log: log::LogUpdate,

    serial: u64,
    /// How many experts and versions the registry holds.
    experts: usize,
    versions: usize,
    root: Document,
    warnings: Vec<Diagnostic>,
}

/// What differs between the registry being built and a published one, owned so the decision
/// can keep it beside the bins it was computed from.
#[derive(Debug, Default)]
pub struct Changes {
    /// Experts whose index document differs: the published one and the new one (`None` where
    /// the expert is absent).
    pub experts: BTreeMap<String, (Option<IndexRef>, Option<IndexRef>)>,
    /// The bins the published registry lacks.
    pub bins: BTreeSet<Hash>,
}

impl Changes {
    fn of(diff: Diff<'_>) -> Changes {
        Changes {
            experts: diff.experts,
            bins: diff.bins.iter().map(|bin| bin.document.hash).collect(),
        }
    }

    /// Everything in `bins`: what differs from no registry at all.
    fn everything(bins: &BinTree, indexes: &[(&Expert, IndexRef)]) -> Changes {
        Changes {
            experts: indexes
                .iter()
                .map(|(expert, index)| (expert.name.to_string(), (None, Some(*index))))
                .collect(),
            bins: bins.bins().iter().map(|bin| bin.document.hash).collect(),
        }
    }

    /// Compares `published` (if any) with the registry about to be built.
    fn between(
        published: Option<&PublishedRegistry>,
        bins: &BinTree,
        indexes: &[(&Expert, IndexRef)],
    ) -> Result<Changes, PublishedError> {
        Ok(match published {
            Some(published) => Changes::of(published.diff(bins)?),
            None => Changes::everything(bins, indexes),
        })
    }
}

/// Renders every index document for its hash, and from the hashes the bins; refuses what the
/// write-once rules forbid; then settles the serial and the root. `whole` is what a build that
/// loaded only the changed experts knows of the rest ([`delta`]): then `registry` holds the
/// changed experts only.
fn decide<'r>(
    options: &BuildOptions,
    registry: &'r Registry,
    whole: Option<Whole>,
    problems: Vec<Diagnostic>,
) -> Result<Decided<'r>, BuildError> {
    let (existing, whole) = match whole {
        Some(Whole {
            existing,
            bins,
            experts,
            versions,
        }) => (Some(existing), Some((bins, experts, versions))),
        None => (
            PublishedRegistry::open(Arc::new(Source::dir(&options.out_dir)))?,
            None,
        ),
    };
    let indexes = hash_indexes(registry);
    let index_hashes: BTreeMap<ExpertName, Hash> = indexes
        .iter()
        .map(|(expert, index)| (expert.name.clone(), index.hash))
        .collect();
    let (bins, experts, versions) = match whole {
        Some(whole) => whole,
        None => {
            let bins = BinTree::build(
                indexes
                    .iter()
                    .map(|(expert, index)| (expert.name.to_string(), *index)),
            );
            (bins, registry.experts.len(), registry.version_count())
        }
    };
    let from_existing = Changes::between(existing.as_ref(), &bins, &indexes)?;

    let previous = open_previous(options, &existing)?;
    let from_previous = match &options.previous {
        Some(_) => Changes::between(previous.as_ref(), &bins, &indexes)?,
        None => Changes {
            experts: from_existing.experts.clone(),
            bins: from_existing.bins.clone(),
        },
    };
    if let Some(previous) = &previous {
        let violations = writeonce::check(registry, &from_previous, previous, &options.data_dir)?;
        if !violations.is_empty() {
            return Ok(Decided::Refused(violations));
        }
    }
    let no_keys = Vec::new();
    let log = match log::update(
        &log::Sources {
            out_dir: &options.out_dir,
            data_dir: &options.data_dir,
            previous: previous.as_ref(),
            existing: existing.as_ref(),
            previous_elsewhere: options.previous.is_some(),
        },
        registry,
        &from_previous,
        options.signing.as_ref().map_or(&no_keys, |s| &s.keys),
    )? {
        log::Logged::Refused(violations) => return Ok(Decided::Refused(violations)),
        log::Logged::Update(update) => *update,
    };

    let serial = match &previous {
        None => 1,
        Some(p) if p.root.published() == bins.top.document.hash => p.root.serial,
        // A registry cannot have published u64::MAX roots; a previous root claiming it is
        // refused rather than wrapped to 0, which every client would take for a rollback.
        Some(p) => p.root.serial.checked_add(1).ok_or_else(|| {
            BuildError::Previous(crate::format::reader::PublishedError::Invalid {
                location: p.reader.location(index::ROOT_PATH),
                message: format!(
                    "serial {} is the highest a root can have; this is not the registry published before",
                    p.root.serial
                ),
            })
        })?,
    };
    let counts = RootCounts {
        serial,
        experts,
        versions,
    };
    let mut warnings = problems;
    let root = root(
        options,
        registry,
        existing.as_ref(),
        &bins,
        counts,
        Pins {
            log: &log.pin,
            // The website's pin is known once it is rendered: `write_site` settles the root
            // again.
            site: None,
        },
        &mut warnings,
    )?;
    // An expert `out` lacks is one whose index document differs from the one `out` lists.
    let changed = indexes
        .into_iter()
        .filter(|(expert, _)| from_existing.experts.contains_key(expert.name.as_str()))
        .map(|(expert, index)| (expert, index.hash))
        .collect();
    Ok(Decided::Publish(Box::new(Decision {
        existing,
        previous,
        changed,
        index_hashes,
        bins,
        new_bins: from_existing.bins,
        from_previous,
        log,
        serial,
        experts,
        versions,
        root,
        warnings,
    })))
}

/// Each expert's index document hash and size. Only those are kept: documents to write are
/// rendered again when written, rather than held through the writing of the blobs, which would
/// raise the build's peak memory.
fn hash_indexes(registry: &Registry) -> Vec<(&Expert, IndexRef)> {
    registry
        .experts
        .par_iter()
        .map(|(_, expert)| (expert, IndexRef::of(&index::expert_index(expert))))
        .collect()
}

/// The registry published before: the one `--previous` names, which must exist, or else the
/// one already in `out`.
fn open_previous(
    options: &BuildOptions,
    existing: &Option<PublishedRegistry>,
) -> Result<Option<PublishedRegistry>, BuildError> {
    Ok(match &options.previous {
        Some(source) => Some(
            PublishedRegistry::open(Arc::new(source.clone()))?.ok_or_else(|| {
                PublishedError::Invalid {
                    location: source.location(index::ROOT_PATH),
                    message: "no registry here (the file is missing)".to_owned(),
                }
            })?,
        ),
        None => existing.clone(),
    })
}

/// What the root pins besides the bins: the publish log, and the website manifest once the
/// website is rendered.
struct Pins<'a> {
    log: &'a crate::format::log::LogPin,
    site: Option<&'a index::SitePin>,
}

/// The root: signed with the build's keys, or unsigned, with a warning when the root in `out`
/// was signed.
fn root(
    options: &BuildOptions,
    registry: &Registry,
    existing: Option<&PublishedRegistry>,
    bins: &BinTree,
    counts: RootCounts,
    Pins { log, site }: Pins<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Document, BuildError> {
    match &options.signing {
        None => {
            if existing.is_some_and(|e| !e.root.signatures.is_empty()) {
                warnings.push(Diagnostic::warning(
                    "unsigned-root",
                    &options.out_dir.join(index::ROOT_PATH),
                    "the previous root was signed, but this build writes an unsigned one, which clients that trust the registry refuse; pass --sign-key-env",
                ));
            }
            Ok(index::root(bins, counts, Some(log), site))
        }
        Some(signing) => signed_root(
            index::root_value(bins, counts, Some(log), site),
            &registry.settings.trust_keys,
            signing,
            existing.map(|e| e.root_bytes.as_slice()),
        ),
    }
}

/// What the writing stages before the root leave for the last steps.
struct Written {
    plan: Plan,
    /// How many files were written.
    files: usize,
    /// API documents of versions no longer served, removed once the new root is in place.
    api_stale: Vec<PathBuf>,
    /// The root pinning the website, when this build renders one; otherwise the decision's.
    root: Option<Document>,
}

/// Writes everything the root points at, each stage after what it points at: blobs and API
/// documents, index documents, the bins, the website, then the documents every registry
/// has once. The deploy plan is computed beside the first stage.
fn write_before_root(
    options: &BuildOptions,
    state_dir: &Path,
    writer: &Writer<'_>,
    registry: &Registry,
    decision: &Decision<'_>,
) -> Result<Written, BuildError> {
    let (mut plan, mut files, api_stale) = write_versions_beside_plan(writer, registry, decision)?;
    files += writer.indexes(&decision.changed)?;
    files += writer
        .hashed(
            "bins",
            decision
                .bins
                .bins()
                .into_iter()
                .filter(|bin| decision.new_bins.contains(&bin.document.hash))
                .map(|bin| (index::bin_path(&bin.document.hash), &bin.document)),
        )?
        .len();
    files += writer.log_tiles(&decision.log)?;
    plan.add_all(plan::Kind::Tile, &decision.log.new_tiles)?;
    plan.add_all(plan::Kind::LogHint, decision.log.changed_hints())?;
    if decision.log.checkpoint_changed {
        plan.add(plan::Kind::Checkpoint, crate::format::log::CHECKPOINT_PATH)?;
    }
    let root = if options.site {
        let (site_files, root) =
            write_site(options, state_dir, writer, registry, decision, &mut plan)?;
        files += site_files;
        Some(root)
    } else {
        None
    };
    files += writer.fixed_documents()?;
    Ok(Written {
        plan,
        files,
        api_stale,
        root,
    })
}

/// Writes the blobs and API documents of the experts that changed while the deploy plan is
/// computed. Returns the plan, how many files were written, and the stale API documents.
fn write_versions_beside_plan(
    writer: &Writer<'_>,
    registry: &Registry,
    decision: &Decision<'_>,
) -> Result<(Plan, usize, Vec<PathBuf>), BuildError> {
    // API documents are derived from the index documents and blobs, so they change exactly
    // when an expert's index document does, except when this build renders them in another
    // format than the one in `out`: then every expert's are written again.
    let existing = decision.existing.as_ref();
    let api_current = existing
        .map(|e| api::format_is_current(e.reader.as_ref()))
        .transpose()?
        .unwrap_or(false);
    let changed_experts: Vec<&Expert> = if api_current {
        decision.changed.iter().map(|(expert, _)| *expert).collect()
    } else {
        registry.experts.values().collect()
    };
    let mut plan = Plan::new(writer.out, decision.serial)?;
    let compute_plan = || {
        plan::compute(
            &plan::Built {
                registry,
                bins: &decision.bins,
                changes: &decision.from_previous,
                root: &decision.root,
            },
            decision.previous.as_ref(),
            &mut plan,
        )
    };
    // The plan reads only what the registry published before, which this build never
    // rewrites, so it is computed beside the first and longest stage of writing rather than
    // after it: it looks at every file of the registry one at a time.
    let (planned, versions) = rayon::join(compute_plan, || {
        writer.versions(&changed_experts, existing.filter(|_| api_current))
    });
    planned?;
    let (files, api_stale) = versions?;
    Ok((plan, files, api_stale))
}

/// Renders and writes the website and its manifest, and adds the files written to the plan.
/// Returns how many files were written and the root, which pins the manifest.
fn write_site(
    options: &BuildOptions,
    state_dir: &Path,
    writer: &Writer<'_>,
    registry: &Registry,
    decision: &Decision<'_>,
    plan: &mut Plan,
) -> Result<(usize, Document), BuildError> {
    let site = Site::prepare(SiteInput {
        registry,
        published: decision.bins.top.document.hash,
        serial: decision.serial,
        index_hashes: &decision.index_hashes,
        changed: &decision.from_previous.experts,
        previous: decision.previous.as_ref(),
    })?;
    let pages_path = state_dir.join(page_cache::FILE_NAME);
    // After a killed build, a page the cache calls fresh may be one the killed build left
    // torn, so every page is rendered and compared instead.
    let pages =
        (options.use_cache && !writer.staging.recovering()).then(|| PageCache::load(&pages_path));
    let rendered = writer.site(&site, pages.as_ref())?;
    // Pages have no identity to compare with a deployed copy cheaply, so the plan lists the
    // site files this build wrote: every one of them when building into a fresh directory,
    // as deploys do. The manifest's documents likewise.
    plan.add_all(plan::Kind::Site, &rendered.written)?;
    let manifest = site_manifest::Manifest::build(rendered.files);
    let manifest_written = writer.hashed("site manifest", manifest.documents())?;
    plan.add_all(plan::Kind::SiteManifest, &manifest_written)?;
    if let Some(pages) = pages {
        pages.save(&pages_path)?;
    }
    let counts = RootCounts {
        serial: decision.serial,
        experts: decision.experts,
        versions: decision.versions,
    };
    // The decision's root said the same but for the website; any warning it gave is given.
    let root = root(
        options,
        registry,
        decision.existing.as_ref(),
        &decision.bins,
        counts,
        Pins {
            log: &decision.log.pin,
            site: Some(&manifest.pin()),
        },
        &mut Vec::new(),
    )?;
    plan.set_root(&root, decision.previous.as_ref())?;
    Ok((rendered.written.len() + manifest_written.len(), root))
}

/// Removes the API documents of versions no longer served, once the new root is in place.
fn remove_stale_api_documents(paths: &[PathBuf]) -> Result<(), IoError> {
    for path in paths {
        match std::fs::remove_file(path) {
            // Derived from the previous index documents, a stale path may already be gone.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            other => other.with_path("cannot remove", path)?,
        }
    }
    Ok(())
}

/// The signed root: the existing one when it says the same thing, is signed by the same keys
/// and is not yet in the second half of its validity; otherwise a fresh one. Keeping it means a
/// build with no change writes nothing; re-signing keeps the serial, which counts changes of
/// the top bin.
fn signed_root(
    mut unsigned: Value,
    trust_keys: &[String],
    signing: &Signing,
    existing: Option<&[u8]>,
) -> Result<Document, BuildError> {
    let Window {
        signers,
        now,
        window,
    } = Window::of(signing).map_err(BuildError::Signing)?;
    let keys: Vec<String> = if trust_keys.is_empty() {
        signers.iter().cloned().collect()
    } else {
        trust_keys.to_vec()
    };
    if let Some(unlisted) = signers.iter().find(|k| !keys.contains(k)) {
        return Err(BuildError::Signing(format!(
            "the signing key {unlisted} is not listed in [trust] keys of registry.toml"
        )));
    }
    unsigned["keys"] = json!(keys);
    if let Some(old) = existing.filter(|old| still_good(old, &unsigned, &signers, now, window)) {
        return Ok(Document {
            bytes: old.to_vec(),
            hash: Hash::of(old),
        });
    }
    let mut root = unsigned;
    root["expires"] = json!(timestamp::format(now + window));
    root["signatures"] = json!([]);
    signing::sign_root(&mut root, &signing.keys);
    Ok(Document::render(&root))
}

/// Whether a signed root may be served again as it is by a build that changes nothing: signed by
/// exactly `signing`'s keys and not yet in the second half of its validity.
fn signed_root_still_good(old: &[u8], signing: &Signing) -> bool {
    let Ok(mut unsigned) = serde_json::from_slice::<Value>(old) else {
        return false;
    };
    if let Some(object) = unsigned.as_object_mut() {
        object.remove("expires");
        object.remove("signatures");
    }
    let Ok(Window {
        signers,
        now,
        window,
    }) = Window::of(signing)
    else {
        return false;
    };
    still_good(old, &unsigned, &signers, now, window)
}

/// Who signs a root this build, and when it is valid from and for how long.
struct Window {
    /// The signing keys' public halves.
    signers: BTreeSet<String>,
    /// The build's time (`SOURCE_DATE_EPOCH` or the clock), in seconds since the epoch.
    now: i64,
    /// How long a freshly signed root stays valid, in seconds.
    window: i64,
}

impl Window {
    fn of(signing: &Signing) -> Result<Window, String> {
        Ok(Window {
            signers: signing
                .keys
                .iter()
                .map(|k| k.public().to_string())
                .collect(),
            now: timestamp::build_time()?,
            window: i64::from(signing.expires_in_days) * 86_400,
        })
    }
}

/// Whether an existing signed root says what `unsigned` says, carries a valid signature by
/// each of `signers` and by no other key, is not in the second half of its validity, and does
/// not outlive the validity asked for now.
fn still_good(
    old: &[u8],
    unsigned: &Value,
    signers: &BTreeSet<String>,
    now: i64,
    window: i64,
) -> bool {
    let Ok(old) = serde_json::from_slice::<Value>(old) else {
        return false;
    };
    let mut content = old.clone();
    if let Some(object) = content.as_object_mut() {
        object.remove("expires");
        object.remove("signatures");
    }
    let message = signing::signed_bytes(&old);
    let signatures = old["signatures"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let verified: BTreeSet<String> = signatures
        .iter()
        .filter_map(|sig| {
            let keyid = sig["keyid"].as_str()?;
            let key = PublicKey::parse(keyid).ok()?;
            key.verifies(&message, sig["sig"].as_str()?)
                .then(|| keyid.to_owned())
        })
        .collect();
    let expires = old["expires"].as_str().and_then(timestamp::parse);
    content == *unsigned
        && signatures.len() == signers.len()
        && verified == *signers
        && expires.is_some_and(|expires| expires - now > window / 2 && expires - now <= window)
}

/// The staging marker in the state directory: present while a build writes, so its presence
/// at the start of a build means the last one was killed.
const WRITING_MARKER: &str = "writing";

/// Takes the build lock, which the operating system releases if the process dies.
fn lock(path: &Path) -> Result<File, BuildError> {
    let file = fsutil::create_private_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(BuildError::Locked(path.to_path_buf())),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(IoError::new("cannot lock", path, err).into())
        }
    }
}

/// What writing the website gave: the files written, and every file with its hash and size.
struct SiteFiles {
    written: Vec<String>,
    files: Vec<(String, IndexRef)>,
}

struct Writer<'a> {
    out: &'a Path,
    staging: &'a Staging,
    progress: &'a dyn Progress,
}

impl Writer<'_> {
    /// Writes what each changed expert's version files give: the content-addressed blobs and
    /// the Perstack API documents (`api`). Each version file is read once for both and
    /// re-hashed: a file edited since it was checked must not be published under the old hash.
    ///
    /// Returns how many files were written and the API documents of versions no longer served,
    /// which the caller removes once the new root is in place, so the registry published
    /// before stays whole until then.
    fn versions(
        &self,
        changed: &[&Expert],
        existing: Option<&PublishedRegistry>,
    ) -> Result<(usize, Vec<PathBuf>), BuildError> {
        let existing_api = match existing {
            _ if changed.is_empty() => api::ExistingDocuments::default(),
            Some(existing) if !self.staging.recovering() => {
                let names = changed.iter().map(|expert| &expert.name);
                api::ExistingDocuments::published(existing, names)?
            }
            _ => api::ExistingDocuments::list(self.out),
        };
        let total: usize = changed.iter().map(|expert| expert.versions.len()).sum();
        let done = AtomicUsize::new(0);
        let per_expert: Vec<(usize, Vec<PathBuf>)> = changed
            .par_iter()
            .map(|expert| {
                let mut written = 0;
                let mut files = Vec::with_capacity(expert.versions.len());
                for published in expert.versions.values() {
                    let step = done.fetch_add(1, Ordering::Relaxed);
                    if step.is_multiple_of(1024) {
                        self.progress.stage("writing", step, total);
                    }
                    let bytes = fsutil::read(&published.path)?;
                    if Hash::of(&bytes) != published.record.blake3 {
                        return Err(BuildError::ChangedDuringBuild {
                            path: published.path.clone(),
                        });
                    }
                    let blob = self.out.join(index::blob_path(&published.record.blake3));
                    if self.staging.write_if_absent(&blob, &bytes)? {
                        written += 1;
                    }
                    files.push((published, bytes));
                }
                let (api_written, stale) = self.api(expert, &files, &existing_api)?;
                Ok((written + api_written, stale))
            })
            .collect::<Result<_, BuildError>>()?;
        let mut written = 0;
        let mut stale = Vec::new();
        for (count, paths) in per_expert {
            written += count;
            stale.extend(paths);
        }
        Ok((written, stale))
    }

    /// Writes one expert's Perstack API documents from its version files (`files`, in version
    /// order), each tag and bare-name document as a hard link to its version's. Returns how
    /// many files were written and the existing documents no longer served.
    fn api(
        &self,
        expert: &Expert,
        files: &[(&validate::Published, Vec<u8>)],
        existing: &api::ExistingDocuments,
    ) -> Result<(usize, Vec<PathBuf>), BuildError> {
        let dist_tags = expert.dist_tags();
        let api_expert = ApiExpert {
            name: &expert.name,
            dist_tags: dist_tags.iter().map(|(t, v)| (*t, v.as_str())).collect(),
            versions: files
                .iter()
                .filter(|(published, _)| published.status != Status::Disabled)
                .map(|(published, bytes)| ApiVersion {
                    version: &published.record.version,
                    status: published.status,
                    blake3: published.record.blake3,
                    bytes,
                    published: published.published.as_deref(),
                })
                .collect(),
        };
        let documents = api::documents(&api_expert).map_err(BuildError::Api)?;
        api::remove_legacy_bare_name(self.out, &expert.name).with_path(
            "cannot remove",
            &self
                .out
                .join(api::legacy_bare_name_path(expert.name.as_str())),
        )?;
        let mut written = 0;
        for document in &documents.versions {
            let original = self.out.join(&document.path);
            if self
                .staging
                .write_if_changed(&original, &document.bytes, false)?
            {
                written += 1;
            }
            for alias in &document.aliases {
                let link = self.out.join(alias);
                if self
                    .staging
                    .link_if_changed(&original, &link, &document.bytes)?
                {
                    written += 1;
                }
            }
        }
        if let Some((path, bytes)) = &documents.listing
            && self
                .staging
                .write_if_changed(&self.out.join(path), bytes, false)?
        {
            written += 1;
        }
        let keep = documents.paths().cloned().collect();
        Ok((written, existing.stale(self.out, &expert.name, &keep)))
    }

    /// Renders and writes the website, wave by wave so no page links to a file not yet
    /// written, rewriting only the files whose bytes changed and skipping the pages the cache
    /// knows are unchanged. Returns the files written and every file of the website with its
    /// hash and size (a skipped page's from the cache), for the manifest.
    fn site(&self, site: &Site<'_>, cache: Option<&PageCache>) -> Result<SiteFiles, SiteError> {
        let mut written = Vec::new();
        let mut files = Vec::new();
        for wave in site.waves() {
            self.progress.stage("site", 0, wave.len());
            let wrote: Vec<(String, IndexRef, bool)> = wave
                .into_par_iter()
                .map(|page| {
                    let keyed = site.page_key(page);
                    if let (Some(cache), Some((path, key))) = (cache, &keyed)
                        && let Some(entry) = cache.fresh(self.out, path, *key)
                    {
                        return Ok((path.clone(), entry, false));
                    }
                    let (relative, bytes) = site.render(page)?;
                    let entry = site_manifest::entry_of(&bytes);
                    if let (Some(cache), Some((path, key))) = (cache, &keyed) {
                        cache.remember(path, *key, entry);
                    }
                    let changed =
                        self.staging
                            .write_if_changed(&self.out.join(&relative), &bytes, false)?;
                    Ok((relative, entry, changed))
                })
                .collect::<Result<_, SiteError>>()?;
            let mut wrote_now: Vec<String> = Vec::new();
            for (relative, entry, changed) in wrote {
                if changed {
                    wrote_now.push(relative.clone());
                }
                // The site renders only website files; the filter keeps the registry's own
                // out of the manifest whatever a template names.
                if site_manifest::is_site_file(&relative) {
                    files.push((relative, entry));
                }
            }
            wrote_now.sort();
            written.extend(wrote_now);
        }
        Ok(SiteFiles { written, files })
    }

    /// Writes the index documents of changed experts, rendered again (they were rendered once
    /// for their hashes, then dropped), each at its hash-named path and, as a hard link, at its
    /// readable path. Returns how many files were written.
    fn indexes(&self, changed: &[(&Expert, Hash)]) -> Result<usize, BuildError> {
        self.progress.stage("index", 0, changed.len());
        let written: Vec<usize> = changed
            .par_iter()
            .map(|(expert, hash)| {
                let doc = index::expert_index(expert);
                if doc.hash != *hash {
                    // Rendering is a pure function of the checked data; this cannot happen.
                    return Err(BuildError::Internal(format!(
                        "{}: the index document rendered differently twice",
                        expert.name
                    )));
                }
                let hashed = self.out.join(index::index_path(hash));
                let readable = self.out.join(expert.name.readable_index_path());
                let mut written = 0;
                if self.staging.write_if_absent(&hashed, &doc.bytes)? {
                    written += 1;
                }
                if self
                    .staging
                    .link_if_changed(&hashed, &readable, &doc.bytes)?
                {
                    written += 1;
                }
                Ok(written)
            })
            .collect::<Result<_, BuildError>>()?;
        Ok(written.into_iter().sum())
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

    /// Writes the documents every registry has once, whatever its experts: the fixed API
    /// documents and the host's `_headers`. Returns how many files were written.
    fn fixed_documents(&self) -> Result<usize, IoError> {
        let mut written = 0;
        for (relative, bytes) in api::fixed_documents() {
            if self
                .staging
                .write_if_changed(&self.out.join(relative), &bytes, false)?
            {
                written += 1;
            }
        }
        if self.staging.write_if_changed(
            &self.out.join("_headers"),
            crate::format::headers::headers_file().as_bytes(),
            false,
        )? {
            written += 1;
        }
        Ok(written)
    }

    /// Writes the publish log's tiles and entry bundles, and its hint files, copied from the
    /// spool. A tile this build appended to may exist with other bytes only where no root
    /// pinned it (a build killed before its root, the data changed since); `log::update`
    /// refused the build otherwise. Returns how many files were written.
    fn log_tiles(&self, log: &log::LogUpdate) -> Result<usize, IoError> {
        self.progress
            .stage("log", 0, log.tiles.len() + log.hints.len());
        let written: Vec<bool> = log
            .tiles
            .par_iter()
            .chain(log.hints.par_iter().map(|hint| (&hint.path, &hint.span)))
            .map(|(relative, span)| {
                let bytes = log.spool.read(*span)?;
                self.staging
                    .write_if_changed(&self.out.join(relative), &bytes, false)
            })
            .collect::<Result<_, IoError>>()?;
        Ok(written.into_iter().filter(|wrote| *wrote).count())
    }

    /// Writes the log's checkpoint, after every tile and before the root that pins it.
    fn checkpoint(&self, log: &log::LogUpdate) -> Result<usize, IoError> {
        let wrote = self.staging.write_if_changed(
            &self.out.join(crate::format::log::CHECKPOINT_PATH),
            &log.checkpoint,
            false,
        )?;
        Ok(usize::from(wrote))
    }

    /// Writes the root, durably: the one mutable entry point, written last. Returns how many
    /// files were written.
    fn root(&self, root: &Document) -> Result<usize, IoError> {
        let wrote =
            self.staging
                .write_if_changed(&self.out.join(index::ROOT_PATH), &root.bytes, true)?;
        Ok(usize::from(wrote))
    }
}
