//! The spool: a scratch file in the output's state directory holding files a build has
//! computed but not yet written (the publish log's tiles and hint files).
//!
//! A first build of a large registry appends every version to the log; held in memory until
//! the write stage, its tiles and hints would grow with the registry (hundreds of megabytes at
//! a million versions, bench/RESULTS.md). Spooled, each file costs the build its path and
//! where its bytes lie in the spool. The spool is not part of the registry: a build killed
//! while it exists leaves it behind in the state directory, where the next build replaces it,
//! and a build that ends, even refused, removes it.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::common::fsutil::{self, IoContext, IoError};

/// The spool's name in the state directory. One name, not a fresh one per build: the build
/// lock makes a build the only user, and a killed build's spool is replaced, not accumulated.
pub const FILE_NAME: &str = "log-spool";

/// Where one file's bytes lie in the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    offset: u64,
    len: u64,
}

/// A spool being filled.
#[derive(Debug)]
pub struct Spool {
    // Declared before `scratch`, so the file is closed before it is removed.
    file: BufWriter<File>,
    end: u64,
    scratch: Scratch,
}

/// A filled spool, read from by the write stage.
#[derive(Debug)]
pub struct Spooled {
    // One handle, so a read is a seek and a read under the lock; reads are few and small next
    // to the writes they feed (a tile is 8 KiB).
    file: Mutex<File>,
    scratch: Scratch,
}

/// Removes the spool file when the build is done with it.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Drop for Scratch {
    /// Best effort: a spool left behind holds nothing anyone reads, and the next build
    /// replaces it.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Spool {
    /// Starts an empty spool in `state_dir`, replacing any a killed build left.
    pub fn create(state_dir: &Path) -> Result<Spool, IoError> {
        let path = state_dir.join(FILE_NAME);
        let file = fsutil::create_scratch_file(&path)?;
        Ok(Spool {
            file: BufWriter::new(file),
            end: 0,
            scratch: Scratch(path),
        })
    }

    /// Appends one file's bytes.
    pub fn put(&mut self, bytes: &[u8]) -> Result<Span, IoError> {
        self.file
            .write_all(bytes)
            .with_path("cannot write", &self.scratch.0)?;
        let span = Span {
            offset: self.end,
            len: bytes.len() as u64,
        };
        self.end += span.len;
        Ok(span)
    }

    /// Ends the filling: everything put is then readable.
    pub fn finish(self) -> Result<Spooled, IoError> {
        let Spool { file, scratch, .. } = self;
        let file = file
            .into_inner()
            .map_err(|err| IoError::new("cannot write", &scratch.0, err.into_error()))?;
        Ok(Spooled {
            file: Mutex::new(file),
            scratch,
        })
    }
}

impl Spooled {
    /// The bytes of the file put at `span`.
    pub fn read(&self, span: Span) -> Result<Vec<u8>, IoError> {
        let path = &self.scratch.0;
        let len = usize::try_from(span.len)
            .map_err(|_| IoError::new("cannot read", path, std::io::Error::other("too long")))?;
        let mut bytes = vec![0; len];
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.seek(SeekFrom::Start(span.offset))
            .with_path("cannot read", path)?;
        file.read_exact(&mut bytes).with_path("cannot read", path)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_put_read_back_and_the_spool_goes_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"left by a killed build").unwrap();
        let mut spool = Spool::create(dir.path()).unwrap();
        let spans: Vec<Span> = [&b"first"[..], b"", b"third file"]
            .iter()
            .map(|bytes| spool.put(bytes).unwrap())
            .collect();
        let spooled = spool.finish().unwrap();
        assert_eq!(spooled.read(spans[2]).unwrap(), b"third file");
        assert_eq!(spooled.read(spans[0]).unwrap(), b"first");
        assert_eq!(spooled.read(spans[1]).unwrap(), b"");
        assert_eq!(
            std::fs::read(dir.path().join(FILE_NAME)).unwrap(),
            b"firstthird file"
        );
        drop(spooled);
        assert!(!dir.path().join(FILE_NAME).exists());
        let unfinished = Spool::create(dir.path()).unwrap();
        drop(unfinished);
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}
