//! A registry as one file: a tar archive of its directory, for carrying a mirror where no
//! network reaches (`mirror SRC registry.tar`, then `mirror registry.tar DEST` or
//! `verify registry.tar` on the other side).
//!
//! **Writing** ([`write()`]) is reproducible: the same tree gives the same bytes. Entries are the
//! regular files of the tree, sorted by path bytes, each with mode 0644, uid and gid 0, no user
//! or group name and mtime 0, so nothing of the host or the moment leaks in; a path longer than
//! the 100 bytes a tar header holds goes in a GNU long-name entry, which GNU tar, bsdtar and
//! Python's tarfile all read. No directory entries: extracting tools create parents anyway.
//! The archive is written to a temporary sibling and renamed into place.
//!
//! **Reading** ([`Archive`]) indexes the archive once and then serves each file by seeking to
//! it, so a reader holds one path per entry in memory, not the registry. An archive is
//! untrusted input, so it is refused whole, before any file is served, when an entry's name is
//! absolute, holds `..`, `.` or an empty segment, a backslash or NUL, is not UTF-8 or is longer
//! than [`MAX_PATH_BYTES`]; when an entry is a link, a device or anything but a file or a
//! directory; when a name appears twice, or a file is also the parent of another entry; when an
//! entry is larger than [`MAX_ENTRY_BYTES`] or runs past the end of the archive. Names never
//! become paths on disk: a reader asks for the paths the registry's root reaches, and every
//! file is then checked against its hash by the same code that checks files fetched over HTTP.
//!
//! The `tar` crate parses headers (checksums, numeric fields). Long-name and pax entries are
//! read here, in its raw mode, because its own handling reads them whole whatever their size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::common::fsutil::{self, IoContext, IoError};

/// The longest entry name accepted: far above any path a registry has (an expert name is at
/// most 255 bytes), far below what would make the index costly.
pub const MAX_PATH_BYTES: usize = 4096;
/// The largest entry accepted: the largest file a registry source serves (a format-1 snapshot
/// of a very large registry). Each read is bounded further by what the registry's metadata allows.
pub const MAX_ENTRY_BYTES: u64 = 256 * 1024 * 1024;
/// The largest pax extended header accepted: its records only rename the next entry.
const MAX_PAX_BYTES: u64 = 64 * 1024;
/// pax keys that carry nothing a registry reader uses and cannot change what an entry holds.
const IGNORED_PAX_KEYS: &[&str] = &[
    "atime", "ctime", "mtime", "uid", "gid", "uname", "gname", "comment",
];

/// An archive that cannot be read as a registry, with the archive's path.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{archive}: {message}")]
pub struct ArchiveError {
    pub archive: PathBuf,
    pub message: String,
}

/// A registry archive, indexed and open for reading.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    file: Mutex<File>,
    /// Each file's data offset and size, by relative path.
    files: BTreeMap<String, (u64, u64)>,
}

impl Archive {
    /// Opens and indexes the archive at `path`, refusing it whole when any entry breaks the
    /// rules of the module documentation.
    pub fn open(path: &Path) -> Result<Archive, ArchiveError> {
        let error = |message: String| ArchiveError {
            archive: path.to_path_buf(),
            message,
        };
        let io_error = |err: IoError| error(err.to_string());
        let file = File::open(path)
            .with_path("cannot open", path)
            .map_err(io_error)?;
        let length = file
            .metadata()
            .with_path("cannot read", path)
            .map_err(io_error)?
            .len();
        let reader = file
            .try_clone()
            .with_path("cannot open", path)
            .map_err(io_error)?;
        let files = index(BufReader::new(reader), length).map_err(error)?;
        Ok(Archive {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            files,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where `relative` lives, for messages: `registry.tar!/v1/root.json`.
    pub fn location(&self, relative: &str) -> String {
        format!("{}!/{relative}", self.path.display())
    }

    /// The relative paths of every file, in byte order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The size of the file at `relative`, if the archive holds one.
    pub fn size(&self, relative: &str) -> Option<u64> {
        self.files.get(relative).map(|(_, size)| *size)
    }

    /// The bytes of the file at `relative`, `None` when the archive holds no such file. The
    /// caller has checked the size against what it may read.
    pub fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, IoError> {
        let Some(&(offset, size)) = self.files.get(relative) else {
            return Ok(None);
        };
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut bytes = vec![0; usize::try_from(size).unwrap_or(usize::MAX)];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut bytes))
            .with_path("cannot read", &self.path)?;
        Ok(Some(bytes))
    }
}

/// The paths of the files of an archive held in memory, in byte order, or why [`Archive::open`]
/// would refuse it: the same checks, for the fuzz target.
pub fn list(bytes: &[u8]) -> Result<Vec<String>, String> {
    index(bytes, bytes.len() as u64).map(|files| files.into_keys().collect())
}

/// Reads every header of the archive and returns its files' offsets and sizes, or what is
/// wrong with it.
fn index(reader: impl Read, length: u64) -> Result<BTreeMap<String, (u64, u64)>, String> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|err| format!("not a tar archive: {err}"))?
        .raw(true);
    let mut files = BTreeMap::new();
    let mut directories = std::collections::BTreeSet::new();
    // The name a long-name or pax entry gives the entry after it.
    let mut next_name: Option<Vec<u8>> = None;
    for entry in entries {
        let mut entry =
            entry.map_err(|err| format!("not a tar archive, or a damaged one: {err}"))?;
        let kind = entry.header().entry_type();
        let size = entry.size();
        let offset = entry.raw_file_position();
        if offset.checked_add(size).is_none_or(|end| end > length) {
            return Err("truncated: an entry runs past the end of the archive".to_owned());
        }
        let extension = kind.is_gnu_longname() || kind.is_pax_local_extensions();
        if extension && next_name.is_some() {
            return Err("two long-name or pax entries describe one entry".to_owned());
        }
        if kind.is_gnu_longname() {
            next_name = Some(long_name(&mut entry, size)?);
            continue;
        }
        if kind.is_pax_local_extensions() || kind.is_pax_global_extensions() {
            let path = pax_path(&mut entry, size)?;
            if kind.is_pax_global_extensions() {
                if path.is_some() {
                    return Err("a global pax header names a path for every entry".to_owned());
                }
            } else {
                next_name = path;
            }
            continue;
        }
        let raw_name = next_name
            .take()
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let name = check_name(&raw_name)?;
        if kind.is_dir() {
            if name.is_empty() {
                continue;
            }
            if files.contains_key(&name) || !directories.insert(name.clone()) {
                return Err(format!("entry \"{name}\" appears twice"));
            }
            continue;
        }
        if !kind.is_file() {
            return Err(format!(
                "entry \"{name}\" is {}; a registry archive holds only files and directories",
                describe(kind)
            ));
        }
        if name.is_empty() {
            return Err("an entry has an empty name".to_owned());
        }
        if size > MAX_ENTRY_BYTES {
            return Err(format!(
                "entry \"{name}\" is {size} bytes, more than any registry file may be ({MAX_ENTRY_BYTES} bytes)"
            ));
        }
        if directories.contains(&name) || files.insert(name.clone(), (offset, size)).is_some() {
            return Err(format!("entry \"{name}\" appears twice"));
        }
    }
    if next_name.is_some() {
        return Err("truncated: a long-name or pax entry describes no entry".to_owned());
    }
    for name in files.keys() {
        let mut parent = name.as_str();
        while let Some((above, _)) = parent.rsplit_once('/') {
            if files.contains_key(above) {
                return Err(format!(
                    "entry \"{above}\" is a file and also the directory of \"{name}\""
                ));
            }
            parent = above;
        }
    }
    Ok(files)
}

/// The name a GNU long-name entry holds, read no further than [`MAX_PATH_BYTES`].
fn long_name(entry: &mut impl Read, size: u64) -> Result<Vec<u8>, String> {
    if size > MAX_PATH_BYTES as u64 + 1 {
        return Err(format!(
            "a long-name entry of {size} bytes; names may have at most {MAX_PATH_BYTES}"
        ));
    }
    let mut name = Vec::new();
    entry
        .read_to_end(&mut name)
        .map_err(|err| format!("cannot read a long-name entry: {err}"))?;
    while name.last() == Some(&0) {
        name.pop();
    }
    Ok(name)
}

/// The `path` a pax extended header gives, refusing records that would change what the next
/// entry holds (its size, a link target) or that this reader does not know.
fn pax_path(entry: &mut impl Read, size: u64) -> Result<Option<Vec<u8>>, String> {
    if size > MAX_PAX_BYTES {
        return Err(format!(
            "a pax header of {size} bytes; at most {MAX_PAX_BYTES} are accepted"
        ));
    }
    let mut records = Vec::new();
    entry
        .read_to_end(&mut records)
        .map_err(|err| format!("cannot read a pax header: {err}"))?;
    let mut path = None;
    for record in tar::PaxExtensions::new(&records) {
        let record = record.map_err(|err| format!("a malformed pax header: {err}"))?;
        match record.key() {
            Ok("path") => path = Some(record.value_bytes().to_vec()),
            Ok(key) if IGNORED_PAX_KEYS.contains(&key) => {}
            key => {
                return Err(format!(
                    "a pax header sets \"{}\", which a registry archive does not use",
                    key.unwrap_or("(not UTF-8)").escape_debug()
                ));
            }
        }
    }
    Ok(path)
}

/// The entry's name as a relative path inside the registry (a leading `./`, as `tar -C dir .`
/// writes, and a directory's trailing `/` dropped), or why it cannot be one.
fn check_name(raw: &[u8]) -> Result<String, String> {
    let shown = String::from_utf8_lossy(raw).escape_debug().to_string();
    if raw.len() > MAX_PATH_BYTES {
        return Err(format!(
            "an entry name of {} bytes; names may have at most {MAX_PATH_BYTES}",
            raw.len()
        ));
    }
    let name = std::str::from_utf8(raw)
        .map_err(|_| format!("entry \"{shown}\" has a name that is not UTF-8"))?;
    let name = name.strip_prefix("./").unwrap_or(name);
    let name = name.strip_suffix('/').unwrap_or(name);
    if name == "." || name.is_empty() {
        return Ok(String::new());
    }
    let bad = name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad {
        return Err(format!(
            "entry \"{shown}\" is not a path inside the registry (absolute, or with \"..\", \".\", an empty segment, a backslash or NUL); refusing the whole archive"
        ));
    }
    Ok(name.to_owned())
}

fn describe(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "a symbolic link",
        tar::EntryType::Link => "a hard link",
        tar::EntryType::Char | tar::EntryType::Block => "a device",
        tar::EntryType::Fifo => "a FIFO",
        tar::EntryType::GNUSparse => "a sparse file",
        _ => "an entry of an unknown type",
    }
}

/// What [`write()`] put in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub files: usize,
    /// The archive's own size in bytes.
    pub bytes: u64,
}

/// Writes every regular file below `dir` whose relative path `include` accepts into a tar
/// archive at `archive`, reproducibly (see the module documentation), by way of a temporary
/// sibling and a rename. A symbolic link below `dir` is refused, never followed.
pub fn write(
    dir: &Path,
    archive: &Path,
    include: impl Fn(&str) -> bool,
) -> Result<Written, IoError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false).min_depth(1) {
        let entry = entry.map_err(|err| fsutil::walk_error(err, dir))?;
        let relative = entry
            .path()
            .strip_prefix(dir)
            .expect("a walk stays below its root")
            .to_str()
            .map(|text| text.replace(std::path::MAIN_SEPARATOR, "/"));
        let Some(relative) = relative else {
            return Err(IoError::new(
                "cannot archive",
                entry.path(),
                io::Error::other("the path is not UTF-8"),
            ));
        };
        if !include(&relative) || entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            return Err(IoError::new(
                "refusing to archive",
                entry.path(),
                io::Error::other("not a regular file (a registry holds no links)"),
            ));
        }
        files.push(relative);
    }
    // Byte order of the whole path, not the walk's order per directory.
    files.sort();
    fsutil::write_atomic_with(archive, |writer| {
        let mut builder = tar::Builder::new(writer);
        for relative in &files {
            let path = dir.join(relative);
            let mut file = File::open(&path).map_err(|err| with_path(err, &path))?;
            let size = file.metadata().map_err(|err| with_path(err, &path))?.len();
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(size);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            // Exactly `size` bytes, even if the file grew since: the header promised that many.
            let mut data = (&mut file).take(size);
            builder.append_data(&mut header, relative, &mut data)?;
        }
        let writer = builder.into_inner()?;
        writer.flush()?;
        writer.get_ref().sync_all()
    })?;
    let bytes = std::fs::metadata(archive)
        .with_path("cannot read", archive)?
        .len();
    Ok(Written {
        files: files.len(),
        bytes,
    })
}

/// An I/O error inside the archive writer, with the file it concerns in its message (the
/// writer's own error names the archive).
fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_registry() {
        assert_eq!(check_name(b"v1/root.json").unwrap(), "v1/root.json");
        assert_eq!(check_name(b"./v1/root.json").unwrap(), "v1/root.json");
        assert_eq!(check_name(b"v1/").unwrap(), "v1");
        assert_eq!(check_name(b"./").unwrap(), "");
        for bad in [
            &b"../x"[..],
            b"/etc/passwd",
            b"v1/../../x",
            b"v1//x",
            b"v1\\x",
            b"v1/./x",
            b"v1/\xff",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&vec![b'a'; MAX_PATH_BYTES + 1]).is_err());
    }
}
