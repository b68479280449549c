//! File system operations that always name the path they failed on, and atomic writes.
//!
//! Every write that replaces a file goes through a rename ([`write_atomic`], [`Staging`]): the
//! bytes go to a temporary file in the same directory, which is then renamed over the
//! destination. A process killed at any moment therefore leaves either the old file or the new
//! one, never a torn one. A build creates files at paths that did not exist in place, which no
//! earlier reader can see; [`Staging`] explains how a killed build's torn files are repaired.

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

/// Removes a file that may legitimately be missing.
pub fn remove_file_if_exists(path: &Path) -> Result<(), IoError> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(IoError::new("cannot remove", path, err))
        }
        _ => Ok(()),
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

/// Writes files into an output tree so that no reader of what the tree published before ever
/// sees a torn file.
///
/// A file that replaces another goes to a temporary sibling, then is renamed into place. The
/// temporary file sits in the destination's own directory because a rename across directories
/// takes a file-system-wide lock on Linux, which would serialize a build's writers.
///
/// A file at a path that does not exist yet may, with [`Staging::for_build`], be created in
/// place (`O_CREAT | O_EXCL`): nothing published before can refer to a path that did not
/// exist, and creating in place saves the rename and two lookups per file, a large share of the
/// cost of creating hundreds of thousands of files (bench/RESULTS.md).
///
/// A marker file says a writer is at work. If a process is killed, the marker survives, and the
/// next writer first sweeps the tree for the killed one's temporary files, so none of them stays
/// behind in a tree that a static host might upload; it then *recovers*: a file the killed
/// writer was creating in place may be torn, so an existing hash-named file is trusted only
/// after its bytes are compared, and files at stable paths are always compared anyway.
#[derive(Debug)]
pub struct Staging {
    /// The tree written into; no write goes through a symbolic link below it.
    tree: PathBuf,
    /// Directories below `tree` already found to be real directories, not links.
    real_dirs: std::sync::RwLock<std::collections::HashSet<PathBuf>>,
    marker: PathBuf,
    counter: std::sync::atomic::AtomicU64,
    create_in_place: bool,
    recovering: bool,
}

/// The environment variable of the crash-test hook: the Nth write of a `Staging` aborts the
/// process half-way (see `crash_due`).
pub const CRASH_AFTER_ENV: &str = "PERSTACK_REGISTRY_CRASH_AFTER";

/// Whether this write is the one a crash test asked to crash in: with
/// `PERSTACK_REGISTRY_CRASH_AFTER=N` in the environment, the Nth file a [`Staging`] writes in
/// this process is left half written and the process aborts on the spot, running no
/// destructor, as under SIGKILL. The crash tests use it to stop a build or a mirror at an exact
/// point instead of killing it after guessed delays; it is never set otherwise.
fn crash_due() -> bool {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static CRASH_AFTER: OnceLock<Option<u64>> = OnceLock::new();
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let Some(after) = *CRASH_AFTER.get_or_init(|| {
        std::env::var(CRASH_AFTER_ENV)
            .ok()
            .and_then(|n| n.parse().ok())
    }) else {
        return false;
    };
    WRITES.fetch_add(1, Ordering::Relaxed) + 1 == after
}

/// Writes the first half of `bytes` and aborts: the crash a crash test asked for.
fn crash_in_the_middle(file: &mut fs::File, bytes: &[u8]) -> ! {
    let _ = file.write_all(&bytes[..bytes.len() / 2]);
    std::process::abort()
}

impl Staging {
    /// Starts writing into `tree`, every file by rename, sweeping the tree first if the last
    /// writer was killed. The caller must hold the lock that makes it the only writer; `marker`
    /// lives outside what is served.
    pub fn new(tree: &Path, marker: PathBuf) -> Result<Staging, IoError> {
        let recovering = marker.exists();
        if recovering {
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
        create_private_file(&marker)?;
        Ok(Staging {
            tree: tree.to_path_buf(),
            real_dirs: Default::default(),
            marker,
            counter: std::sync::atomic::AtomicU64::new(0),
            create_in_place: false,
            recovering,
        })
    }

    /// Like [`Staging::new`], but files at paths that do not exist yet are created in place.
    /// For a tree whose readers follow a root written last (a build's output); not for a cache
    /// that trusts what it finds.
    pub fn for_build(tree: &Path, marker: PathBuf) -> Result<Staging, IoError> {
        let mut staging = Staging::new(tree, marker)?;
        staging.create_in_place = true;
        Ok(staging)
    }

    /// Whether the last writer was killed, so that files it created may be torn.
    pub fn recovering(&self) -> bool {
        self.recovering
    }

    /// Writes `bytes` to `path` by way of a temporary sibling and a rename.
    pub fn write(&self, path: &Path, bytes: &[u8], durable: bool) -> Result<(), IoError> {
        self.confine(path)?;
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
            if crash_due() {
                crash_in_the_middle(&mut file, bytes);
            }
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

    /// Creates `path` holding `bytes` if nothing is there yet, in one system call that both
    /// checks and creates. Returns `false`, writing nothing, when the path exists.
    fn create_new(&self, path: &Path, bytes: &[u8]) -> Result<bool, IoError> {
        // `O_EXCL` never follows a link at `path` (it fails as if a file were there), so the
        // path itself is looked at only when something is there already.
        self.confine_dirs(path)?;
        let open = || fs::File::create_new(path);
        let exists = || refuse_link_at(path).map(|()| false);
        let mut file = match open() {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return exists(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
                match open() {
                    Ok(file) => file,
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return exists(),
                    Err(err) => return Err(IoError::new("cannot create", path, err)),
                }
            }
            Err(err) => return Err(IoError::new("cannot create", path, err)),
        };
        if crash_due() {
            crash_in_the_middle(&mut file, bytes);
        }
        if let Err(err) = file.write_all(bytes) {
            drop(file);
            // A torn file must not stay at its final name.
            let _ = fs::remove_file(path);
            return Err(IoError::new("cannot write", path, err));
        }
        Ok(true)
    }

    /// Writes a content-addressed file unless it already exists. Because the name is the hash
    /// of the bytes, an existing file already holds exactly these bytes, unless a killed writer
    /// left it torn, which is why a recovering writer compares. Returns whether it wrote.
    pub fn write_if_absent(&self, path: &Path, bytes: &[u8]) -> Result<bool, IoError> {
        if self.recovering {
            return self.write_if_changed(path, bytes, false);
        }
        if self.create_in_place {
            return self.create_new(path, bytes);
        }
        if path.exists() {
            return Ok(false);
        }
        self.write(path, bytes, false)?;
        Ok(true)
    }

    /// Writes a file at a stable path when its content differs (or it is missing). A durable
    /// write (the root) always goes by rename and is flushed to disk.
    pub fn write_if_changed(
        &self,
        path: &Path,
        bytes: &[u8],
        durable: bool,
    ) -> Result<bool, IoError> {
        if self.create_in_place && !durable && self.create_new(path, bytes)? {
            return Ok(true);
        }
        self.confine(path)?;
        if read_optional(path)?.as_deref() == Some(bytes) {
            return Ok(false);
        }
        self.write(path, bytes, durable)?;
        Ok(true)
    }

    /// Makes `link` another name of the complete file `original` (which holds `bytes`), or, if
    /// `link` exists, rewrites it when its content differs. A hard link costs no new inode and
    /// no data, which is what makes a file served under several names cheap; where the file
    /// system refuses links, the bytes are written instead.
    pub fn link_if_changed(
        &self,
        original: &Path,
        link: &Path,
        bytes: &[u8],
    ) -> Result<bool, IoError> {
        if self.create_in_place {
            self.confine(link)?;
            let mut linked = fs::hard_link(original, link);
            if let Err(err) = &linked
                && err.kind() == io::ErrorKind::NotFound
                && let Some(dir) = link.parent()
            {
                create_dir_all(dir)?;
                linked = fs::hard_link(original, link);
            }
            // On any other failure (an existing file, no hard links on this file system), the
            // bytes are compared and written instead.
            if linked.is_ok() {
                return Ok(true);
            }
        }
        self.write_if_changed(link, bytes, false)
    }
}

impl Staging {
    /// Refuses a write to `path` that would go through a symbolic link below the tree, or
    /// replace or read through one at `path` itself: a link planted in the output (a committed
    /// `dist/`, a doctored cache) must not make a writer touch a file outside its tree, nor
    /// stay where a registry file belongs for an upload to follow.
    fn confine(&self, path: &Path) -> Result<(), IoError> {
        refuse_link_at(path)?;
        self.confine_dirs(path)
    }

    /// The directory half of [`Staging::confine`]: no link between the tree and `path`.
    fn confine_dirs(&self, path: &Path) -> Result<(), IoError> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        if self
            .real_dirs
            .read()
            .is_ok_and(|dirs| dirs.contains(parent))
        {
            return Ok(());
        }
        let Ok(below) = parent.strip_prefix(&self.tree) else {
            return Ok(());
        };
        let mut dir = self.tree.clone();
        for component in below.components() {
            dir.push(component);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_refused(&dir)),
                // Not there yet: the writer creates it, as a real directory.
                Err(_) => return Ok(()),
                Ok(_) => {}
            }
        }
        if let Ok(mut dirs) = self.real_dirs.write() {
            dirs.insert(parent.to_path_buf());
        }
        Ok(())
    }
}

/// Refuses a symbolic link at `path` itself.
fn refuse_link_at(path: &Path) -> Result<(), IoError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(symlink_refused(path)),
        _ => Ok(()),
    }
}

fn symlink_refused(path: &Path) -> IoError {
    IoError::new(
        "refusing to write through",
        path,
        io::Error::other(
            "a symbolic link is where a registry file or directory belongs; remove it (the output must hold only files this program wrote)",
        ),
    )
}

/// Creates `path` and its parents as real directories, refusing a symbolic link at `path`: a
/// state directory planted as a link would send a writer's private files elsewhere.
pub fn create_real_dir(path: &Path) -> Result<(), IoError> {
    refuse_link_at(path)?;
    create_dir_all(path)
}

/// Creates (or empties) a small state file such as a lock or a marker, refusing to follow a
/// symbolic link there: a planted link would make the writer truncate whatever it points at.
pub fn create_private_file(path: &Path) -> Result<fs::File, IoError> {
    refuse_link_at(path)?;
    fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .with_path("cannot create", path)
}

/// Creates `path` afresh (removing what a killed process left there) for reading and writing,
/// refusing to follow a symbolic link there: a scratch file in a state directory.
pub fn create_scratch_file(path: &Path) -> Result<fs::File, IoError> {
    refuse_link_at(path)?;
    remove_file_if_exists(path)?;
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).with_path("cannot create", path)
}

impl Drop for Staging {
    /// Every write either completed or removed its temporary or torn file, even on error, so
    /// there is nothing to sweep or repair next time. A killed process leaves the marker
    /// behind, and so does a panic, which can stop a write midway.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_file(&self.marker);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn staging(tree: &Path) -> Staging {
        Staging::for_build(tree, tree.join(".writing")).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_build_creates_new_files_in_place_and_replaces_changed_ones_by_rename() {
        let tree = tempfile::tempdir().unwrap();
        let path = tree.path().join("a/b/page.html");
        let writer = staging(tree.path());
        assert!(writer.write_if_changed(&path, b"one", false).unwrap());
        let first_inode = fs::metadata(&path).unwrap().ino();
        assert!(!writer.write_if_changed(&path, b"one", false).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().ino(), first_inode);
        assert!(writer.write_if_changed(&path, b"two", false).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // Replaced, not rewritten in place: a reader holding the old file keeps its bytes.
        assert_ne!(fs::metadata(&path).unwrap().ino(), first_inode);
        assert_eq!(names(&tree.path().join("a/b")), ["page.html"]);
    }

    #[test]
    fn an_existing_hash_named_file_is_trusted_unless_the_last_writer_was_killed() {
        let tree = tempfile::tempdir().unwrap();
        let blob = tree.path().join("blobs/ab.toml");
        fs::create_dir_all(blob.parent().unwrap()).unwrap();
        // What a writer killed in the middle of creating the file in place leaves behind.
        fs::write(&blob, b"tor").unwrap();
        {
            let writer = staging(tree.path());
            assert!(!writer.recovering());
            assert!(!writer.write_if_absent(&blob, b"torn?").unwrap());
            assert_eq!(fs::read(&blob).unwrap(), b"tor");
            std::mem::forget(writer); // killed: the marker stays
        }
        let writer = staging(tree.path());
        assert!(writer.recovering());
        assert!(writer.write_if_absent(&blob, b"torn?").unwrap());
        assert_eq!(fs::read(&blob).unwrap(), b"torn?");
        drop(writer);
        assert!(!tree.path().join(".writing").exists());
    }

    #[test]
    fn aliases_are_hard_links_and_an_alias_that_changed_is_replaced_on_its_own() {
        let tree = tempfile::tempdir().unwrap();
        let original = tree.path().join("x@1.0.0");
        let alias = tree.path().join("scope/x@latest");
        let writer = staging(tree.path());
        writer.write_if_changed(&original, b"v1", false).unwrap();
        assert!(writer.link_if_changed(&original, &alias, b"v1").unwrap());
        assert_eq!(
            fs::metadata(&alias).unwrap().ino(),
            fs::metadata(&original).unwrap().ino()
        );
        assert!(!writer.link_if_changed(&original, &alias, b"v1").unwrap());

        let newer = tree.path().join("x@1.1.0");
        writer.write_if_changed(&newer, b"v2", false).unwrap();
        assert!(writer.link_if_changed(&newer, &alias, b"v2").unwrap());
        assert_eq!(fs::read(&alias).unwrap(), b"v2");
        assert_eq!(
            fs::read(&original).unwrap(),
            b"v1",
            "the old version is untouched"
        );
    }

    #[test]
    fn a_writer_that_panics_leaves_the_marker_so_the_next_one_recovers() {
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path().to_path_buf();
        let panicked = std::thread::spawn(move || {
            let _writer = staging(&root);
            panic!("stopped midway");
        })
        .join();
        assert!(panicked.is_err());
        assert!(staging(tree.path()).recovering());
    }

    #[test]
    fn a_cache_writer_never_creates_in_place() {
        let tree = tempfile::tempdir().unwrap();
        let writer = Staging::new(tree.path(), tree.path().join(".writing")).unwrap();
        let original = tree.path().join("a");
        let alias = tree.path().join("b");
        writer.write_if_changed(&original, b"x", false).unwrap();
        assert!(writer.link_if_changed(&original, &alias, b"x").unwrap());
        assert_ne!(
            fs::metadata(&alias).unwrap().ino(),
            fs::metadata(&original).unwrap().ino()
        );
    }
}
