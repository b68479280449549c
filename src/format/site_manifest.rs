//! The website manifest: every file of the website (its path, BLAKE3 and size) as a tree of
//! hash-named documents under `v1/site/`, pinned by the root, so a mirror can copy the website
//! from a host that cannot list its files and verify every byte it copies.
//!
//! The tree is shaped like the experts' bins ([`index::TreeShape`]; the same code renders and
//! checks both): files are slotted by the BLAKE3 of their path, 64 ways per level, with the
//! depth that keeps leaves at about 64 files on average, and every pointer carries its child's
//! hash and size, so every read is bounded. A publish that rewrites a few pages rewrites only
//! the documents on their paths, and a reader holding the previous manifest reads only the
//! documents whose hashes changed ([`changes`]).
//!
//! The website is derived from the registry, not written once: a file may have other bytes in
//! the next build (a new template, a new version listed), so the manifest says what this build's
//! website is, not what it always was.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::common::json::Document;
use crate::common::model::Hash;
use crate::format::index::{self, BinTree, IndexRef, SitePin, TreeShape};
use crate::format::reader::{self, CheckedBin, PublishedError, Reader};

/// The format of the manifest's documents.
pub const FORMAT: u64 = 1;
/// A manifest document: like a bin, but a leaf lists `files`.
pub const SHAPE: TreeShape = TreeShape {
    format: FORMAT,
    leaf_key: "files",
    noun: "site manifest document",
};
/// The longest path a manifest may list, as for an entry of a registry archive.
const MAX_PATH_BYTES: usize = 4096;

/// Whether `relative` is a file of the website: anything outside the registry layout (`v1/`,
/// `api/`, `_headers`) that is not hidden (a build's or a client's own state, a temporary file).
pub fn is_site_file(relative: &str) -> bool {
    !(relative.starts_with("v1/")
        || relative.starts_with("api/")
        || relative == crate::format::headers::HEADERS_PATH
        || relative.split('/').any(|segment| segment.starts_with('.')))
}

/// Checks a path a manifest lists: a relative path of plain segments that is a website file,
/// since every reader joins it to a directory it writes into.
pub fn check_path(relative: &str) -> Result<(), String> {
    let bad = relative.is_empty()
        || relative.len() > MAX_PATH_BYTES
        || relative
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        || relative
            .chars()
            .any(|c| c == '\\' || c == ':' || c.is_control());
    if bad || !is_site_file(relative) {
        return Err(format!(
            "lists \"{}\", which is not the path of a website file",
            relative.escape_debug()
        ));
    }
    Ok(())
}

/// A website's manifest, rendered.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub tree: BinTree,
    pub files: u64,
}

impl Manifest {
    /// The manifest of `files` (path, hash and size); the same files give the same bytes in
    /// any order.
    pub fn build(files: impl IntoIterator<Item = (String, IndexRef)>) -> Manifest {
        let files: Vec<(String, IndexRef)> = files.into_iter().collect();
        let count = files.len() as u64;
        Manifest {
            tree: BinTree::build_shaped(SHAPE, files),
            files: count,
        }
    }

    /// What the root says of the manifest.
    pub fn pin(&self) -> SitePin {
        SitePin {
            depth: self.tree.depth,
            top: self.tree.pointer(),
            files: self.files,
        }
    }

    /// Every document with its path, children before their parent.
    pub fn documents(&self) -> Vec<(String, &Document)> {
        self.tree
            .bins()
            .into_iter()
            .map(|bin| (index::site_manifest_path(&bin.document.hash), &bin.document))
            .collect()
    }
}

/// A file the new manifest lists with another entry than the previous one (`old`, `None` when
/// the previous manifest did not list it or could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub new: IndexRef,
    pub old: Option<IndexRef>,
}

/// The files of the manifest `pin` names (read from `reader`) whose entries differ from the
/// previous manifest (`previous`, read from its own reader). Subtrees whose hashes the previous
/// manifest has at the same place are not read, so the work grows with the change. A previous
/// manifest that cannot be read, or of another depth, counts as absent: every file is a change.
pub fn changes(
    reader: &dyn Reader,
    pin: &SitePin,
    previous: Option<(&dyn Reader, &SitePin)>,
) -> Result<Vec<Change>, PublishedError> {
    let previous = previous.filter(|(_, old)| old.depth == pin.depth);
    let mut changes = walk(
        reader,
        &pin.top,
        previous.map(|(old_reader, old)| (old_reader, &old.top)),
        pin.depth,
        &[],
    )?;
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Every file the manifest `pin` names, by path.
pub fn files(
    reader: &dyn Reader,
    pin: &SitePin,
) -> Result<BTreeMap<String, IndexRef>, PublishedError> {
    Ok(changes(reader, pin, None)?
        .into_iter()
        .map(|change| (change.path, change.new))
        .collect())
}

fn walk(
    reader: &dyn Reader,
    node: &IndexRef,
    old: Option<(&dyn Reader, &IndexRef)>,
    depth: u32,
    path: &[usize],
) -> Result<Vec<Change>, PublishedError> {
    if old.is_some_and(|(_, old)| old == node) {
        return Ok(Vec::new());
    }
    let checked = read_node(reader, node, depth, path)?;
    // The previous manifest is only a hint of what the destination holds: damaged, it says
    // nothing, and the caller checks the files themselves.
    let old_checked = old.and_then(|(old_reader, old)| {
        read_node(old_reader, old, depth, path)
            .ok()
            .map(|checked| (old_reader, checked))
    });
    match checked {
        CheckedBin::Inner(children) => {
            let found: Vec<Vec<Change>> = children
                .par_iter()
                .map(|(slot, child)| {
                    let old_child = match &old_checked {
                        Some((old_reader, CheckedBin::Inner(old_children))) => old_children
                            .get(slot)
                            .map(|old_child| (*old_reader, old_child)),
                        _ => None,
                    };
                    let mut child_path = path.to_vec();
                    child_path.push(*slot);
                    walk(reader, child, old_child, depth, &child_path)
                })
                .collect::<Result<_, PublishedError>>()?;
            Ok(found.into_iter().flatten().collect())
        }
        CheckedBin::Leaf(files) => {
            let old_files = match &old_checked {
                Some((_, CheckedBin::Leaf(old_files))) => Some(old_files),
                _ => None,
            };
            Ok(files
                .into_iter()
                .filter_map(|(file, new)| {
                    let old = old_files
                        .and_then(|old_files| old_files.get(&file))
                        .copied();
                    (old != Some(new)).then_some(Change {
                        path: file,
                        new,
                        old,
                    })
                })
                .collect())
        }
    }
}

/// Reads one manifest document no further than the size its parent gives, and checks its hash
/// and its place in the tree.
fn read_node(
    reader: &dyn Reader,
    pointer: &IndexRef,
    depth: u32,
    path: &[usize],
) -> Result<CheckedBin, PublishedError> {
    let relative = index::site_manifest_path(&pointer.hash);
    let location = reader.location(&relative);
    if pointer.size > reader::MAX_SITE_MANIFEST_BYTES {
        return Err(PublishedError::Invalid {
            location,
            message: format!(
                "is said to be {} bytes, more than a site manifest document may be ({} bytes)",
                pointer.size,
                reader::MAX_SITE_MANIFEST_BYTES
            ),
        });
    }
    let bytes = reader::read_hashed_at_most(reader, &relative, &pointer.hash, pointer.size)?;
    parse(&location, &bytes, depth, path)
}

/// Parses one manifest document and checks it is the one its parent says: its format and level,
/// child slots, and paths that are website files whose hashes lead to it.
pub fn parse(
    location: &str,
    bytes: &[u8],
    depth: u32,
    path: &[usize],
) -> Result<CheckedBin, PublishedError> {
    reader::check_tree_node(location, bytes, SHAPE, depth, path, check_path)
}

/// The hash of a website file's bytes with its size, as the manifest lists it.
pub fn entry_of(bytes: &[u8]) -> IndexRef {
    IndexRef {
        hash: Hash::of(bytes),
        size: bytes.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(count: usize) -> Vec<(String, IndexRef)> {
        (0..count)
            .map(|i| {
                (
                    format!("experts/e{i}/index.html"),
                    entry_of(format!("{i}").as_bytes()),
                )
            })
            .collect()
    }

    #[test]
    fn the_same_files_give_the_same_manifest_in_any_order() {
        let mut listed = files(500);
        let one = Manifest::build(listed.clone());
        listed.reverse();
        let two = Manifest::build(listed);
        assert_eq!(one.pin(), two.pin());
        assert_eq!(one.tree.depth, 2);
        let top = String::from_utf8(one.tree.top.document.bytes.clone()).unwrap();
        assert!(
            top.starts_with("{\n  \"format\": 1,\n  \"level\": 0,\n  \"bins\": {"),
            "{top}"
        );
    }

    #[test]
    fn leaves_list_files_and_check_their_paths() {
        let manifest = Manifest::build(files(3));
        let leaf = &manifest.tree.top.document;
        let text = String::from_utf8(leaf.bytes.clone()).unwrap();
        assert!(text.contains("\"files\": {"), "{text}");
        assert!(matches!(
            parse("x", &leaf.bytes, 1, &[]),
            Ok(CheckedBin::Leaf(listed)) if listed.len() == 3
        ));
        let bad = text.replace("experts/e0/index.html", "../e0/index.html");
        let err = parse("x", bad.as_bytes(), 1, &[]).unwrap_err().to_string();
        assert!(err.contains("not the path of a website file"), "{err}");
    }

    #[test]
    fn a_root_pins_the_manifest_and_readers_check_the_pin() {
        let manifest = Manifest::build(files(100));
        let bins = BinTree::build(Vec::new());
        let counts = index::RootCounts {
            serial: 1,
            experts: 0,
            versions: 0,
        };
        let root = index::root(&bins, counts, None, Some(&manifest.pin()));
        let parsed = reader::parse_root("v1/root.json", &root.bytes).unwrap();
        assert_eq!(parsed.site.unwrap().pin(), Ok(manifest.pin()));
        // A reader that knows nothing of `site` (one written before it) reads the rest.
        #[derive(serde::Deserialize)]
        struct Older {
            serial: u64,
        }
        assert_eq!(
            serde_json::from_slice::<Older>(&root.bytes).unwrap().serial,
            1
        );
        let text = String::from_utf8(root.bytes).unwrap();
        let deep = text.replace(
            "\"depth\": 2,\n    \"blake3\"",
            "\"depth\": 11,\n    \"blake3\"",
        );
        assert_ne!(deep, text);
        let err = reader::parse_root("v1/root.json", deep.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("site manifest has a depth of 11"), "{err}");
    }

    #[test]
    fn only_website_paths_are_accepted() {
        for good in [
            "index.html",
            "experts/@acme/x/1.0.0.html",
            "search/t/ab.json",
        ] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/index.html",
            "a//b",
            "./a",
            "a/../b",
            "v1/root.json",
            "api/registry/v1/x",
            "_headers",
            ".perstack-build/plan.json",
            "a/.hidden",
            "a\\b",
            "c:x",
            "a\nb",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
