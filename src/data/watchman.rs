//! What changed below a directory since a point in time, asked of a running Watchman.
//!
//! `git status` must look at every tracked file and read every directory to say nothing
//! changed: seconds at a million versions (`bench/RESULTS.md`). Watchman, a daemon that
//! follows a directory tree with inotify, answers the same question from memory in
//! milliseconds: a [`Clock`] names a point in a watch's history, and [`changed_since`] lists
//! the paths below the directory that changed after it (modified, created, deleted or renamed,
//! tracked by git or not, ignored or not).
//!
//! This module only asks; it never starts the daemon (`--no-spawn --no-local`) nor a watch:
//! someone set one up on purpose (`watchman watch-project DIR`). Any answer Watchman cannot
//! vouch for is no answer: no daemon or no watch holding the directory, an error, a clock
//! from another run of the daemon or of the watch, or one older than the daemon still
//! remembers (`is_fresh_instance`: a restart, a watch deleted and made again, an age-out),
//! and any warning (a recrawl after inotify dropped events); and a watch that does not report
//! everything below the directory (a `.watchmanconfig` whose `ignore_dirs` reaches into it, or
//! the watched root itself, whose `.git` is never reported). The caller then asks git, which
//! looks at every file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// How long Watchman may take to see its own cookie file, that is to catch up with every
/// change made before the question was asked.
const SYNC_TIMEOUT_MS: u64 = 10_000;

/// A point in the history of the watch holding a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// The watched root, as Watchman names it.
    root: PathBuf,
    /// The directory below the root (with `/` separators; empty for the root itself).
    relative: String,
    /// Watchman's clock: `c:<start>:<pid>:<watch>:<tick>`, so a clock from another run of
    /// the daemon or another watch of the root is never taken for one of this one.
    clock: String,
}

impl Clock {
    /// Whether both clocks are of the same directory, as Watchman sees it now: a data
    /// directory path that now leads elsewhere (a symbolic link changed) has another.
    pub fn same_directory(&self, other: &Clock) -> bool {
        self.root == other.root && self.relative == other.relative
    }
}

/// The clock of the watch holding `dir` now, after Watchman has seen every change made
/// before this call; `None` when no running Watchman watches it.
pub fn clock(dir: &Path) -> Option<Clock> {
    let (root, relative) = watch_of(dir)?;
    if !sees_everything_below(&root, &relative)? {
        return None;
    }
    let answer = ask(&serde_json::json!([
        "clock",
        root,
        { "sync_timeout": SYNC_TIMEOUT_MS }
    ]))?;
    let clock = answer.get("clock")?.as_str()?.to_owned();
    Some(Clock {
        root,
        relative,
        clock,
    })
}

/// A path below the clock's directory that changed since the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Relative to the clock's directory, with `/` separators.
    pub path: String,
    /// A directory: listed when an entry in it was created, removed or renamed, or when it
    /// was itself, even empty.
    pub directory: bool,
}

/// The paths below the clock's directory that changed since the clock, made before this
/// call; `None` when Watchman cannot say.
pub fn changed_since(clock: &Clock) -> Option<Vec<Change>> {
    let mut query = serde_json::json!({
        "since": clock.clock,
        "fields": ["name", "type"],
        "empty_on_fresh_instance": true,
        "sync_timeout": SYNC_TIMEOUT_MS,
    });
    if !clock.relative.is_empty() {
        query["relative_root"] = clock.relative.clone().into();
    }
    if !sees_everything_below(&clock.root, &clock.relative)? {
        return None;
    }
    let answer = ask(&serde_json::json!(["query", clock.root, query]))?;
    if answer.get("is_fresh_instance")?.as_bool()? {
        return None;
    }
    answer
        .get("files")?
        .as_array()?
        .iter()
        .map(|file| {
            Some(Change {
                path: file.get("name")?.as_str()?.to_owned(),
                directory: file.get("type")?.as_str()? == "d",
            })
        })
        .collect()
}

/// The watched root holding `dir` and `dir`'s path below it, if a running Watchman watches
/// one. Both are canonical, as Watchman names its roots.
fn watch_of(dir: &Path) -> Option<(PathBuf, String)> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let answer = ask(&serde_json::json!(["watch-list"]))?;
    // The innermost watch: a root nested in another is the one whose events describe it.
    let root = answer
        .get("roots")?
        .as_array()?
        .iter()
        .filter_map(|root| root.as_str().map(PathBuf::from))
        .filter(|root| dir.starts_with(root))
        .max_by_key(|root| root.components().count())?;
    let relative = dir.strip_prefix(&root).ok()?;
    let relative = relative
        .components()
        .map(|part| part.as_os_str().to_str())
        .collect::<Option<Vec<_>>>()?
        .join("/");
    Some((root, relative))
}

/// Whether the watch of `root` reports every change below `relative`: not when a
/// `.watchmanconfig` tells it to ignore a directory there (`ignore_dirs`), nor for the root
/// itself, where it never reports what happens in `.git` (`ignore_vcs`).
fn sees_everything_below(root: &Path, relative: &str) -> Option<bool> {
    if relative.is_empty() {
        return Some(false);
    }
    let answer = ask(&serde_json::json!(["get-config", root]))?;
    let ignored = match answer.get("config")?.get("ignore_dirs") {
        None => return Some(true),
        Some(ignored) => ignored.as_array()?,
    };
    let overlaps = |ignored: &str| {
        let ignored = ignored.trim_end_matches('/');
        [(ignored, relative), (relative, ignored)]
            .iter()
            .any(|(outer, inner)| {
                inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
    };
    for ignored in ignored {
        if overlaps(ignored.as_str()?) {
            return Some(false);
        }
    }
    Some(true)
}

/// Sends one command to the running Watchman; its answer when it has no error or warning.
fn ask(command: &serde_json::Value) -> Option<serde_json::Value> {
    let mut watchman = Command::new("watchman");
    watchman.args(["--no-spawn", "--no-local", "--no-pretty", "--json-command"]);
    // The socket Watchman's other clients read from the environment; the command line of
    // Debian's Watchman (4.9) reads it only from its option.
    if let Some(socket) = std::env::var_os("WATCHMAN_SOCK") {
        watchman.arg("--sockname").arg(socket);
    }
    let mut child = watchman
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(command.to_string().as_bytes()));
    let output = child.wait_with_output().ok()?;
    if !matches!(written, Some(Ok(()))) || !output.status.success() {
        return None;
    }
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    // A warning says the watch had to look at everything again (a recrawl after inotify
    // dropped events): what it says changed may then be less than what did.
    if answer.get("error").is_some() || answer.get("warning").is_some() {
        return None;
    }
    Some(answer)
}
