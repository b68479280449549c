//! What changed in `registry-data/` since the last build, asked of git.
//!
//! A rebuild with the stamp cache still looks at every file of the data directory. In a git
//! checkout, git already knows what changed: the files that differ between the commit the last
//! build was made from and `HEAD` (`git diff`), and the files of the working tree that differ
//! from `HEAD`, untracked and ignored ones included (`git status`). The loader walks only the
//! expert directories holding such a file and takes every other one from the build cache.
//!
//! Git only says where to look, never what a file holds: a file in a walked directory is still
//! checked against its stamp, and what is written is hashed again. Anything unexpected (no git,
//! not a repository, the data directory not tracked, a recorded commit that is unknown or not
//! an ancestor of `HEAD`, git failing, output it cannot parse) yields no answer, and the loader
//! walks everything as it would without git.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

/// What git says about the data directory now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitView {
    /// The commit `HEAD` names.
    pub head: String,
    /// Paths below the data directory (relative to it, with `/` separators) that differ
    /// between the commit asked about and `HEAD`, or in the working tree from `HEAD`; `None`
    /// when no commit was asked about or git cannot compare it with `HEAD`.
    pub changed: Option<BTreeSet<String>>,
    /// The paths the working tree holds differently from `HEAD` (modified, added, deleted,
    /// untracked or ignored): the next build must look at them again even when they are
    /// committed unchanged by then, since what this build reads of them is not what `HEAD`
    /// holds.
    pub dirty: BTreeSet<String>,
}

/// What git says about `data_dir`, with what changed since `since` when it is given and is an
/// ancestor of `HEAD`; `None` when `data_dir` is not a tracked directory of a git work tree or
/// git cannot answer.
pub fn view(data_dir: &Path, since: Option<&str>) -> Option<GitView> {
    let head = head(data_dir)?;
    let dirty = dirty(data_dir)?;
    let changed = since.and_then(|since| {
        let mut changed = committed_since(data_dir, since, &head)?;
        changed.extend(dirty.iter().cloned());
        Some(changed)
    });
    Some(GitView {
        head,
        changed,
        dirty,
    })
}

/// The commit `HEAD` names, if `data_dir` is a tracked directory of a git work tree.
fn head(data_dir: &Path) -> Option<String> {
    let inside = git(data_dir, &["rev-parse", "--is-inside-work-tree"])?;
    if inside.trim_ascii() != b"true" {
        return None;
    }
    let head = git(
        data_dir,
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )?;
    let head = std::str::from_utf8(&head).ok()?.trim().to_owned();
    // `HEAD:./` is the data directory's tree at HEAD: it fails when the directory is not
    // tracked, where git's answers would say nothing about the files in it.
    git(data_dir, &["rev-parse", "--verify", "--quiet", "HEAD:./"])?;
    is_object_id(&head).then_some(head)
}

fn is_object_id(text: &str) -> bool {
    text.len() >= 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The paths below `data_dir` that differ between `since` and `head`, or `None` when `since`
/// is not an ancestor of `head`: a rewritten history, another branch or a commit since
/// garbage-collected gives no diff that describes the files since the last build.
fn committed_since(data_dir: &Path, since: &str, head: &str) -> Option<BTreeSet<String>> {
    if !is_object_id(since) {
        return None;
    }
    git(data_dir, &["merge-base", "--is-ancestor", since, head])?;
    if since == head {
        return Some(BTreeSet::new());
    }
    // `--relative` run inside the data directory lists only paths below it, relative to it.
    let diff = git(
        data_dir,
        &[
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--relative",
            since,
            head,
            "--",
            ".",
        ],
    )?;
    nul_separated(&diff).collect()
}

/// The paths below `data_dir` the working tree holds differently from `HEAD`.
fn dirty(data_dir: &Path) -> Option<BTreeSet<String>> {
    // Porcelain status paths are relative to the top of the repository, whatever the working
    // directory: the prefix turns them into paths below the data directory.
    let prefix = git(data_dir, &["rev-parse", "--show-prefix"])?;
    let prefix = std::str::from_utf8(&prefix).ok()?.trim_end_matches('\n');
    let status = git(
        data_dir,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--no-renames",
            "--untracked-files=all",
            "--ignored=traditional",
            "--",
            ".",
        ],
    )?;
    let mut dirty = BTreeSet::new();
    for entry in nul_separated(&status) {
        let entry = entry?;
        // `XY path`: two status letters and a space, then the path.
        let path = entry.get(3..)?.strip_prefix(prefix)?;
        // A directory (a nested repository, say) hides which files changed in it.
        if path.is_empty() || path.ends_with('/') {
            return None;
        }
        dirty.insert(path.to_owned());
    }
    Some(dirty)
}

/// The records of `-z` output; `None` for one that is not UTF-8 (no such name is in the
/// format, and the walk reports it).
fn nul_separated(bytes: &[u8]) -> impl Iterator<Item = Option<String>> + '_ {
    bytes
        .split(|&b| b == 0)
        .filter(|record| !record.is_empty())
        .map(|record| String::from_utf8(record.to_vec()).ok())
}

/// Runs git in `dir`; its stdout when it succeeds, `None` when it cannot run or fails.
fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        // A build only reads the repository: `status` must not refresh git's index.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}

/// The expert directory (relative to the data directory) a changed path lies in, if it lies
/// in one: `name/...` or `@scope/name/...`. Paths at the top or directly in a scope directory
/// are seen by the walk, which always lists those levels.
pub fn expert_dir_of(path: &str) -> Option<&str> {
    let mut slashes = path.match_indices('/').map(|(at, _)| at);
    let first = slashes.next()?;
    if path.starts_with('@') {
        slashes.next().map(|second| &path[..second])
    } else {
        Some(&path[..first])
    }
}

#[cfg(test)]
mod tests {
    use super::expert_dir_of;

    #[test]
    fn a_path_names_its_expert_directory() {
        assert_eq!(expert_dir_of("tic-tac-toe/1.0.0.toml"), Some("tic-tac-toe"));
        assert_eq!(
            expert_dir_of("@acme/researcher/1.0.0.toml"),
            Some("@acme/researcher")
        );
        assert_eq!(
            expert_dir_of("@acme/researcher/sub/x.toml"),
            Some("@acme/researcher")
        );
        assert_eq!(expert_dir_of("registry.toml"), None);
        assert_eq!(expert_dir_of("@acme/stray.toml"), None);
    }
}
