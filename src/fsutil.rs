//! File system operations that always name the path they failed on, and atomic writes.
//!
//! Every write in the crate goes through [`write_atomic`]: the bytes go to a temporary file in
//! the same directory, which is then renamed over the destination. A process killed at any
//! moment therefore leaves either the old file or the new one, never a torn one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An I/O failure together with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct IoError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl IoError {
    pub fn new(action: &'static str, path: &Path, source: io::Error) -> IoError {
        IoError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Shorthand for attaching a path to an `io::Result`.
pub trait IoContext<T> {
    fn with_path(self, action: &'static str, path: &Path) -> Result<T, IoError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn with_path(self, action: &'static str, path: &Path) -> Result<T, IoError> {
        self.map_err(|source| IoError::new(action, path, source))
    }
}

pub fn read(path: &Path) -> Result<Vec<u8>, IoError> {
    fs::read(path).with_path("cannot read", path)
}

/// Reads a file that may legitimately be missing.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, IoError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(IoError::new("cannot read", path, err)),
    }
}

/// A directory walk's error as an [`IoError`] naming the path it failed on (or `root`).
pub fn walk_error(err: walkdir::Error, root: &Path) -> IoError {
    let path = err.path().unwrap_or(root).to_path_buf();
    let source = err
        .into_io_error()
        .unwrap_or_else(|| io::Error::other("file system loop"));
    IoError::new("cannot read", &path, source)
}

pub fn create_dir_all(path: &Path) -> Result<(), IoError> {
    fs::create_dir_all(path).with_path("cannot create directory", path)
}

/// Writes `bytes` to `path` atomically: a temporary sibling file, then a rename.
///
/// With `durable`, the file is flushed to disk before the rename and the directory after it.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> Result<(), IoError> {
    write_atomic_with(path, |writer| {
        writer.write_all(bytes)?;
        writer.flush()?;
        if durable {
            writer.get_ref().sync_all()?;
        }
        Ok(())
    })?;
    if durable && let Some(Ok(dir)) = path.parent().map(fs::File::open) {
        // Makes the rename itself durable; failing here loses nothing already written.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Streams a file's content through `write` into a temporary sibling of `path`, then renames it
/// into place; on any failure the temporary file is removed and `path` is untouched.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
) -> Result<(), IoError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = fs::File::create(&temp).with_path("cannot create", &temp)?;
        let mut writer = io::BufWriter::new(file);
        write(&mut writer).with_path("cannot write", &temp)?;
        drop(writer);
        fs::rename(&temp, path).with_path("cannot move into place", path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Creates a file that only its owner can read, refusing to replace an existing one: for
/// secret keys.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_path("cannot create", path)?;
    file.write_all(bytes).with_path("cannot write", path)?;
    file.sync_all().with_path("cannot flush", path)
}

/// The name prefix of the temporary files a [`Staging`] writer creates.
pub const TEMP_PREFIX: &str = ".~perstack-";

/// Writes files atomically into an output tree: each file goes to a temporary sibling, then is
/// renamed into place.
///
/// The temporary file sits in the destination's own directory because a rename across
/// directories takes a file-system-wide lock on Linux, which serialized a build's writers. A
/// marker file says a writer is at work: if a process is killed, the marker survives, and the
/// next writer first sweeps the tree for the killed one's temporary files, so none of them stays
/// behind in a tree that a static host might upload.
#[derive(Debug)]
pub struct Staging {
    marker: PathBuf,
    counter: std::sync::atomic::AtomicU64,
}

impl Staging {
    /// Starts writing into `tree`, sweeping it first if the last writer was killed. The caller
    /// must hold the lock that makes it the only writer; `marker` lives outside what is served.
    pub fn new(tree: &Path, marker: PathBuf) -> Result<Staging, IoError> {
        if marker.exists() {
            for entry in walkdir::WalkDir::new(tree)
                .into_iter()
                .filter_map(Result::ok)
            {
                let is_temp = entry.file_type().is_file()
                    && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX);
                if is_temp {
                    fs::remove_file(entry.path()).with_path("cannot remove", entry.path())?;
                }
            }
        }
        fs::write(&marker, b"").with_path("cannot create", &marker)?;
        Ok(Staging {
            marker,
            counter: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Writes `bytes` to `path` by way of a temporary sibling and a rename.
    pub fn write(&self, path: &Path, bytes: &[u8], durable: bool) -> Result<(), IoError> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = path.parent().unwrap_or(Path::new("."));
        let temp = dir.join(format!("{TEMP_PREFIX}{}.{n}.tmp", std::process::id()));
        let result = (|| {
            let mut file = match fs::File::create(&temp) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    create_dir_all(dir)?;
                    fs::File::create(&temp)
                }
                other => other,
            }
            .with_path("cannot create", &temp)?;
            file.write_all(bytes).with_path("cannot write", &temp)?;
            if durable {
                file.sync_all().with_path("cannot flush", &temp)?;
            }
            drop(file);
            fs::rename(&temp, path).with_path("cannot move into place", path)?;
            if durable && let Ok(dir) = fs::File::open(dir) {
                // Makes the rename itself durable; failing here loses nothing already written.
                let _ = dir.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Writes a content-addressed file unless it already exists. Because the name is the hash
    /// of the bytes, and files only ever appear complete (by rename), an existing file already
    /// holds exactly these bytes. Returns whether the file was written.
    pub fn write_if_absent(&self, path: &Path, bytes: &[u8]) -> Result<bool, IoError> {
        if path.exists() {
            return Ok(false);
        }
        self.write(path, bytes, false)?;
        Ok(true)
    }

    /// Writes a file at a stable path when its content differs (or it is missing).
    pub fn write_if_changed(
        &self,
        path: &Path,
        bytes: &[u8],
        durable: bool,
    ) -> Result<bool, IoError> {
        if read_optional(path)?.as_deref() == Some(bytes) {
            return Ok(false);
        }
        self.write(path, bytes, durable)?;
        Ok(true)
    }
}

impl Drop for Staging {
    /// Every write either completed or removed its temporary file, even on error, so there is
    /// nothing to sweep next time; only a killed process leaves the marker behind.
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.marker);
    }
}
