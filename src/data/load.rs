//! Reads `registry-data/`: walks the tree, refuses anything that is not part of the format,
//! and checks each file on its own.
//!
//! The walk never follows a symbolic link: a link could pull a file from outside the repository
//! into a public registry. Version files are read and checked in parallel; the result is sorted
//! by name and version, so nothing downstream depends on file system or thread order.
//!
//! With the build cache, in a git checkout, the walk lists the top of the data directory and
//! every scope directory as always but enters only the expert directories git reports a change
//! in (or that the cache does not know); every other one is taken from the cache as the last
//! build found it ([`git_changes`] says why that is sound, and when git is not asked).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::common::diagnostic::Diagnostic;
use crate::common::fsutil::{self, IoContext, IoError};
use crate::common::model::{self, ExpertName};
use crate::common::sorted_map::SortedMap;
use crate::data::build_cache::{BuildCache, GitRecord, OpenedCache, Stamp};
use crate::data::definition::{self, VersionRecord};
use crate::data::git_changes::{self, GitView};
use crate::data::meta::{self, ExpertMeta};
use crate::data::settings::{self, Settings};
use crate::data::sorted_walk::SortedWalk;

/// Everything read from `registry-data/`, before cross-file rules are applied.
#[derive(Debug)]
pub struct LoadedRegistry {
    pub data_dir: PathBuf,
    pub settings: Settings,
    pub experts: BTreeMap<ExpertName, LoadedExpert>,
    pub problems: Vec<Diagnostic>,
}

#[derive(Debug)]
pub struct LoadedExpert {
    pub name: ExpertName,
    pub dir: PathBuf,
    /// Versions whose file broke no rule of its own, in SemVer order.
    pub versions: SortedMap<semver::Version, LoadedVersion>,
    /// Version texts of files that exist but are invalid, so other rules do not also report
    /// them as missing.
    pub invalid_versions: BTreeSet<String>,
    pub meta: ExpertMeta,
    pub meta_path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct LoadedVersion {
    pub path: PathBuf,
    pub record: VersionRecord,
    /// What identifies this file unchanged next time, for the build cache.
    pub stamp: Option<Stamp>,
}

/// A version file found by the walk, not yet read.
struct VersionFile {
    name: ExpertName,
    version_text: String,
    version: semver::Version,
    path: PathBuf,
    /// Found in the build cache, in a directory git reports no change in, rather than on disk.
    from_cache: bool,
}

/// Reads and checks every file of the registry. I/O failures on the data directory itself are
/// errors; problems with the data are collected in [`LoadedRegistry::problems`].
pub fn load(data_dir: &Path) -> Result<LoadedRegistry, IoError> {
    Ok(load_with_cache(data_dir, None, &|_, _| {})?.0)
}

/// [`load`] with the build cache at `cache_path`, calling `progress(done, total)` as version
/// files are checked. Returns the cache too, which says afterwards whether it was fully reused
/// and holds the git state to record ([`BuildCache::next_git`]).
///
/// Without a commit recorded in the cache, the cache is decoded while the whole directory is
/// walked (each takes a large part of a rebuild, so neither waits for the other); with one,
/// git is asked what changed while the cache is decoded, and the walk skips the rest.
pub fn load_with_cache(
    data_dir: &Path,
    cache_path: Option<&Path>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(LoadedRegistry, Option<BuildCache>), IoError> {
    let action = "cannot read registry data directory";
    let metadata = std::fs::metadata(data_dir).with_path(action, data_dir)?;
    if !metadata.is_dir() {
        // Walking a file finds nothing, which would pass as a valid, empty registry.
        let source = std::io::Error::from(std::io::ErrorKind::NotADirectory);
        return Err(IoError::new(action, data_dir, source));
    }
    let mut problems = Vec::new();
    let settings = read_settings(data_dir, &mut problems)?;

    let mut walk = Walk::default();
    let (mut loaded_cache, view) = match cache_path {
        None => {
            walk.run(data_dir, None, &mut problems)?;
            (None, None)
        }
        Some(cache_path) => {
            let opened = OpenedCache::read(cache_path);
            match opened.git().map(|record| record.commit.clone()) {
                Some(since) => {
                    let (cache, view) = rayon::join(
                        || opened.load(),
                        || git_changes::view(data_dir, Some(&since)),
                    );
                    let reuse = view
                        .as_ref()
                        .and_then(|view| Reuse::new(&cache, view, data_dir));
                    walk.run(data_dir, reuse.as_ref(), &mut problems)?;
                    (Some(cache), view)
                }
                None => {
                    let ((walked, cache), view) = rayon::join(
                        || {
                            rayon::join(
                                || walk.run(data_dir, None, &mut problems),
                                || opened.load(),
                            )
                        },
                        || git_changes::view(data_dir, None),
                    );
                    walked?;
                    (Some(cache), view)
                }
            }
        }
    };
    let cache = loaded_cache.as_ref();
    for (scope_dir, non_empty) in &walk.scope_dirs {
        if !non_empty {
            problems.push(Diagnostic::error(
                "empty-scope",
                scope_dir,
                "scope directory holds no expert directory",
            ));
        }
    }

    let Read {
        experts,
        with_meta,
        unsettled,
    } = read_walked(walk, &settings, cache, progress, &mut problems)?;
    let mut reread: BTreeSet<String> = view
        .iter()
        .flat_map(|view| &view.dirty)
        .filter_map(|path| git_changes::expert_dir_of(path))
        .map(str::to_owned)
        .collect();
    // Files modified too recently to trust their stamps, perhaps after git was asked: git's
    // answer next time may not cover what was read now.
    reread.extend(unsettled);
    if let (Some(cache), Some(view)) = (loaded_cache.as_mut(), view) {
        cache.clean_commit =
            (view.dirty.is_empty() && reread.is_empty()).then(|| view.head.clone());
        cache.next_git = Some(GitRecord {
            commit: view.head,
            reread,
            with_meta,
        });
    }
    let loaded = LoadedRegistry {
        data_dir: data_dir.to_path_buf(),
        settings,
        experts,
        problems,
    };
    Ok((loaded, loaded_cache))
}

/// `registry.toml`, or the defaults when there is none.
fn read_settings(data_dir: &Path, problems: &mut Vec<Diagnostic>) -> Result<Settings, IoError> {
    let settings_path = data_dir.join(settings::FILE_NAME);
    Ok(match std::fs::symlink_metadata(&settings_path) {
        Ok(meta) if meta.is_file() => match read_bounded(&settings_path, meta.len(), problems)? {
            Some(bytes) => settings::parse(&settings_path, &bytes, problems),
            None => Settings::default(),
        },
        _ => Settings::default(),
    })
}

/// The experts a walk found, read.
struct Read {
    experts: BTreeMap<ExpertName, LoadedExpert>,
    /// Experts whose directory holds an `expert.toml`.
    with_meta: BTreeSet<String>,
    /// Experts with a file modified too recently for the build cache to trust its stamp.
    unsettled: BTreeSet<String>,
}

/// Reads and checks the version files and `expert.toml` files a walk found, the version files
/// in parallel.
fn read_walked(
    walk: Walk,
    settings: &Settings,
    cache: Option<&BuildCache>,
    progress: &(dyn Fn(usize, usize) + Sync),
    problems: &mut Vec<Diagnostic>,
) -> Result<Read, IoError> {
    let mut with_meta = BTreeSet::new();
    let mut experts: BTreeMap<ExpertName, LoadedExpert> = BTreeMap::new();
    for (name, dir) in walk.expert_dirs {
        let meta_path = dir.join(meta::FILE_NAME);
        let bytes = if walk.meta_files.contains(&meta_path) {
            with_meta.insert(name.as_str().to_owned());
            let size = std::fs::symlink_metadata(&meta_path).map_or(0, |meta| meta.len());
            read_bounded(&meta_path, size, problems)?
        } else {
            None
        };
        let meta = match bytes {
            Some(bytes) => meta::parse(&meta_path, &bytes, problems),
            None => ExpertMeta::default(),
        };
        experts.insert(
            name.clone(),
            LoadedExpert {
                name,
                dir,
                versions: SortedMap::new(),
                invalid_versions: BTreeSet::new(),
                meta,
                meta_path,
            },
        );
    }
    let mut unsettled = BTreeSet::new();
    let total = walk.version_files.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    // The versions of the expert whose files are being read: the walk lists an expert's files
    // together, so each expert's map is sorted once from them and nothing else is held.
    let mut run: Option<(ExpertName, Vec<(semver::Version, LoadedVersion)>)> = None;
    let finish_run = |run: Option<(ExpertName, Vec<(semver::Version, LoadedVersion)>)>,
                      experts: &mut BTreeMap<ExpertName, LoadedExpert>| {
        if let Some((name, mut versions)) = run
            && let Some(expert) = experts.get_mut(&name)
        {
            // Only if the walk listed this expert's files apart: merge with the earlier ones.
            versions.extend(std::mem::take(&mut expert.versions));
            expert.versions = SortedMap::from_unsorted(versions);
        }
    };
    // Checked a chunk at a time, so that what one chunk's results take is all that is held
    // besides the versions already gathered (not a second copy of every record).
    for chunk in walk.version_files.chunks(CHECK_CHUNK) {
        let checked: Vec<(Option<LoadedVersion>, Vec<Diagnostic>)> = chunk
            .par_iter()
            .map(|file| {
                let step = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if step.is_multiple_of(1024) {
                    progress(step, total);
                }
                check_version(file, settings, cache)
            })
            .collect::<Result<_, IoError>>()?;
        for (file, (loaded, file_problems)) in chunk.iter().zip(checked) {
            problems.extend(file_problems);
            if cache.is_some() && loaded.as_ref().is_some_and(|loaded| loaded.stamp.is_none()) {
                unsettled.insert(file.name.as_str().to_owned());
            }
            let Some(expert) = experts.get_mut(&file.name) else {
                continue;
            };
            match loaded {
                Some(loaded) => {
                    if run.as_ref().is_none_or(|(name, _)| *name != file.name) {
                        finish_run(run.take(), &mut experts);
                        run = Some((file.name.clone(), Vec::new()));
                    }
                    if let Some((_, versions)) = &mut run {
                        versions.push((file.version.clone(), loaded));
                    }
                }
                None => {
                    expert.invalid_versions.insert(file.version_text.clone());
                }
            }
        }
    }
    finish_run(run, &mut experts);
    for expert in experts.values() {
        if expert.versions.is_empty() && expert.invalid_versions.is_empty() {
            problems.push(Diagnostic::error(
                "no-versions",
                &expert.dir,
                format!(
                    "expert directory \"{}\" holds no version file (<version>.toml)",
                    expert.name
                ),
            ));
        }
    }
    Ok(Read {
        experts,
        with_meta,
        unsettled,
    })
}

/// Reads `registry.toml` and only the expert directories `dirs` (below the data directory:
/// `name` or `@scope/name`), each checked as the walk checks it, for a build that knows from
/// git which experts changed (`build::delta`). `None` when such a read cannot stand in for the
/// walk (a directory that is missing, a symbolic link, a name that does not parse, anything in
/// it but files): the caller then walks everything, which reports it properly.
pub fn load_experts(
    data_dir: &Path,
    dirs: &BTreeSet<String>,
) -> Result<Option<LoadedRegistry>, IoError> {
    let mut problems = Vec::new();
    let settings = read_settings(data_dir, &mut problems)?;
    let mut walk = Walk::default();
    for dir in dirs {
        let Ok(name) = ExpertName::parse(dir) else {
            return Ok(None);
        };
        let path = data_dir.join(dir);
        // Every directory on the way must be a real one: the walk never follows a link.
        let mut on_the_way = Some(path.as_path());
        while let Some(step) = on_the_way.filter(|step| *step != data_dir) {
            match std::fs::symlink_metadata(step) {
                Ok(meta) if meta.is_dir() => {}
                _ => return Ok(None),
            }
            on_the_way = step.parent();
        }
        let mut entries: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&path).with_path("cannot read", &path)? {
            let entry = entry.with_path("cannot read", &path)?;
            let file_type = entry.file_type().with_path("cannot read", &entry.path())?;
            let Ok(file_name) = entry.file_name().into_string() else {
                return Ok(None);
            };
            if !file_type.is_file() {
                return Ok(None);
            }
            entries.push((file_name, entry.path()));
        }
        entries.sort();
        walk.expert_dirs.insert(name.clone(), path);
        for (file_name, file_path) in entries {
            walk.expert_file(name.clone(), &file_name, &file_path, &mut problems);
        }
    }
    let read = read_walked(walk, &settings, None, &|_, _| {}, &mut problems)?;
    Ok(Some(LoadedRegistry {
        data_dir: data_dir.to_path_buf(),
        settings,
        experts: read.experts,
        problems,
    }))
}

/// The expert directories the walk takes from the build cache instead of entering: those the
/// cache knows whose files git reports no change in since the recorded commit and that the
/// last build did not mark to read again.
struct Reuse<'c> {
    /// Each reused expert directory's version files.
    files: HashMap<&'c Path, Vec<&'c Path>>,
    /// Experts whose directory holds an `expert.toml`.
    with_meta: &'c BTreeSet<String>,
}

impl<'c> Reuse<'c> {
    /// `None` when git could not compare the recorded commit with `HEAD`: then every directory
    /// is walked.
    fn new(cache: &'c BuildCache, view: &GitView, data_dir: &Path) -> Option<Reuse<'c>> {
        let record = cache.git()?;
        let changed = view.changed.as_ref()?;
        let mut files = cache.files_by_dir();
        let changed_dirs = changed
            .iter()
            .filter_map(|path| git_changes::expert_dir_of(path))
            .chain(record.reread.iter().map(String::as_str));
        for dir in changed_dirs {
            files.remove(data_dir.join(dir).as_path());
        }
        Some(Reuse {
            files,
            with_meta: &record.with_meta,
        })
    }
}

impl LoadedRegistry {
    /// Adds a version file that is not on disk yet (`path` is where it would be written), checked
    /// like every other one, so that `publish` can validate the registry it is about to create
    /// before it writes anything.
    pub fn add_version(
        &mut self,
        name: &ExpertName,
        version: &semver::Version,
        path: &Path,
        bytes: &[u8],
    ) {
        let version_text = version.to_string();
        let record =
            definition::check_version_file(path, name, &version_text, bytes, &mut self.problems);
        let dir = name.data_dir(&self.data_dir);
        let expert = self
            .experts
            .entry(name.clone())
            .or_insert_with(|| LoadedExpert {
                name: name.clone(),
                meta_path: dir.join(meta::FILE_NAME),
                dir,
                versions: SortedMap::new(),
                invalid_versions: BTreeSet::new(),
                meta: ExpertMeta::default(),
            });
        match record {
            Some(record) => {
                let loaded = LoadedVersion {
                    path: path.to_path_buf(),
                    record,
                    stamp: None,
                };
                expert.versions.insert(version.clone(), loaded);
            }
            None => {
                expert.invalid_versions.insert(version_text);
            }
        }
    }

    /// Replaces an expert's `expert.toml` with `bytes`, not yet written, dropping what the old
    /// file was found to break, so that an edit is validated before it is written.
    pub fn replace_meta(&mut self, name: &ExpertName, bytes: &[u8]) {
        let Some(expert) = self.experts.get_mut(name) else {
            return;
        };
        let meta_path = expert.meta_path.clone();
        self.problems.retain(|problem| problem.file != meta_path);
        expert.meta = meta::parse(&meta_path, bytes, &mut self.problems);
    }
}

/// The largest `registry.toml` or `expert.toml` read. Real ones are a few kilobytes (a tag or
/// a status is a line); the bound keeps a hostile one from taking the check's memory and time.
pub const MAX_SETTINGS_BYTES: u64 = 4 * 1024 * 1024;

/// How many version files are checked (in parallel) before their results are gathered.
const CHECK_CHUNK: usize = 4096;

/// Reads a settings or metadata file of `size` bytes, or reports it as too large.
fn read_bounded(
    path: &Path,
    size: u64,
    problems: &mut Vec<Diagnostic>,
) -> Result<Option<Vec<u8>>, IoError> {
    if size > MAX_SETTINGS_BYTES {
        problems.push(Diagnostic::error(
            "too-large",
            path,
            format!("file is {size} bytes; the limit is {MAX_SETTINGS_BYTES}"),
        ));
        return Ok(None);
    }
    fsutil::read(path).map(Some)
}

fn check_version(
    file: &VersionFile,
    settings: &Settings,
    cache: Option<&BuildCache>,
) -> Result<(Option<LoadedVersion>, Vec<Diagnostic>), IoError> {
    let mut problems = Vec::new();
    if file.from_cache
        && let Some((stamp, record)) = cache.and_then(|cache| cache.take(&file.path))
        && record.size <= settings.max_version_bytes
    {
        let loaded = LoadedVersion {
            path: file.path.clone(),
            record,
            stamp: Some(stamp),
        };
        return Ok((Some(loaded), problems));
    }
    let metadata = std::fs::symlink_metadata(&file.path).with_path("cannot read", &file.path)?;
    if metadata.len() > settings.max_version_bytes {
        problems.push(Diagnostic::error(
            "too-large",
            &file.path,
            format!(
                "version file is {} bytes; the limit is {} (set [limits] max-version-bytes in registry.toml to change it)",
                metadata.len(),
                settings.max_version_bytes
            ),
        ));
        return Ok((None, problems));
    }
    if let Some(record) = cache.and_then(|cache| cache.lookup(&file.path, &metadata)) {
        let loaded = LoadedVersion {
            path: file.path.clone(),
            record,
            stamp: Some(Stamp::of(&metadata)),
        };
        return Ok((Some(loaded), problems));
    }
    let bytes = fsutil::read(&file.path)?;
    let record = definition::check_version_file(
        &file.path,
        &file.name,
        &file.version_text,
        &bytes,
        &mut problems,
    );
    let loaded = record.map(|record| LoadedVersion {
        path: file.path.clone(),
        record,
        stamp: cache.and_then(|cache| cache.stamp(&metadata)),
    });
    Ok((loaded, problems))
}

/// What the directory walk found.
#[derive(Default)]
struct Walk {
    expert_dirs: BTreeMap<ExpertName, PathBuf>,
    /// Scope directories, each with whether it holds at least one entry.
    scope_dirs: BTreeMap<PathBuf, bool>,
    meta_files: std::collections::HashSet<PathBuf>,
    version_files: Vec<VersionFile>,
}

/// The role of a directory on the walk's current path, if it has one.
type Role = Option<(DirRole, Option<ExpertName>)>;

/// Records the role of the directory at `depth` (the walk has just entered it).
fn set_role(roles: &mut Vec<Role>, depth: usize, role: Role) {
    roles.resize(depth, None);
    roles.push(role);
}

/// The role of a directory in the layout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DirRole {
    Scope,
    Expert,
}

impl Walk {
    fn run(
        &mut self,
        data_dir: &Path,
        reuse: Option<&Reuse<'_>>,
        problems: &mut Vec<Diagnostic>,
    ) -> Result<(), IoError> {
        // The walk is depth-first, so the roles of the directories above the current entry form
        // a stack indexed by depth: the parent's role is `roles[depth - 1]`.
        let mut roles: Vec<Role> = Vec::new();
        let mut entries = SortedWalk::new(data_dir);
        while let Some(entry) = entries.next_entry() {
            let entry = entry?;
            let path = entry.path();
            let file_type = entry.file_type();
            let depth = entry.depth();
            if depth == 2
                && let Some(non_empty) = path.parent().and_then(|p| self.scope_dirs.get_mut(p))
            {
                *non_empty = true;
            }
            roles.truncate(depth);
            let parent_role = roles.get(depth.wrapping_sub(1)).cloned().flatten();
            let not_in_format = |what: &str| {
                Diagnostic::error(
                    "not-in-format",
                    path,
                    format!("{what} is not part of the registry format (see docs/format.md)"),
                )
            };
            if file_type.is_symlink() {
                problems.push(Diagnostic::error(
                    "symlink",
                    path,
                    "symbolic links are refused and never followed: a link could publish a file from outside the registry",
                ));
                continue;
            }
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                problems.push(Diagnostic::error(
                    "not-utf8-name",
                    path,
                    "file name is not valid UTF-8",
                ));
                if file_type.is_dir() {
                    entries.skip_current_dir();
                }
                continue;
            };
            let is_dir = file_type.is_dir();
            if !is_dir && !file_type.is_file() {
                problems.push(not_in_format("special file"));
                continue;
            }
            match (depth, parent_role, is_dir) {
                (1, _, false) if file_name == settings::FILE_NAME => {}
                (1, _, true) if file_name.starts_with('@') => {
                    set_role(&mut roles, depth, Some((DirRole::Scope, None)));
                    self.scope_dirs.insert(path.to_path_buf(), false);
                }
                (1, _, true) => {
                    let role = self.expert_dir(file_name, path, reuse, problems, &mut entries);
                    set_role(&mut roles, depth, role);
                }
                (2, Some((DirRole::Scope, _)), true) => {
                    let full = format!(
                        "{}/{file_name}",
                        &path
                            .parent()
                            .and_then(Path::file_name)
                            .and_then(|n| n.to_str())
                            .unwrap_or_default()
                    );
                    let role = self.expert_dir(&full, path, reuse, problems, &mut entries);
                    set_role(&mut roles, depth, role);
                }
                (_, Some((DirRole::Expert, Some(name))), false) => {
                    self.expert_file(name, file_name, path, problems)
                }
                (_, _, true) => {
                    set_role(&mut roles, depth, None);
                    problems.push(not_in_format("directory"));
                    entries.skip_current_dir();
                }
                (_, _, false) => problems.push(not_in_format("file")),
            }
        }
        Ok(())
    }

    fn expert_dir(
        &mut self,
        name: &str,
        path: &Path,
        reuse: Option<&Reuse<'_>>,
        problems: &mut Vec<Diagnostic>,
        entries: &mut SortedWalk,
    ) -> Option<(DirRole, Option<ExpertName>)> {
        match ExpertName::parse(name) {
            Ok(name) => {
                self.expert_dirs.insert(name.clone(), path.to_path_buf());
                if let Some(reuse) = reuse
                    && let Some(files) = reuse.files.get(path)
                {
                    self.reuse_expert_dir(&name, path, files, reuse);
                    entries.skip_current_dir();
                }
                Some((DirRole::Expert, Some(name)))
            }
            Err(err) => {
                problems.push(Diagnostic::error("invalid-name", path, err));
                entries.skip_current_dir();
                None
            }
        }
    }

    /// Takes an expert directory's files from the build cache instead of entering it. Every
    /// file there passed the walk's checks when the cache was written, and git says none has
    /// changed since.
    fn reuse_expert_dir(
        &mut self,
        name: &ExpertName,
        dir: &Path,
        files: &[&Path],
        reuse: &Reuse<'_>,
    ) {
        if reuse.with_meta.contains(name.as_str()) {
            self.meta_files.insert(dir.join(meta::FILE_NAME));
        }
        for path in files {
            let Some(version_text) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".toml"))
            else {
                continue;
            };
            if let Ok(version) = model::parse_canonical_version(version_text) {
                self.version_files.push(VersionFile {
                    name: name.clone(),
                    version_text: version_text.to_owned(),
                    version,
                    path: path.to_path_buf(),
                    from_cache: true,
                });
            }
        }
    }

    fn expert_file(
        &mut self,
        name: ExpertName,
        file_name: &str,
        path: &Path,
        problems: &mut Vec<Diagnostic>,
    ) {
        if file_name == meta::FILE_NAME {
            self.meta_files.insert(path.to_path_buf());
            return;
        }
        let Some(version_text) = file_name.strip_suffix(".toml") else {
            problems.push(Diagnostic::error(
                "not-in-format",
                path,
                "file is not part of the registry format: an expert directory holds <version>.toml files and an optional expert.toml",
            ));
            return;
        };
        match model::parse_canonical_version(version_text) {
            Ok(version) => self.version_files.push(VersionFile {
                name,
                version_text: version_text.to_owned(),
                version,
                path: path.to_path_buf(),
                from_cache: false,
            }),
            Err(err) => problems.push(Diagnostic::error(
                "invalid-version",
                path,
                format!("version file name: {err}"),
            )),
        }
    }
}
