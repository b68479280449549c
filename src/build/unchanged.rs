//! The no-change fast path: a rebuild that Watchman or git shows has nothing new to read
//! returns the last build's result without loading the data.
//!
//! Even with the build cache, a rebuild that finds nothing changed still validates every
//! expert, renders every index document for its hash and computes the website's keys: seconds
//! at a million versions, for an answer known in advance. After a complete build from a clean
//! git checkout (no modified, untracked or ignored file below the data directory, none too
//! recent to trust, no warning to repeat), the build records what it was made from in
//! [`FILE_NAME`]: the commit, the executable that built it, the options, the BLAKE3 of the
//! root it wrote, and, when a running Watchman watches the data directory, its clock from
//! before the build read anything. The next build takes the shortcut only when every one of
//! those still holds: nothing below the data directory changed since; the same executable
//! (templates and rules are compiled in) with the same options; the root in the output
//! directory is the one recorded, so nothing else wrote there; no build was interrupted
//! since; and a signed root is not yet due to be signed again. Anything else (no git,
//! `--no-cache`, `--previous`, a record that cannot be read) is a full build, which removes
//! the record before it writes anything, so an interrupted build never leaves a record
//! describing output it changed.
//!
//! "Nothing changed" is asked of Watchman first ([`watchman`]): no path below the data
//! directory changed since the recorded clock, so the files are byte for byte the ones the
//! recorded build read, which matched the recorded commit (a build reads the files, not git).
//! That costs milliseconds whatever the registry's size. When Watchman names changed files,
//! git is asked about those alone ([`git_changes::head_matching`]): whether `HEAD` differs
//! from the recorded commit only there and holds exactly what the files hold now. Then the
//! data directory matches `HEAD`, and the one-version path ([`crate::build::delta`]) reads
//! where Watchman said, with no `git status`, so a publish costs what it changes. When that
//! does not hold, or Watchman cannot answer (not installed, not running, not watching,
//! restarted, recrawled), git is asked what changed since the recorded commit, in commits or
//! in the working tree, which costs a `git status` (a look at every file), with the files
//! Watchman named added. A baseline that finds nothing changed records this build's fresh
//! clock, so the next build asks Watchman again, within what it remembers.
//!
//! The shortcut trusts the output directory as the last build left it: a file deleted from it
//! by hand is written again by `--no-cache`, not by the shortcut.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::build::{BuildOptions, Signing};
use crate::common::fsutil::{self, IoError};
use crate::common::model::Hash;
use crate::data::{git_changes, watchman};
use crate::format::index;

/// The record's file name in the build's state directory.
pub const FILE_NAME: &str = "unchanged.json";
/// The record's format; another is not read.
const FORMAT: u32 = 2;
/// A record is a few hundred bytes; anything much larger is not one.
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// What a complete build was made from and what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    format: u32,
    /// The BLAKE3 of the executable that built it.
    executable: Hash,
    inputs: Inputs,
    /// The commit the data directory matched exactly.
    commit: String,
    /// The BLAKE3 of the root it wrote.
    root: Hash,
    /// Watchman's clock from before the build read anything, when Watchman watched the data
    /// directory.
    watch: Option<watchman::Clock>,
    pub experts: usize,
    pub versions: usize,
    pub serial: u64,
}

impl Record {
    fn write(&self, path: &Path) -> Result<(), IoError> {
        let bytes = serde_json::to_vec_pretty(self).expect("a record always serializes");
        fsutil::write_atomic(path, &bytes, false)
    }
}

/// The options that shape the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Inputs {
    /// The data directory, made absolute, so another directory's commit is never mistaken for
    /// this one's.
    data_dir: PathBuf,
    site: bool,
    /// The public keys that sign the root and how long a signed root lasts.
    signing: Option<(Vec<String>, u32)>,
}

impl Inputs {
    fn of(options: &BuildOptions) -> Option<Inputs> {
        Some(Inputs {
            data_dir: std::path::absolute(&options.data_dir).ok()?,
            site: options.site,
            signing: options.signing.as_ref().map(|signing| {
                let mut keys: Vec<String> = signing
                    .keys
                    .iter()
                    .map(|k| k.public().to_string())
                    .collect();
                keys.sort();
                (keys, signing.expires_in_days)
            }),
        })
    }
}

/// The BLAKE3 of the running executable, which holds the templates and the rules. Hashed once
/// per process: a build checks it against the record and then records it again.
fn executable() -> Option<Hash> {
    static EXECUTABLE: std::sync::OnceLock<Option<Hash>> = std::sync::OnceLock::new();
    *EXECUTABLE.get_or_init(|| {
        let path = std::env::current_exe().ok()?;
        // Streamed: a release binary is 20 MB, which held whole would add to the build's peak.
        Hash::of_reader(std::fs::File::open(path).ok()?).ok()
    })
}

/// Watchman's clock for the data directory, taken before the build reads anything, when a
/// running Watchman watches it and the build may leave a record (see [`save`]).
pub fn watch(options: &BuildOptions) -> Option<watchman::Clock> {
    (options.use_cache && options.previous.is_none())
        .then(|| watchman::clock(&options.data_dir))
        .flatten()
}

/// What the last complete build recorded, when it still describes the output directory, and
/// what Watchman or git says changed in the data directory since.
pub struct Baseline {
    pub record: Record,
    /// The root in the output directory: the one the record names.
    pub root: Vec<u8>,
    pub view: git_changes::GitView,
}

impl Baseline {
    /// Watchman or git reports no change at all since the recorded build.
    pub fn nothing_changed(&self) -> bool {
        self.view
            .changed
            .as_ref()
            .is_some_and(|changed| changed.is_empty())
    }
}

/// The last build's record, when it still describes the output and git can say what changed
/// since: the same executable (templates and rules are compiled in) and options, the root in
/// the output directory the one recorded, no interrupted build since. `watch` is this build's
/// clock ([`watch`]).
pub fn baseline(
    options: &BuildOptions,
    state_dir: &Path,
    interrupted: bool,
    watch: Option<&watchman::Clock>,
) -> Option<Baseline> {
    if !options.use_cache || options.previous.is_some() || interrupted {
        return None;
    }
    let path = state_dir.join(FILE_NAME);
    if std::fs::metadata(&path).ok()?.len() > MAX_RECORD_BYTES {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    if record.format != FORMAT || Some(&record.inputs) != Inputs::of(options).as_ref() {
        return None;
    }
    let root = std::fs::read(options.out_dir.join(index::ROOT_PATH)).ok()?;
    if Hash::of(&root) != record.root {
        return None;
    }
    if executable()? != record.executable {
        return None;
    }
    // Last, as the slowest: Watchman answers from memory, git reads the index and looks at
    // every tracked file's stamp.
    let view = match changed_per_watchman(&record, watch) {
        // The data directory holds what the recorded build read, which is exactly what the
        // recorded commit holds there: nothing is dirty against it, whatever `HEAD` is now
        // (a commit since that changed the data would differ from the files, and git's diff
        // from the recorded commit finds it next time git is asked).
        Some(changes) if changes.is_empty() => git_changes::GitView {
            head: record.commit.clone(),
            changed: Some(Default::default()),
            dirty: Default::default(),
        },
        // Watchman names the files; a directory is no file to read (what changed in it is
        // listed on its own).
        Some(changes) => {
            let files: BTreeSet<String> = changes
                .into_iter()
                .filter(|change| !change.directory)
                .map(|change| change.path)
                .collect();
            match git_changes::head_matching(&options.data_dir, &record.commit, &files) {
                // The files are what the recorded build read but at `files`, and there they
                // are what `HEAD` holds: the view `git status` would give, without its look at
                // every file, so a publish costs what it changes.
                Some(head) => git_changes::GitView {
                    head,
                    changed: Some(files),
                    dirty: BTreeSet::new(),
                },
                // Git says where, and the files Watchman saw change are looked at too, even
                // where git would vouch for them (a file marked `--assume-unchanged`, a stamp
                // restored by hand).
                None => {
                    let mut view = git_changes::view(&options.data_dir, Some(&record.commit))?;
                    if let Some(changed) = &mut view.changed {
                        changed.extend(files);
                    }
                    view
                }
            }
        }
        None => git_changes::view(&options.data_dir, Some(&record.commit))?,
    };
    let baseline = Baseline { record, root, view };
    if baseline.nothing_changed()
        && let Some(watch) = watch
        && baseline.record.watch.as_ref() != Some(watch)
    {
        // Nothing changed from before this build's clock to now, so the data is still what
        // the recorded build read as of that clock: recording it keeps the next question
        // short, and within what Watchman remembers (it forgets old clocks). A record that
        // cannot be written leaves the old one, which is as true.
        let refreshed = Record {
            watch: Some(watch.clone()),
            ..baseline.record.clone()
        };
        let _ = refreshed.write(&path);
    }
    Some(baseline)
}

/// What Watchman says changed below the data directory since the recorded clock, if it can
/// say. The clock speaks for the directory it was taken of, which must still be the one the
/// data directory's path leads to (this build's clock is of it).
fn changed_per_watchman(
    record: &Record,
    watch: Option<&watchman::Clock>,
) -> Option<Vec<watchman::Change>> {
    record
        .watch
        .as_ref()
        .filter(|recorded| watch.is_some_and(|now| now.same_directory(recorded)))
        .and_then(watchman::changed_since)
}

/// Whether this build would change nothing, so it may return the last build's result; a
/// signed root must also not be due to be signed again (`still_signed`).
pub fn skippable(
    baseline: &Baseline,
    options: &BuildOptions,
    still_signed: impl Fn(&[u8], &Signing) -> bool,
) -> bool {
    baseline.nothing_changed()
        && options
            .signing
            .as_ref()
            .is_none_or(|signing| still_signed(&baseline.root, signing))
}

/// Records a complete build made from `commit`, with the clock [`watch`] took before it read
/// anything, or removes the record when the build may not be skipped next time (`commit` is
/// `None`).
pub fn save(
    options: &BuildOptions,
    state_dir: &Path,
    watch: Option<watchman::Clock>,
    commit: Option<String>,
    counts: (usize, usize, u64),
) -> Result<(), IoError> {
    let path = state_dir.join(FILE_NAME);
    let record = (|| {
        let root = std::fs::read(options.out_dir.join(index::ROOT_PATH)).ok()?;
        let (experts, versions, serial) = counts;
        Some(Record {
            format: FORMAT,
            executable: executable()?,
            inputs: Inputs::of(options)?,
            commit: commit?,
            root: Hash::of(&root),
            watch,
            experts,
            versions,
            serial,
        })
    })();
    match record {
        Some(record) if options.use_cache && options.previous.is_none() => record.write(&path),
        _ => forget(state_dir),
    }
}

/// Removes the record, before a build writes anything.
pub fn forget(state_dir: &Path) -> Result<(), IoError> {
    fsutil::remove_file_if_exists(&state_dir.join(FILE_NAME))
}
