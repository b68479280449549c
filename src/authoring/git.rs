//! Reading a directory as it was at a git revision, with the real `git` binary.
//!
//! The review of a pull request compares `registry-data/` at the base revision with the working
//! tree. The base is read straight from git's object store (`git ls-tree -r -z` lists the files,
//! one `git cat-file --batch` process streams their bytes), never by checking anything out, so
//! the working tree is untouched and a shallow clone works as long as the base commit is there.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("{0}: not inside a git repository")]
    NotARepository(PathBuf),
    #[error(
        "revision \"{revision}\" is not in this repository; in a shallow clone, fetch it first: git fetch --depth=1 origin {revision}"
    )]
    MissingRevision { revision: String },
    #[error("git {command} failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("git {command}: unexpected output: {detail}")]
    Unexpected { command: String, detail: String },
}

/// A file as stored at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// The git file mode: `100644`, `100755`, `120000` (a symbolic link), ...
    pub mode: String,
    pub bytes: Vec<u8>,
}

/// Every file below `dir` at `revision`, by path relative to `dir` (with `/` separators), in
/// byte order. An empty map means the directory did not exist at that revision.
pub fn files_at(dir: &Path, revision: &str) -> Result<BTreeMap<String, TreeFile>, GitError> {
    let inside = git(dir, &["rev-parse", "--is-inside-work-tree"]);
    if !matches!(&inside, Ok(out) if out.trim_ascii() == b"true") {
        return Err(GitError::NotARepository(dir.to_path_buf()));
    }
    let missing = || GitError::MissingRevision {
        revision: revision.to_owned(),
    };
    // A revision that starts with '-' would be read as an option.
    if revision.starts_with('-') {
        return Err(missing());
    }
    let commit = format!("{revision}^{{commit}}");
    let resolved =
        git(dir, &["rev-parse", "--verify", "--quiet", &commit]).map_err(|_| missing())?;
    let oid = String::from_utf8_lossy(&resolved).trim().to_owned();
    // Run inside `dir`, ls-tree lists only the entries below it, with paths relative to it.
    let listing = git(dir, &["ls-tree", "-r", "-z", &oid])?;
    let mut entries = Vec::new();
    for record in listing.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let unexpected = || GitError::Unexpected {
            command: "ls-tree".to_owned(),
            detail: text.to_string(),
        };
        let (info, path) = text.split_once('\t').ok_or_else(unexpected)?;
        let mut fields = info.split(' ');
        let (Some(mode), Some(kind), Some(oid)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(unexpected());
        };
        if kind == "blob" {
            entries.push((path.to_owned(), mode.to_owned(), oid.to_owned()));
        }
    }
    let contents = cat_blobs(dir, entries.iter().map(|(_, _, oid)| oid.as_str()))?;
    Ok(entries
        .into_iter()
        .zip(contents)
        .map(|((path, mode, _), bytes)| (path, TreeFile { mode, bytes }))
        .collect())
}

/// Streams the blobs named by `oids` through one `git cat-file --batch`, in order.
/// The files tracked in the working tree's index below `top_level_dir`, a directory named
/// from the top of the repository `dir` is in (`dist` is the repository's `dist/`), by path
/// from the top.
pub fn tracked_below(dir: &Path, top_level_dir: &str) -> Result<Vec<String>, GitError> {
    let pathspec = format!(":(top,literal){top_level_dir}");
    let listing = git(dir, &["ls-files", "-z", "--full-name", "--", &pathspec])?;
    Ok(listing
        .split(|&b| b == 0)
        .filter(|path| !path.is_empty())
        .map(|path| String::from_utf8_lossy(path).into_owned())
        .collect())
}

fn cat_blobs<'a>(
    dir: &Path,
    oids: impl Iterator<Item = &'a str>,
) -> Result<Vec<Vec<u8>>, GitError> {
    let request: String = oids.map(|oid| format!("{oid}\n")).collect();
    let count = request.lines().count();
    let mut child = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from another thread: git answers while it reads, and both pipes have limits.
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let unexpected = |detail: String| GitError::Unexpected {
        command: "cat-file --batch".to_owned(),
        detail,
    };
    let mut blobs = Vec::with_capacity(count);
    for _ in 0..count {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|err| unexpected(err.to_string()))?;
        let size = header
            .split(' ')
            .nth(2)
            .and_then(|size| size.trim_end().parse::<usize>().ok())
            .ok_or_else(|| unexpected(header.trim_end().to_owned()))?;
        let mut bytes = vec![0; size + 1];
        reader
            .read_exact(&mut bytes)
            .map_err(|err| unexpected(err.to_string()))?;
        bytes.pop();
        blobs.push(bytes);
    }
    let _ = writer.join();
    let output = child.wait_with_output().map_err(GitError::Spawn)?;
    if !output.status.success() {
        return Err(GitError::Failed {
            command: "cat-file --batch".to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(blobs)
}

/// Runs git in `dir` and returns its stdout, or the failure with git's own message.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !output.status.success() {
        return Err(GitError::Failed {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output.stdout)
}
