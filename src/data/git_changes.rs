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

/// `HEAD`, when the files of the data directory are exactly what `HEAD` holds there, given that
/// they were exactly what `since` holds everywhere but at `paths` (relative to the data
/// directory, as a file system monitor reports them): `HEAD` differs from `since` at no other
/// path, and at each of `paths` the working tree holds the file `HEAD` holds, or neither holds
/// one. The work is in proportion to `paths` and the commits since: no `git status`, which
/// looks at every file. `None` when they differ or git cannot say.
pub fn head_matching(data_dir: &Path, since: &str, paths: &BTreeSet<String>) -> Option<String> {
    let head = head(data_dir)?;
    let committed = committed_since(data_dir, since, &head)?;
    if !committed.is_subset(paths) {
        return None;
    }
    if paths.is_empty() {
        return Some(head);
    }
    // What HEAD holds at each path (`HEAD:./path` is relative to the data directory)...
    let wanted: String = paths
        .iter()
        .map(|path| format!("{head}:./{path}\n"))
        .collect();
    let listed = git_with_input(data_dir, &["cat-file", "--batch-check"], wanted.as_bytes())?;
    let in_head: Vec<Option<&str>> = std::str::from_utf8(&listed)
        .ok()?
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((id, rest)) if rest.starts_with("blob ") && is_object_id(id) => Some(Some(id)),
            _ if line.ends_with(" missing") => Some(None),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if in_head.len() != paths.len() {
        return None;
    }
    // ... and what the working tree holds there, hashed as git would store it.
    let mut present = Vec::new();
    for (path, held) in paths.iter().zip(&in_head) {
        match std::fs::symlink_metadata(data_dir.join(path)) {
            Ok(meta) if meta.is_file() => present.push((path, *held)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && held.is_none() => {}
            _ => return None,
        }
    }
    if present.is_empty() {
        return Some(head);
    }
    // `--stdin-paths` reads paths from the top of the work tree, whatever the directory.
    let mut names = String::new();
    for (path, _) in &present {
        let absolute = std::path::absolute(data_dir.join(path)).ok()?;
        names.push_str(absolute.to_str()?);
        names.push('\n');
    }
    let hashed = git_with_input(
        data_dir,
        &["hash-object", "--stdin-paths"],
        names.as_bytes(),
    )?;
    let hashed: Vec<&str> = std::str::from_utf8(&hashed).ok()?.lines().collect();
    let same = hashed.len() == present.len()
        && present
            .iter()
            .zip(&hashed)
            .all(|((_, held), now)| *held == Some(*now));
    same.then_some(head)
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

/// Runs git in `dir` with `input` on its stdin; its stdout when it succeeds.
fn git_with_input(dir: &Path, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut child = git_command(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    // Written from another thread: git may fill its stdout before it has read all its input.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    output.status.success().then_some(output.stdout)
}

/// Runs git in `dir`; its stdout when it succeeds, `None` when it cannot run or fails.
fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = git_command(dir, args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}

/// git with `args`, run in `dir`, taking no lock.
fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        // A build only reads the repository: `status` must not refresh git's index.
        .env("GIT_OPTIONAL_LOCKS", "0");
    command
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
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::process::Command;

    use super::{expert_dir_of, head_matching};

    /// Runs git in `dir` without the machine's configuration; its trimmed stdout.
    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "a")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "a")
            .env("GIT_COMMITTER_EMAIL", "a@example.com")
            .output()
            .expect("run git");
        assert!(output.status.success(), "git {args:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn commit(dir: &Path) -> String {
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "--allow-empty", "-m", "change"]);
        git(dir, &["rev-parse", "HEAD"])
    }

    fn paths(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|path| path.to_string()).collect()
    }

    #[test]
    fn head_matches_the_files_only_where_the_named_paths_hold_what_it_holds() {
        let repo = tempfile::tempdir().unwrap();
        let data = repo.path().join("registry-data");
        std::fs::create_dir_all(data.join("solo")).unwrap();
        std::fs::write(data.join("solo/1.0.0.toml"), "one\n").unwrap();
        std::fs::write(repo.path().join("README"), "outside\n").unwrap();
        git(repo.path(), &["init", "-q"]);
        let first = commit(repo.path());
        let new = paths(&["solo/1.1.0.toml"]);

        // A new file not committed yet: HEAD does not hold it.
        std::fs::write(data.join("solo/1.1.0.toml"), "two\n").unwrap();
        assert_eq!(head_matching(&data, &first, &new), None);
        // Committed: the files are HEAD's, and HEAD changed nothing else below the data.
        let second = commit(repo.path());
        assert_eq!(head_matching(&data, &first, &new), Some(second.clone()));
        // Not naming the path HEAD changed: the files there may be the old ones.
        assert_eq!(head_matching(&data, &first, &paths(&[])), None);
        // A commit outside the data directory changes nothing it holds.
        std::fs::write(repo.path().join("README"), "still outside\n").unwrap();
        let third = commit(repo.path());
        assert_eq!(
            head_matching(&data, &second, &paths(&[])),
            Some(third.clone())
        );

        // An edit not committed, then undone to the same bytes.
        let edited = paths(&["solo/1.0.0.toml"]);
        std::fs::write(data.join("solo/1.0.0.toml"), "one, edited\n").unwrap();
        assert_eq!(head_matching(&data, &third, &edited), None);
        std::fs::write(data.join("solo/1.0.0.toml"), "one\n").unwrap();
        assert_eq!(head_matching(&data, &third, &edited), Some(third.clone()));

        // A deletion, before and after it is committed.
        std::fs::remove_file(data.join("solo/1.1.0.toml")).unwrap();
        assert_eq!(head_matching(&data, &third, &new), None);
        let fourth = commit(repo.path());
        assert_eq!(head_matching(&data, &third, &new), Some(fourth.clone()));
        // A recorded commit that is not an ancestor, or not a commit at all.
        assert_eq!(
            head_matching(&data, "0123456789abcdef0123456789abcdef01234567", &new),
            None
        );
        assert_eq!(head_matching(&data, "not a commit", &new), None);
    }

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
