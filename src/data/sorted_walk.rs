//! A depth-first walk of a directory in byte order of file names that never follows a symbolic
//! link and opens a directory only when its entries are asked for.
//!
//! `walkdir` reads and sorts a directory as soon as it yields it, so skipping it afterwards
//! saves nothing. The loader skips most expert directories when git reports no change in them,
//! and reading them anyway cost more than a second of a no-change rebuild at 300k versions.

use std::ffi::OsString;
use std::fs::FileType;
use std::path::{Path, PathBuf};

use crate::common::fsutil::{IoContext, IoError};

/// An entry found by the walk.
pub struct Entry {
    path: PathBuf,
    file_type: FileType,
    depth: usize,
}

impl Entry {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry's own type: a symbolic link is a link, never what it points at.
    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    /// 1 for the entries of the root, 2 for theirs, and so on.
    pub fn depth(&self) -> usize {
        self.depth
    }
}

/// The walk below a root (the root itself is not an entry).
pub struct SortedWalk {
    /// The entries still to visit in each open directory, from the root down, each list in
    /// reverse order so the next one is popped from its end.
    open: Vec<Vec<(PathBuf, FileType)>>,
    /// The directory last yielded, opened when the next entry is asked for unless skipped.
    pending: Option<PathBuf>,
}

impl SortedWalk {
    pub fn new(root: &Path) -> SortedWalk {
        SortedWalk {
            open: Vec::new(),
            pending: Some(root.to_path_buf()),
        }
    }

    /// Does not enter the directory just yielded.
    pub fn skip_current_dir(&mut self) {
        self.pending = None;
    }

    pub fn next_entry(&mut self) -> Option<Result<Entry, IoError>> {
        if let Some(dir) = self.pending.take() {
            match read_sorted(&dir) {
                Ok(entries) => self.open.push(entries),
                Err(err) => return Some(Err(err)),
            }
        }
        loop {
            let depth = self.open.len();
            match self.open.last_mut()?.pop() {
                Some((path, file_type)) => {
                    if file_type.is_dir() {
                        self.pending = Some(path.clone());
                    }
                    return Some(Ok(Entry {
                        path,
                        file_type,
                        depth,
                    }));
                }
                None => {
                    self.open.pop();
                }
            }
        }
    }
}

/// The entries of `dir`, in reverse byte order of their names.
fn read_sorted(dir: &Path) -> Result<Vec<(PathBuf, FileType)>, IoError> {
    let mut entries: Vec<(OsString, PathBuf, FileType)> = Vec::new();
    for entry in std::fs::read_dir(dir).with_path("cannot read", dir)? {
        let entry = entry.with_path("cannot read", dir)?;
        let path = entry.path();
        let file_type = entry.file_type().with_path("cannot read", &path)?;
        entries.push((entry.file_name(), path, file_type));
    }
    entries.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    Ok(entries
        .into_iter()
        .map(|(_, path, file_type)| (path, file_type))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::SortedWalk;

    #[test]
    fn walks_in_name_order_and_skips_what_it_is_told_to() {
        let temp = tempfile::tempdir().unwrap();
        for dir in ["b", "a/x", "a/y", "c"] {
            std::fs::create_dir_all(temp.path().join(dir)).unwrap();
        }
        std::fs::write(temp.path().join("a/x/f"), "").unwrap();
        std::fs::write(temp.path().join("a/y/g"), "").unwrap();
        std::fs::write(temp.path().join("B"), "").unwrap();
        let mut walk = SortedWalk::new(temp.path());
        let mut seen = Vec::new();
        while let Some(entry) = walk.next_entry() {
            let entry = entry.unwrap();
            let relative = entry.path().strip_prefix(temp.path()).unwrap();
            seen.push(format!("{} {}", entry.depth(), relative.display()));
            if relative.ends_with("y") {
                walk.skip_current_dir();
            }
        }
        assert_eq!(
            seen,
            ["1 B", "1 a", "2 a/x", "3 a/x/f", "2 a/y", "1 b", "1 c"]
        );
    }
}
