//! The website manifest: every file of the website (its path, BLAKE3 and size) as a tree of
//! hash-named documents under `v1/site/`, pinned by the root, so a mirror can copy the website
//! from a host that cannot list its files and verify every byte it copies.
//!
//! The tree is ordered by path, not slotted by a hash as the bins are: the files one publish
//! rewrites are few places in path order (one expert's pages, a listing page, the home page
//! beside `recent.json`, a run of `search/t/` shards), so they share leaves, where a tree slotted
//! by each path's hash puts every changed file in a leaf of its own and rewrites an inner
//! document for each. Documents are cut where paths say, as listings are
//! (`site::paging`), so one new file rewrites the leaf it lands in, seldom a neighbour, and the
//! documents above it: a publish costs the documents on the changed paths' ways up, whatever
//! the size of the website. Every pointer carries its child's hash and size, so every read is
//! bounded, and the first path its child lists, so a reader holding the previous manifest finds
//! the document of the previous tree at the same place and reads only documents whose hashes
//! differ ([`changes`]).
//!
//! The website is derived from the registry, not written once: a file may have other bytes in
//! the next build (a new template, a new version listed), so the manifest says what this build's
//! website is, not what it always was.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::json::Document;
use crate::common::model::Hash;
use crate::format::index::{self, IndexRef, SitePin};
use crate::format::reader::{self, PublishedError, Reader, SizedPointer};

/// The format of the manifest's documents, which the root's pin repeats. Format 1 (written
/// only before this one, for a few days) was a tree slotted by the BLAKE3 of each path, 64
/// ways per level; it is not read.
pub const FORMAT: u64 = index::SITE_MANIFEST_FORMAT;
/// The longest path a manifest may list, as for an entry of a registry archive.
const MAX_PATH_BYTES: usize = 4096;

/// Where the files of a level are cut into documents: before a path that is one in `one_in`
/// by its hash, if the previous such path lies at least `min` entries earlier, and a run
/// longer than `max` is split before the last path within `min..=max` of its start that is a
/// rarer one (one in `one_in * SPLIT`), or after `max`. Whether a path begins a document
/// depends on that path and its neighbouring candidate only, so inserting or removing a file
/// changes the document it is in, and seldom the one before it.
#[derive(Debug, Clone, Copy)]
struct Cut {
    one_in: u32,
    min: usize,
    max: usize,
}

/// Leaves: about 9 files each on average (about 1.5 KB), never more than 32.
const LEAVES: Cut = Cut {
    one_in: 4,
    min: 4,
    max: 32,
};
/// Inner documents: about 9 children each on average, never more than 32.
const INNER: Cut = Cut {
    one_in: 4,
    min: 4,
    max: 32,
};
/// How much rarer than a candidate a path that splits an over-long run is.
const SPLIT: u32 = 8;

impl Cut {
    /// The documents of one level: `keys` (sorted) cut into ranges, given as their starts,
    /// at least one even when `keys` is empty.
    fn starts(&self, height: u32, keys: &[&str]) -> Vec<usize> {
        let ranks: Vec<(u32, u32)> = keys.iter().map(|key| rank(height, key)).collect();
        let is_candidate = |rank: u32, one_in: u32| u64::from(rank) * u64::from(one_in) < 1 << 32;
        let mut runs = vec![0];
        let mut previous_candidate = 0;
        for (i, &(rank, _)) in ranks.iter().enumerate().skip(1) {
            if !is_candidate(rank, self.one_in) {
                continue;
            }
            if i - previous_candidate >= self.min {
                runs.push(i);
            }
            previous_candidate = i;
        }
        let mut starts = Vec::with_capacity(runs.len());
        for (n, &start) in runs.iter().enumerate() {
            let end = runs.get(n + 1).copied().unwrap_or(keys.len());
            let mut first = start;
            starts.push(first);
            while end - first > self.max {
                first = (first + self.min..=first + self.max)
                    .rev()
                    .find(|&i| is_candidate(ranks[i].1, self.one_in.saturating_mul(SPLIT)))
                    .unwrap_or(first + self.max);
                starts.push(first);
            }
        }
        starts
    }
}

/// Two numbers from the BLAKE3 of a path and the height of the level it is cut at (its
/// little-endian `u32`, then the path's UTF-8 bytes): the first four bytes say whether the path
/// is a candidate to begin a document, the next four whether it may split a long run. Each
/// level draws its own, so the levels' cuts are independent.
fn rank(height: u32, key: &str) -> (u32, u32) {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&height.to_le_bytes());
    hasher.update(key.as_bytes());
    let hash = hasher.finalize();
    let bytes = hash.as_bytes();
    (
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
    )
}

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
    /// Levels, the leaves' included: the top is at height `depth - 1`.
    pub depth: u32,
    pub files: u64,
    /// Every document, children before their parent; the top last.
    documents: Vec<Document>,
}

impl Manifest {
    /// The manifest of `files` (path, hash and size); the same files give the same bytes in
    /// any order.
    pub fn build(files: impl IntoIterator<Item = (String, IndexRef)>) -> Manifest {
        let files: BTreeMap<String, IndexRef> = files.into_iter().collect();
        let count = files.len() as u64;
        let mut documents = Vec::new();
        let mut level: Vec<(String, IndexRef)> = files.into_iter().collect();
        let mut height = 0;
        loop {
            let (rendered, above) = render_level(height, level);
            documents.extend(rendered);
            if above.len() == 1 {
                return Manifest {
                    depth: height + 1,
                    files: count,
                    documents,
                };
            }
            level = above;
            height += 1;
        }
    }

    pub fn top(&self) -> &Document {
        // `build` renders at least one document, the top last.
        &self.documents[self.documents.len() - 1]
    }

    /// What the root says of the manifest.
    pub fn pin(&self) -> SitePin {
        SitePin {
            depth: self.depth,
            top: IndexRef::of(self.top()),
            files: self.files,
        }
    }

    /// Every document with its path, children before their parent.
    pub fn documents(&self) -> Vec<(String, &Document)> {
        self.documents
            .iter()
            .map(|document| (index::site_manifest_path(&document.hash), document))
            .collect()
    }
}

/// The documents of the level at `height` over `entries` (files by path at height 0, else the
/// level below's documents by their first path), and what the level above lists: each
/// document by its first path.
fn render_level(
    height: u32,
    entries: Vec<(String, IndexRef)>,
) -> (Vec<Document>, Vec<(String, IndexRef)>) {
    let cut = if height == 0 { LEAVES } else { INNER };
    let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
    let starts = cut.starts(height, &keys);
    let ranges: Vec<(usize, usize)> = starts
        .iter()
        .enumerate()
        .map(|(n, &start)| (start, starts.get(n + 1).copied().unwrap_or(entries.len())))
        .collect();
    let documents: Vec<Document> = ranges
        .par_iter()
        .map(|&(start, end)| render_document(height, &entries[start..end]))
        .collect();
    let above = ranges
        .iter()
        .zip(&documents)
        .map(|(&(start, _), document)| {
            let first = entries.get(start).map(|(key, _)| key.clone());
            (first.unwrap_or_default(), IndexRef::of(document))
        })
        .collect();
    (documents, above)
}

/// One document: `format`, `height`, then `files` (a leaf) or `children`, keys in path order.
fn render_document(height: u32, entries: &[(String, IndexRef)]) -> Document {
    let mut listed = Map::new();
    for (key, pointer) in entries {
        listed.insert(
            key.clone(),
            json!({ "blake3": pointer.hash.to_hex(), "size": pointer.size }),
        );
    }
    let mut document = Map::new();
    document.insert("format".to_owned(), json!(FORMAT));
    document.insert("height".to_owned(), json!(height));
    document.insert(entries_key(height).to_owned(), Value::Object(listed));
    Document::render(&Value::Object(document))
}

/// What a document at `height` lists: a leaf its files, any other its children.
fn entries_key(height: u32) -> &'static str {
    if height == 0 { "files" } else { "children" }
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
/// previous manifest (`previous`, read from its own reader). A document whose hash is the one
/// the previous manifest has at its place (its height and first path) is not read, nor
/// anything under it, so the work grows with the change. What of the previous manifest cannot
/// be read counts as absent: every file under it is a change.
pub fn changes(
    reader: &dyn Reader,
    pin: &SitePin,
    previous: Option<(&dyn Reader, &SitePin)>,
) -> Result<Vec<Change>, PublishedError> {
    let previous = previous.map(|(reader, pin)| Previous {
        reader,
        pin: *pin,
        read: Mutex::default(),
    });
    if previous.as_ref().is_some_and(|old| old.pin.top == pin.top) {
        return Ok(Vec::new());
    }
    let top = Place {
        height: pin.depth - 1,
        first: None,
        before: None,
    };
    let node = read_node(reader, &pin.top, &top)?;
    let mut changes = walk(reader, &node, &top, previous.as_ref())?;
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
    node: &Node,
    place: &Place<'_>,
    previous: Option<&Previous<'_>>,
) -> Result<Vec<Change>, PublishedError> {
    match node {
        Node::Leaf(files) => Ok(files
            .iter()
            .filter_map(|(path, new)| {
                let old = previous.and_then(|previous| previous.file(path));
                (old != Some(*new)).then(|| Change {
                    path: path.clone(),
                    new: *new,
                    old,
                })
            })
            .collect()),
        Node::Inner(children) => {
            let found: Vec<Vec<Change>> = children
                .par_iter()
                .enumerate()
                .map(|(n, (first, pointer))| {
                    let child = Place {
                        height: place.height - 1,
                        first: Some(first),
                        before: children
                            .get(n + 1)
                            .map(|(next, _)| next.as_str())
                            .or(place.before),
                    };
                    let unchanged = previous.is_some_and(|previous| {
                        previous.node(child.height, first) == Some(pointer.hash)
                    });
                    if unchanged {
                        return Ok(Vec::new());
                    }
                    walk(
                        reader,
                        &read_node(reader, pointer, &child)?,
                        &child,
                        previous,
                    )
                })
                .collect::<Result<_, PublishedError>>()?;
            Ok(found.into_iter().flatten().collect())
        }
    }
}

/// The previous manifest, read on demand, document by document, as a hint of what the
/// destination holds.
struct Previous<'r> {
    reader: &'r dyn Reader,
    pin: SitePin,
    read: Mutex<HashMap<Hash, Arc<Node>>>,
}

impl Previous<'_> {
    /// The hash of the previous manifest's document at `height` whose range holds `key`.
    fn node(&self, height: u32, key: &str) -> Option<Hash> {
        self.descend(height, key).map(|(pointer, _)| pointer.hash)
    }

    /// The entry the previous manifest lists for `path`.
    fn file(&self, path: &str) -> Option<IndexRef> {
        match self.descend(0, path)?.1.as_ref() {
            Node::Leaf(files) => files
                .binary_search_by(|(listed, _)| listed.as_str().cmp(path))
                .ok()
                .map(|at| files[at].1),
            Node::Inner(_) => None,
        }
    }

    /// Follows `key` down from the top to `height`: the pointer there and its document. A
    /// document that cannot be read (damaged, missing) ends the way: the previous manifest is
    /// only a hint, and the caller then reads and checks more, never less.
    fn descend(&self, height: u32, key: &str) -> Option<(IndexRef, Arc<Node>)> {
        let mut at_height = self.pin.depth.checked_sub(1)?;
        if height > at_height {
            return None;
        }
        let mut pointer = self.pin.top;
        let mut first: Option<String> = None;
        let mut before: Option<String> = None;
        loop {
            let place = Place {
                height: at_height,
                first: first.as_deref(),
                before: before.as_deref(),
            };
            let node = self.read(&pointer, &place)?;
            if at_height == height {
                return Some((pointer, node));
            }
            let Node::Inner(children) = node.as_ref() else {
                return None;
            };
            let at = children
                .partition_point(|(child, _)| child.as_str() <= key)
                .checked_sub(1)?;
            pointer = children[at].1;
            first = Some(children[at].0.clone());
            before = children
                .get(at + 1)
                .map(|(next, _)| next.clone())
                .or(before);
            at_height -= 1;
        }
    }

    fn read(&self, pointer: &IndexRef, place: &Place<'_>) -> Option<Arc<Node>> {
        if let Some(node) = lock(&self.read).get(&pointer.hash) {
            return Some(node.clone());
        }
        let node = Arc::new(read_node(self.reader, pointer, place).ok()?);
        lock(&self.read).insert(pointer.hash, node.clone());
        Some(node)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A manifest document as read and checked: its entries in path order.
#[derive(Debug)]
pub enum Node {
    /// Children by their first path.
    Inner(Vec<(String, IndexRef)>),
    /// Files by path.
    Leaf(Vec<(String, IndexRef)>),
}

/// Where a document sits in the tree: its height, the first path its parent says it lists,
/// and the first path of the document after it (at its level or any above), before which its
/// paths must end. The top has neither.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub height: u32,
    pub first: Option<&'a str>,
    pub before: Option<&'a str>,
}

/// Reads one manifest document no further than the size its parent gives, and checks its hash
/// and its place in the tree.
fn read_node(
    reader: &dyn Reader,
    pointer: &IndexRef,
    place: &Place<'_>,
) -> Result<Node, PublishedError> {
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
    parse(&location, &bytes, place)
}

/// A manifest document as published.
#[derive(Debug, Deserialize)]
struct NodeDoc {
    format: u64,
    height: u32,
    #[serde(default)]
    files: Option<BTreeMap<String, SizedPointer>>,
    #[serde(default)]
    children: Option<BTreeMap<String, SizedPointer>>,
}

/// Parses one manifest document and checks it is the one its parent says: its format and
/// height, paths that are website files, beginning with the path its parent gives and ending
/// before the next document's, so no path is listed twice in a tree and following a path down
/// finds the one document that may list it.
pub fn parse(location: &str, bytes: &[u8], place: &Place<'_>) -> Result<Node, PublishedError> {
    let doc: NodeDoc = reader::parse_json(location, bytes)?;
    let fail = |message: String| PublishedError::Invalid {
        location: location.to_owned(),
        message,
    };
    if doc.format != FORMAT {
        return Err(fail(format!(
            "site manifest document format {} is not supported (this program reads format {FORMAT})",
            doc.format
        )));
    }
    if doc.height != place.height {
        return Err(fail(format!(
            "is a site manifest document of height {}, but its parent puts it at height {}",
            doc.height, place.height
        )));
    }
    let entries = match (doc.files, doc.children) {
        (Some(files), None) if place.height == 0 => files,
        (None, Some(children)) if place.height > 0 => children,
        _ => {
            return Err(fail(format!(
                "a site manifest document at height {} must list {}",
                place.height,
                entries_key(place.height)
            )));
        }
    };
    let entries: Vec<(String, IndexRef)> = entries
        .into_iter()
        .map(|(key, pointer)| (key, pointer.into()))
        .collect();
    for (key, _) in &entries {
        check_path(key).map_err(fail)?;
    }
    let first = entries.first().map(|(key, _)| key.as_str());
    // Only a website of no files has an empty document, its only one.
    if first.is_none() && (place.height > 0 || place.first.is_some()) {
        return Err(fail(
            "a site manifest document that lists nothing".to_owned(),
        ));
    }
    if let Some(expected) = place.first
        && first != Some(expected)
    {
        return Err(fail(format!(
            "begins with \"{}\", but its parent says it begins with \"{}\"",
            first.unwrap_or_default().escape_debug(),
            expected.escape_debug()
        )));
    }
    if let (Some(before), Some((last, _))) = (place.before, entries.last())
        && last.as_str() >= before
    {
        return Err(fail(format!(
            "lists \"{}\", which its parent puts in a later document (from \"{}\")",
            last.escape_debug(),
            before.escape_debug()
        )));
    }
    Ok(if place.height == 0 {
        Node::Leaf(entries)
    } else {
        Node::Inner(entries)
    })
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
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::common::transport::FetchError;

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

    /// The documents of a manifest, by hash.
    fn hashes(manifest: &Manifest) -> BTreeSet<Hash> {
        manifest.documents.iter().map(|d| d.hash).collect()
    }

    /// A host holding the documents of some manifests, counting what is read from it.
    #[derive(Debug, Default)]
    struct Host {
        files: Mutex<HashMap<String, Vec<u8>>>,
        reads: AtomicUsize,
    }

    impl Host {
        fn holding(manifests: &[&Manifest]) -> Host {
            let host = Host::default();
            for manifest in manifests {
                for (path, document) in manifest.documents() {
                    lock(&host.files).insert(path, document.bytes.clone());
                }
            }
            host
        }
    }

    impl Reader for Host {
        fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, FetchError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(lock(&self.files).get(relative).cloned())
        }

        fn read_at_most(&self, relative: &str, _: u64) -> Result<Option<Vec<u8>>, FetchError> {
            self.read(relative)
        }

        fn location(&self, relative: &str) -> String {
            relative.to_owned()
        }
    }

    #[test]
    fn the_same_files_give_the_same_manifest_in_any_order() {
        let mut listed = files(500);
        let one = Manifest::build(listed.clone());
        listed.reverse();
        let two = Manifest::build(listed);
        assert_eq!(one.pin(), two.pin());
        assert_eq!(one.documents, two.documents);
        assert_eq!(one.depth, 3);
        let top = String::from_utf8(one.top().bytes.clone()).unwrap();
        assert!(
            top.starts_with("{\n  \"format\": 2,\n  \"height\": 2,\n  \"children\": {\n    \"experts/e0/index.html\": {\n      \"blake3\": \""),
            "{top}"
        );
    }

    #[test]
    fn documents_hold_at_most_32_entries_and_about_10() {
        for count in [0, 1, 31, 33, 5_000] {
            let manifest = Manifest::build(files(count));
            let host = Host::holding(&[&manifest]);
            assert_eq!(super::files(&host, &manifest.pin()).unwrap().len(), count);
            let mut leaves = 0;
            for document in &manifest.documents {
                let doc: NodeDoc = serde_json::from_slice(&document.bytes).unwrap();
                let listed = doc.files.or(doc.children).unwrap().len();
                assert!(listed <= 32, "{listed}");
                leaves += usize::from(doc.height == 0);
            }
            if count == 5_000 {
                assert!((400..=700).contains(&leaves), "{leaves} leaves");
                assert!((4..=5).contains(&manifest.depth), "{}", manifest.depth);
            }
        }
        // When (almost) no path is a candidate, a run is split every 32.
        let keys: Vec<String> = (0..1_000).map(|i| format!("p{i}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let hardly = Cut {
            one_in: u32::MAX,
            min: 4,
            max: 32,
        };
        let starts = hardly.starts(0, &keys);
        assert_eq!(starts, (0..1_000).step_by(32).collect::<Vec<_>>());
    }

    #[test]
    fn a_changed_file_rewrites_one_document_per_level_and_a_new_one_seldom_more() {
        let listed = files(5_000);
        let before = Manifest::build(listed.clone());
        let old = hashes(&before);
        let mut changed = listed.clone();
        changed[777].1 = entry_of(b"new bytes");
        let after = Manifest::build(changed);
        assert_eq!(after.depth, before.depth);
        assert_eq!(
            hashes(&after).difference(&old).count(),
            after.depth as usize
        );

        let mut rewritten = Vec::new();
        for i in 0..100 {
            let mut added = listed.clone();
            added.push((format!("experts/e{i}x/index.html"), entry_of(b"x")));
            let after = Manifest::build(added);
            rewritten.push(hashes(&after).difference(&old).count());
        }
        let depth = before.depth as usize;
        let at_depth = rewritten.iter().filter(|&&n| n == depth).count();
        assert!(at_depth >= 75, "{rewritten:?}");
        assert!(
            rewritten.iter().all(|&n| n <= 2 * depth + 1),
            "{rewritten:?}"
        );
    }

    #[test]
    fn changes_read_only_the_new_documents_and_list_only_the_changed_files() {
        let listed = files(3_000);
        let before = Manifest::build(listed.clone());
        let mut edited = listed.clone();
        edited[10].1 = entry_of(b"edited");
        edited.push(("experts/e10x/index.html".to_owned(), entry_of(b"new")));
        edited.push(("index.html".to_owned(), entry_of(b"home")));
        edited.remove(2_000);
        let after = Manifest::build(edited);
        let new_documents = hashes(&after).difference(&hashes(&before)).count();
        let host = Host::holding(&[&before, &after]);
        let held = Host::holding(&[&before]);
        let found = changes(&host, &after.pin(), Some((&held, &before.pin()))).unwrap();
        let paths: Vec<&str> = found.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "experts/e10/index.html",
                "experts/e10x/index.html",
                "index.html"
            ]
        );
        assert_eq!(found[0].old, Some(listed[10].1));
        assert_eq!(found[1].old, None);
        assert_eq!(host.reads.load(Ordering::SeqCst), new_documents);

        // Without a previous manifest, or with one that cannot be read, every file is one.
        let nothing = Host::default();
        let all = changes(&host, &after.pin(), Some((&nothing, &before.pin()))).unwrap();
        assert_eq!(all.len(), 3_001);
        assert_eq!(changes(&host, &before.pin(), None).unwrap().len(), 3_000);
        let same = changes(&host, &before.pin(), Some((&held, &before.pin()))).unwrap();
        assert!(same.is_empty());
    }

    #[test]
    fn a_previous_manifest_of_another_depth_still_spares_what_it_shares() {
        let small = Manifest::build(files(40));
        let large = Manifest::build(files(4_000));
        assert!(small.depth < large.depth);
        let host = Host::holding(&[&small, &large]);
        let found = changes(&host, &large.pin(), Some((&host, &small.pin()))).unwrap();
        assert_eq!(found.len(), 4_000 - 40);
        let found = changes(&host, &small.pin(), Some((&host, &large.pin()))).unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    fn place(
        height: u32,
        first: Option<&'static str>,
        before: Option<&'static str>,
    ) -> Place<'static> {
        Place {
            height,
            first,
            before,
        }
    }

    #[test]
    fn a_document_out_of_its_place_is_refused() {
        let manifest = Manifest::build(files(3));
        let leaf = String::from_utf8(manifest.top().bytes.clone()).unwrap();
        let at = |place: Place<'_>, text: &str| {
            parse("x", text.as_bytes(), &place)
                .map(|_| ())
                .map_err(|err| err.to_string())
        };
        let first = Some("experts/e0/index.html");
        assert_eq!(at(place(0, None, None), &leaf), Ok(()));
        assert_eq!(at(place(0, first, Some("f")), &leaf), Ok(()));
        let refused = [
            (
                place(1, None, None),
                "is a site manifest document of height 0, but its parent puts it at height 1",
            ),
            (
                place(0, Some("a"), None),
                "begins with \"experts/e0/index.html\", but its parent says it begins with \"a\"",
            ),
            (
                place(0, first, Some("experts/e2/index.html")),
                "lists \"experts/e2/index.html\", which its parent puts in a later document (from \"experts/e2/index.html\")",
            ),
        ];
        for (place, message) in refused {
            assert_eq!(at(place, &leaf), Err(format!("x: {message}")));
        }
        let format_1 = leaf.replace("\"format\": 2", "\"format\": 1");
        assert_eq!(
            at(place(0, None, None), &format_1),
            Err(
                "x: site manifest document format 1 is not supported (this program reads format 2)"
                    .to_owned()
            )
        );
        let inner = leaf.replace("\"files\"", "\"children\"");
        assert_eq!(
            at(place(0, None, None), &inner),
            Err("x: a site manifest document at height 0 must list files".to_owned())
        );
        let outside = leaf.replace("experts/e0/index.html", "../e0/index.html");
        let err = at(place(0, None, None), &outside).unwrap_err();
        assert!(err.contains("not the path of a website file"), "{err}");
        let empty = Manifest::build(Vec::new());
        assert_eq!(empty.depth, 1);
        let empty = String::from_utf8(empty.top().bytes.clone()).unwrap();
        assert_eq!(at(place(0, None, None), &empty), Ok(()));
        assert_eq!(
            at(place(0, Some("a"), None), &empty),
            Err("x: a site manifest document that lists nothing".to_owned())
        );
    }

    #[test]
    fn a_root_pins_the_manifest_and_readers_check_the_pin() {
        let manifest = Manifest::build(files(100));
        let bins = index::BinTree::build(Vec::new());
        let counts = index::RootCounts {
            serial: 1,
            experts: 0,
            versions: 0,
        };
        let root = index::root(&bins, counts, None, Some(&manifest.pin()));
        let parsed = reader::parse_root("v1/root.json", &root.bytes).unwrap();
        assert_eq!(parsed.site.unwrap().pin(), Ok(manifest.pin()));
        let text = String::from_utf8(root.bytes).unwrap();
        let depth = format!("\"depth\": {},\n    \"blake3\"", manifest.depth);
        assert!(
            text.contains(&format!("\"site\": {{\n    \"format\": 2,\n    {depth}")),
            "{text}"
        );
        let deep = text.replace(&depth, "\"depth\": 17,\n    \"blake3\"");
        assert_ne!(deep, text);
        let err = reader::parse_root("v1/root.json", deep.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("site manifest has a depth of 17"), "{err}");
        // A pin of the first format (a tree slotted by hash, 64 ways) leaves the root readable,
        // and whoever needs the website is told why it cannot be read.
        let older = text.replace(
            "\"format\": 2,\n    \"depth\"",
            "\"fanout\": 64,\n    \"depth\"",
        );
        assert_ne!(older, text);
        let parsed = reader::parse_root("v1/root.json", older.as_bytes()).unwrap();
        assert_eq!(
            parsed.site.unwrap().pin(),
            Err("the site manifest is format 1; this program reads format 2 (rebuild the registry with this version)".to_owned())
        );
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
