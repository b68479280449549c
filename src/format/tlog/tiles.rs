//! The C2SP `tlog-tiles` layout: a Merkle tree stored as tiles of 256 hashes.
//!
//! A tile at level `L` holds the hashes of consecutive perfect subtrees of height `8 * L`
//! (level 0: the entries' leaf hashes), 256 of them when full. Its path is
//! `tile/<L>/<N>`, with `N` written in groups of three digits, every group but the last
//! prefixed with `x` (`tile/0/x001/234` is tile 1234). A tile that is not full yet is written
//! as `tile/<L>/<N>.p/<W>` with its `W` hashes; each width is written once and never changes, so
//! every tile file is immutable and can be cached forever. The entries themselves are stored in
//! the same shape under `tile/entries/`, each entry prefixed with its length as two big-endian
//! bytes.
//!
//! [`Appender`] adds entries to a log from its right edge alone (the partial tile of each
//! level), so appending costs what it adds, never a read of the whole log.

use std::collections::BTreeMap;

use crate::format::tlog::merkle::{self, HashReader, ProofError, TreeHash};

/// Hashes (or entries) per full tile.
pub const TILE_WIDTH: u64 = 256;
/// The height of the subtree a tile covers.
pub const TILE_HEIGHT: u32 = 8;
/// The longest entry an entry bundle can hold.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// `N` as a tile path writes it: `x001/x234/067` for 1234067.
pub fn tile_index_path(index: u64) -> String {
    let digits = index.to_string();
    let padded = format!("{}{digits}", "0".repeat((3 - digits.len() % 3) % 3));
    let groups: Vec<&str> = padded
        .as_bytes()
        .chunks(3)
        .map(|chunk| std::str::from_utf8(chunk).expect("ASCII digits"))
        .collect();
    let (last, rest) = groups.split_last().expect("at least one group");
    let mut path = String::new();
    for group in rest {
        path.push('x');
        path.push_str(group);
        path.push('/');
    }
    path.push_str(last);
    path
}

/// The path of a hash tile (`level` is a number) or an entry bundle (`level` is `entries`),
/// relative to the log's directory. `width` is the number of hashes or entries it holds.
pub fn tile_path(level: &str, index: u64, width: u64) -> String {
    let base = format!("tile/{level}/{}", tile_index_path(index));
    if width == TILE_WIDTH {
        base
    } else {
        format!("{base}.p/{width}")
    }
}

/// The tile a path names (relative to the log's directory): its level (`None` for an entry
/// bundle), index and width; `None` when the path is not a tile's as [`tile_path`] writes it.
pub fn parse_tile_path(path: &str) -> Option<(Option<u32>, u64, u64)> {
    let rest = path.strip_prefix("tile/")?;
    let (level, rest) = rest.split_once('/')?;
    let level = match level {
        "entries" => None,
        digits => Some(
            digits
                .parse::<u32>()
                .ok()
                .filter(|l| l.to_string() == digits)?,
        ),
    };
    let (index_part, width) = match rest.split_once(".p/") {
        Some((index_part, width)) => {
            let width = width.parse::<u64>().ok()?;
            (index_part, width)
        }
        None => (rest, TILE_WIDTH),
    };
    let digits: String = index_part
        .split('/')
        .map(|g| g.trim_start_matches('x'))
        .collect();
    let index = digits.parse::<u64>().ok()?;
    let level_name = level.map_or("entries".to_owned(), |l| l.to_string());
    ((1..=TILE_WIDTH).contains(&width) && tile_path(&level_name, index, width) == path)
        .then_some((level, index, width))
}

/// Reads the log's files by their path relative to the log's directory.
pub trait TileStore {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String>;
}

/// A [`TileStore`] that reads each path from `inner` once. A proof visits the same tile for
/// several of its hashes, and over HTTP each visit would be a request; tiles never change
/// once written, so the first answer is the answer for as long as the store lives.
#[derive(Debug)]
pub struct Memo<S> {
    inner: S,
    read: std::sync::Mutex<BTreeMap<String, Option<Vec<u8>>>>,
}

impl<S: TileStore> Memo<S> {
    pub fn new(inner: S) -> Memo<S> {
        Memo {
            inner,
            read: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// The store it reads from.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: TileStore> TileStore for Memo<S> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let known = self
            .read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(path)
            .cloned();
        if let Some(bytes) = known {
            return Ok(bytes);
        }
        let bytes = self.inner.read(path)?;
        self.read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(path.to_owned(), bytes.clone());
        Ok(bytes)
    }
}

/// The hashes stored in a tile's bytes.
fn parse_hashes(path: &str, bytes: &[u8], width: u64) -> Result<Vec<TreeHash>, ProofError> {
    if bytes.len() as u64 != width * 32 {
        return Err(ProofError::Unreadable(format!(
            "{path}: {} bytes, where a tile of {width} hashes has {}",
            bytes.len(),
            width * 32
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|chunk| chunk.try_into().expect("32 bytes"))
        .collect())
}

/// Answers subtree hashes from the tiles of a log of `size` entries.
pub struct TileReader<'s, S: TileStore> {
    pub store: &'s S,
    pub size: u64,
}

impl<S: TileStore> TileReader<'_, S> {
    /// The hashes of tile `index` at `level`, as wide as the log of `size` entries has it.
    pub fn tile(&self, level: u32, index: u64) -> Result<Vec<TreeHash>, ProofError> {
        let stored = self.size >> (TILE_HEIGHT * level);
        let start = index * TILE_WIDTH;
        if start >= stored {
            return Err(ProofError::OutOfRange {
                index: start,
                size: stored,
            });
        }
        let width = (stored - start).min(TILE_WIDTH);
        let path = tile_path(&level.to_string(), index, width);
        let bytes = self
            .store
            .read(&path)
            .map_err(ProofError::Unreadable)?
            .ok_or_else(|| ProofError::Unreadable(format!("{path}: missing")))?;
        parse_hashes(&path, &bytes, width)
    }
}

impl<S: TileStore> HashReader for TileReader<'_, S> {
    fn subtree(&self, height: u32, index: u64) -> Result<TreeHash, ProofError> {
        // Stored at level height / 8; above it, `2^(height % 8)` stored hashes combine.
        let level = height / TILE_HEIGHT;
        let extra = height % TILE_HEIGHT;
        let first = index << extra;
        let count = 1u64 << extra;
        let tile = self.tile(level, first / TILE_WIDTH)?;
        let offset = (first % TILE_WIDTH) as usize;
        let Some(hashes) = tile.get(offset..offset + count as usize) else {
            return Err(ProofError::OutOfRange {
                index: first + count,
                size: self.size >> (TILE_HEIGHT * level),
            });
        };
        Ok(perfect_root(hashes))
    }
}

/// The root of a perfect tree over `hashes` (a power of two of them).
fn perfect_root(hashes: &[TreeHash]) -> TreeHash {
    let mut level: Vec<TreeHash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| merkle::node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// Adds entries to a log, given its right edge.
pub struct Appender {
    size: u64,
    /// The hashes of the partial tile at each level (fewer than 256 each).
    edge: Vec<Vec<TreeHash>>,
    /// The entries of the partial entry bundle.
    bundle: Vec<Vec<u8>>,
    /// Files completed since [`Appender::take_completed`] last took them: path -> bytes. Later
    /// widths of the same tile replace nothing: each is its own path.
    written: BTreeMap<String, Vec<u8>>,
}

impl Appender {
    /// An empty log.
    pub fn empty() -> Appender {
        Appender {
            size: 0,
            edge: Vec::new(),
            bundle: Vec::new(),
            written: BTreeMap::new(),
        }
    }

    /// Opens a log of `size` entries by reading its partial tiles and entry bundle.
    pub fn open(store: &impl TileStore, size: u64) -> Result<Appender, ProofError> {
        let reader = TileReader { store, size };
        let mut edge = Vec::new();
        let mut level = 0u32;
        while (size >> (TILE_HEIGHT * level)) > 0 {
            let stored = size >> (TILE_HEIGHT * level);
            let width = stored % TILE_WIDTH;
            edge.push(if width == 0 {
                Vec::new()
            } else {
                reader.tile(level, stored / TILE_WIDTH)?
            });
            level += 1;
        }
        let width = size % TILE_WIDTH;
        let bundle = if width == 0 {
            Vec::new()
        } else {
            let path = tile_path("entries", size / TILE_WIDTH, width);
            let bytes = store
                .read(&path)
                .map_err(ProofError::Unreadable)?
                .ok_or_else(|| ProofError::Unreadable(format!("{path}: missing")))?;
            parse_bundle(&path, &bytes, width)?
        };
        Ok(Appender {
            size,
            edge,
            bundle,
            written: BTreeMap::new(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the partial entry bundle holds the entries whose leaf hashes the partial
    /// level-0 tile holds: the tree's hash does not cover the bundle's bytes otherwise.
    pub fn bundle_matches_tile(&self) -> bool {
        let leaves = self.edge.first().map(Vec::as_slice).unwrap_or_default();
        leaves.len() == self.bundle.len()
            && self
                .bundle
                .iter()
                .zip(leaves)
                .all(|(entry, leaf)| merkle::leaf_hash(entry) == *leaf)
    }

    /// Appends one entry. Entries longer than [`MAX_ENTRY_BYTES`] cannot be bundled.
    pub fn append(&mut self, entry: &[u8]) -> Result<(), String> {
        if entry.len() > MAX_ENTRY_BYTES {
            return Err(format!(
                "a log entry of {} bytes is longer than the {MAX_ENTRY_BYTES} an entry bundle holds",
                entry.len()
            ));
        }
        let index = self.size;
        self.bundle.push(entry.to_vec());
        if self.bundle.len() as u64 == TILE_WIDTH {
            let path = tile_path("entries", index / TILE_WIDTH, TILE_WIDTH);
            self.written.insert(path, bundle_bytes(&self.bundle));
            self.bundle.clear();
        }
        let mut hash = merkle::leaf_hash(entry);
        let mut level = 0usize;
        let mut position = index;
        loop {
            if self.edge.len() == level {
                self.edge.push(Vec::new());
            }
            self.edge[level].push(hash);
            if self.edge[level].len() as u64 != TILE_WIDTH {
                break;
            }
            let full = std::mem::take(&mut self.edge[level]);
            self.written.insert(
                tile_path(&level.to_string(), position / TILE_WIDTH, TILE_WIDTH),
                hashes_bytes(&full),
            );
            hash = perfect_root(&full);
            position /= TILE_WIDTH;
            level += 1;
        }
        self.size += 1;
        Ok(())
    }

    /// The tree's root hash.
    pub fn root(&self) -> TreeHash {
        // The perfect subtrees making up the tree, largest (highest level) first.
        let mut peaks: Vec<TreeHash> = Vec::new();
        for hashes in self.edge.iter().rev() {
            let mut start = 0usize;
            let width = hashes.len();
            for bit in (0..TILE_HEIGHT).rev() {
                let group = 1usize << bit;
                if width & group != 0 {
                    peaks.push(perfect_root(&hashes[start..start + group]));
                    start += group;
                }
            }
        }
        let Some(mut hash) = peaks.pop() else {
            return merkle::empty_hash();
        };
        while let Some(left) = peaks.pop() {
            hash = merkle::node_hash(&left, &hash);
        }
        hash
    }

    /// The full tiles and bundles the appends completed since the last call, taken out of the
    /// appender: a caller appending many entries writes them away as they come instead of
    /// holding every one until [`Appender::finish`].
    pub fn take_completed(&mut self) -> BTreeMap<String, Vec<u8>> {
        std::mem::take(&mut self.written)
    }

    /// Every file the appends made (full tiles and bundles) not yet taken, plus the partial
    /// tile of each level and the partial bundle as they now stand: path relative to the log
    /// directory -> bytes.
    pub fn finish(mut self) -> BTreeMap<String, Vec<u8>> {
        for (level, hashes) in self.edge.iter().enumerate() {
            if !hashes.is_empty() {
                let stored = self.size >> (TILE_HEIGHT as usize * level);
                self.written.insert(
                    tile_path(&level.to_string(), stored / TILE_WIDTH, hashes.len() as u64),
                    hashes_bytes(hashes),
                );
            }
        }
        if !self.bundle.is_empty() {
            self.written.insert(
                tile_path("entries", self.size / TILE_WIDTH, self.bundle.len() as u64),
                bundle_bytes(&self.bundle),
            );
        }
        self.written
    }
}

fn hashes_bytes(hashes: &[TreeHash]) -> Vec<u8> {
    hashes
        .iter()
        .flat_map(|hash| hash.iter().copied())
        .collect()
}

fn bundle_bytes(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in entries {
        bytes.extend_from_slice(&(entry.len() as u16).to_be_bytes());
        bytes.extend_from_slice(entry);
    }
    bytes
}

/// The entries of an entry bundle that holds `width` of them.
pub fn parse_bundle(path: &str, bytes: &[u8], width: u64) -> Result<Vec<Vec<u8>>, ProofError> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some((length, tail)) = rest.split_first_chunk::<2>() else {
            return Err(ProofError::Unreadable(format!(
                "{path}: ends inside an entry's length"
            )));
        };
        let length = u16::from_be_bytes(*length) as usize;
        let Some((entry, tail)) = tail.split_at_checked(length) else {
            return Err(ProofError::Unreadable(format!(
                "{path}: ends inside an entry"
            )));
        };
        entries.push(entry.to_vec());
        rest = tail;
    }
    if entries.len() as u64 != width {
        return Err(ProofError::Unreadable(format!(
            "{path}: {} entries where {width} belong",
            entries.len()
        )));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn tile_indexes_are_written_in_groups_of_three_digits() {
        assert_eq!(tile_index_path(0), "000");
        assert_eq!(tile_index_path(5), "005");
        assert_eq!(tile_index_path(1234), "x001/234");
        assert_eq!(tile_index_path(1234067), "x001/x234/067");
        assert_eq!(tile_path("0", 1234, 256), "tile/0/x001/234");
        assert_eq!(tile_path("entries", 1, 17), "tile/entries/001.p/17");
        assert_eq!(
            parse_tile_path("tile/entries/001.p/17"),
            Some((None, 1, 17))
        );
        assert_eq!(
            parse_tile_path("tile/0/x001/234"),
            Some((Some(0), 1234, 256))
        );
        assert_eq!(
            parse_tile_path("tile/2/x001/x234/067.p/3"),
            Some((Some(2), 1234067, 3))
        );
        for bad in [
            "tile/0/1234",
            "tile/0/000.p/256",
            "tile/0/000.p/0",
            "tile/00/000",
            "checkpoint",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }

    /// A directory in memory that remembers every file ever written (as a host does).
    #[derive(Default)]
    struct Memory(RefCell<BTreeMap<String, Vec<u8>>>);

    impl TileStore for Memory {
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.0.borrow().get(path).cloned())
        }
    }

    #[test]
    fn appending_in_batches_gives_the_tree_of_all_entries_and_immutable_files() {
        let store = Memory::default();
        let entries: Vec<Vec<u8>> = (0..70_000u32)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        // Batches that cross tile boundaries at every level.
        let batches = [0usize, 1, 255, 256, 257, 300, 65_536, 65_537, 70_000];
        let mut size = 0u64;
        for &end in &batches[1..] {
            let mut appender = Appender::open(&store, size).unwrap();
            for entry in &entries[size as usize..end] {
                appender.append(entry).unwrap();
            }
            let root = appender.root();
            for (path, bytes) in appender.finish() {
                let mut files = store.0.borrow_mut();
                if let Some(old) = files.get(&path) {
                    assert_eq!(old, &bytes, "{path} was rewritten");
                }
                files.insert(path, bytes);
            }
            size = end as u64;
            // The root from the edge equals the root from the tiles, and the bundles hold the
            // entries.
            let reader = TileReader {
                store: &store,
                size,
            };
            assert_eq!(merkle::tree_hash(&reader, size).unwrap(), root, "{size}");
            let last = size - 1;
            let width = (size - 1) % TILE_WIDTH + 1;
            let bundle = store
                .read(&tile_path("entries", last / TILE_WIDTH, width))
                .unwrap()
                .unwrap();
            let parsed = parse_bundle("b", &bundle, width).unwrap();
            assert_eq!(parsed.last().unwrap(), &entries[last as usize]);
            // An inclusion proof of the last entry read from tiles verifies.
            let proof = merkle::inclusion_proof(&reader, last, size).unwrap();
            merkle::verify_inclusion(
                &merkle::leaf_hash(&entries[last as usize]),
                last,
                size,
                &proof,
                &root,
            )
            .unwrap();
        }
        assert!(store.0.borrow().contains_key("tile/1/000"));
        assert!(store.0.borrow().contains_key("tile/2/000.p/1"));
    }

    #[test]
    fn files_taken_as_they_complete_are_the_files_finish_gives_at_once() {
        let entries: Vec<Vec<u8>> = (0..70_000u32)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        let mut at_once = Appender::empty();
        let mut as_they_come = Appender::empty();
        let mut taken = BTreeMap::new();
        for (n, entry) in entries.iter().enumerate() {
            at_once.append(entry).unwrap();
            as_they_come.append(entry).unwrap();
            if n % 1000 == 0 {
                for (path, bytes) in as_they_come.take_completed() {
                    assert!(taken.insert(path, bytes).is_none(), "taken twice");
                }
            }
        }
        assert_eq!(as_they_come.root(), at_once.root());
        for (path, bytes) in as_they_come.finish() {
            assert!(taken.insert(path, bytes).is_none(), "taken twice");
        }
        assert_eq!(taken, at_once.finish());
        assert!(taken.contains_key("tile/1/000") && taken.contains_key("tile/entries/273.p/112"));
    }

    #[test]
    fn damaged_tiles_and_bundles_are_reported_by_path() {
        let store = Memory::default();
        store
            .0
            .borrow_mut()
            .insert("tile/0/000.p/2".to_owned(), vec![0; 63]);
        let Err(err) = Appender::open(&store, 2) else {
            panic!("a short tile was accepted");
        };
        assert!(
            err.to_string().contains("tile/0/000.p/2: 63 bytes"),
            "{err}"
        );
        assert!(parse_bundle("b", &[0, 5, b'a'], 1).is_err());
        assert!(parse_bundle("b", &[0, 1, b'a'], 2).is_err());
    }

    #[test]
    fn a_memo_reads_each_path_from_its_store_once() {
        struct Counting(std::sync::Mutex<Vec<String>>);
        impl TileStore for &Counting {
            fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
                self.0.lock().unwrap().push(path.to_owned());
                Ok((path != "missing").then(|| path.as_bytes().to_vec()))
            }
        }
        let counting = Counting(std::sync::Mutex::new(Vec::new()));
        let memo = Memo::new(&counting);
        for _ in 0..3 {
            assert_eq!(
                memo.read("tile/0/000").unwrap(),
                Some(b"tile/0/000".to_vec())
            );
            assert_eq!(memo.read("missing").unwrap(), None);
        }
        assert_eq!(*counting.0.lock().unwrap(), ["tile/0/000", "missing"]);
    }
}
