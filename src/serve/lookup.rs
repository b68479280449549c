//! From a request path to what the served directory holds there: the path is percent-decoded
//! and checked, then walked one component at a time without following symlinks, so nothing
//! outside the directory, and nothing the build keeps private, is ever reached.

use std::fs;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

/// The file a directory is served by.
pub const INDEX_FILE: &str = "index.html";

/// A request path, decoded and checked: no `.` or `..` segment, no empty segment, no NUL or
/// backslash, valid UTF-8.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestPath {
    /// The decoded path, starting with `/`, as `_headers` patterns are matched against it.
    pub decoded: String,
    segments: Vec<String>,
    trailing_slash: bool,
}

/// Why a request path was refused before looking at the disk.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadPath {
    #[error("the path does not start with /")]
    NotAbsolute,
    #[error("the path is not UTF-8 once percent-decoded")]
    NotUtf8,
    #[error("the path holds a NUL or a backslash")]
    ForbiddenCharacter,
    #[error("the path has an empty, `.` or `..` segment")]
    BadSegment,
}

impl RequestPath {
    /// Decodes the path of a request target (without its query). `%2F` decodes to a
    /// separator: the Perstack client encodes a whole key, `/` included, as one component.
    pub fn parse(raw: &str) -> Result<RequestPath, BadPath> {
        if !raw.starts_with('/') {
            return Err(BadPath::NotAbsolute);
        }
        let decoded: Vec<u8> = percent_decode_str(raw).collect();
        let decoded = String::from_utf8(decoded).map_err(|_| BadPath::NotUtf8)?;
        if decoded.contains(['\0', '\\']) {
            return Err(BadPath::ForbiddenCharacter);
        }
        let mut segments: Vec<String> = decoded[1..].split('/').map(str::to_owned).collect();
        let trailing_slash = segments.last().is_some_and(String::is_empty);
        if trailing_slash {
            segments.pop();
        }
        if segments
            .iter()
            .any(|segment| matches!(segment.as_str(), "" | "." | ".."))
        {
            return Err(BadPath::BadSegment);
        }
        Ok(RequestPath {
            decoded,
            segments,
            trailing_slash,
        })
    }

    /// Whether the path is under `/api/`, where the Perstack API documents live.
    pub fn is_api(&self) -> bool {
        self.segments.first().is_some_and(|first| first == "api")
    }

    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// Whether the path names something a static host must not publish: a hidden file or
    /// directory (`.perstack-build/`, the build's private state, and temporary files) or
    /// `_headers`, which is the host's configuration.
    pub fn is_private(&self) -> bool {
        self.segments.iter().any(|segment| segment.starts_with('.'))
            || self.segments == [crate::format::headers::HEADERS_PATH]
    }

    /// What `root` (a canonical directory) holds at this path.
    pub fn find(&self, root: &Path) -> Found {
        find(root, self.segments.iter().map(String::as_str))
    }
}

/// What a path leads to. Anything that is not a plain file or directory reached without a
/// symlink, or that cannot be looked at, counts as missing.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    File(PathBuf),
    Dir(PathBuf),
    Missing,
}

/// Walks `segments` down from `root`, checking each component with `symlink_metadata`.
pub fn find<'a>(root: &Path, segments: impl IntoIterator<Item = &'a str>) -> Found {
    let mut found = Found::Dir(root.to_path_buf());
    for segment in segments {
        let Found::Dir(dir) = found else {
            return Found::Missing;
        };
        let path = dir.join(segment);
        found = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_dir() => Found::Dir(path),
            Ok(meta) if meta.file_type().is_file() => Found::File(path),
            _ => Found::Missing,
        };
    }
    found
}

/// The index file of a directory found by [`find`], if it is a plain file.
pub fn index_file(dir: &Path) -> Option<PathBuf> {
    match find(dir, [INDEX_FILE]) {
        Found::File(path) => Some(path),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(raw: &str) -> Vec<String> {
        RequestPath::parse(raw).unwrap().segments
    }

    #[test]
    fn an_encoded_key_decodes_to_directories() {
        assert_eq!(
            segments("/api/registry/v1/experts/%40acme%2Fresearcher%401.2.3"),
            [
                "api",
                "registry",
                "v1",
                "experts",
                "@acme",
                "researcher@1.2.3"
            ]
        );
        let root = RequestPath::parse("/").unwrap();
        assert!(root.segments.is_empty() && root.has_trailing_slash());
        let dir = RequestPath::parse("/experts/").unwrap();
        assert_eq!(dir.segments, ["experts"]);
        assert!(dir.has_trailing_slash());
    }

    #[test]
    fn traversal_odd_characters_and_bad_encodings_are_refused() {
        for (raw, why) in [
            ("/a/../b", BadPath::BadSegment),
            ("/%2e%2e/etc/passwd", BadPath::BadSegment),
            ("/a%2F..%2Fb", BadPath::BadSegment),
            ("/./a", BadPath::BadSegment),
            ("/a//b", BadPath::BadSegment),
            ("/a%00b", BadPath::ForbiddenCharacter),
            ("/a%5C..%5Cb", BadPath::ForbiddenCharacter),
            ("/%ff", BadPath::NotUtf8),
            ("*", BadPath::NotAbsolute),
        ] {
            assert_eq!(RequestPath::parse(raw), Err(why), "{raw}");
        }
    }

    #[test]
    fn hidden_paths_and_the_headers_file_are_private() {
        for raw in [
            "/.perstack-build/plan.json",
            "/v1/.~perstack-1.tmp",
            "/_headers",
        ] {
            assert!(RequestPath::parse(raw).unwrap().is_private(), "{raw}");
        }
        assert!(!RequestPath::parse("/assets/_headers").unwrap().is_private());
    }

    #[test]
    fn a_symlink_anywhere_on_the_way_is_missing() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "x").unwrap();
        fs::create_dir(root.path().join("dir")).unwrap();
        fs::write(root.path().join("dir/file"), "y").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            root.path().join("dir/secret"),
        )
        .unwrap();
        let find = |raw: &str| RequestPath::parse(raw).unwrap().find(root.path());
        assert_eq!(find("/dir/file"), Found::File(root.path().join("dir/file")));
        assert_eq!(find("/dir"), Found::Dir(root.path().join("dir")));
        assert_eq!(find("/link/secret"), Found::Missing);
        assert_eq!(find("/dir/secret"), Found::Missing);
        assert_eq!(find("/dir/file/more"), Found::Missing);
    }
}
