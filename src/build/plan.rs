//! The deploy plan: which files of a build are new relative to the registry published before,
//! in an order that is safe to upload one file at a time.
//!
//! A static host updated file by file must never serve a root that points at files not yet
//! uploaded. Every file belongs to a [`Kind`], and kinds are uploaded in the order they are
//! declared: content-addressed blobs, index documents and bins first (nothing points at
//! them until the root does, so among them the order does not matter, and a bin need not follow
//! its children), the publish log's tiles (immutable, named by nothing but the checkpoint), then
//! readable documents (which only name blobs), then anything else that shows or configures the
//! registry, the log's checkpoint, and the root (which pins the checkpoint) last. The website
//! manifest's documents follow the website's files, which they name. A new kind of output gets
//! its place in this order and nothing else changes. Within a kind, files are sorted by path
//! so the plan is deterministic. The build writes the plan to `<out>/.perstack-build/plan.json`,
//! outside the served tree; `perstack-registry plan` prints it for deploy scripts.
//!
//! A first build plans every file of the registry (several million paths at a million
//! versions), so the plan is never held in memory. [`Plan`] spools each kind's paths to
//! `<out>/.perstack-build/plan-spool/` in sorted runs of bounded size as they are found, and
//! [`Plan::write`] merges the runs into `plan.json`; [`read_each`] streams a written plan back
//! one file at a time. The spool is scratch: only the atomic rename of `plan.json` at the end
//! says a plan is complete, and a build removes both before it starts, so a killed build leaves
//! no plan behind.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::common::fsutil::{self, IoContext, IoError};
use crate::common::json::Document;
use crate::data::validate::Registry;
use crate::format::STATE_DIR;
use crate::format::index::{self, BinTree};
use crate::format::reader::{PublishedError, PublishedRegistry};

pub const FILE_NAME: &str = "plan.json";
pub const FORMAT: u64 = 1;
/// Where a build spools the plan's paths, beside the plan in the state directory.
const SPOOL_DIR: &str = "plan-spool";
/// How many bytes of paths (plus 8 per path) a kind keeps in memory before it sorts them and
/// spools them as a run: about 10,000 paths, so the plan holds a few MiB whatever the
/// registry's size.
const RUN_BYTES: usize = 1 << 20;
/// How many runs a kind keeps before it merges them into one: the merge holds one open file
/// and one read buffer per run.
const MAX_RUNS: usize = 64;

/// What a file is, in safe upload order: every kind may be uploaded only after all files of
/// the kinds before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `v1/blobs/`: version files, by hash.
    Blob,
    /// `v1/index/`: expert index documents, by hash.
    Index,
    /// `v1/bins/`: the bins, by hash.
    Bin,
    /// `v1/log/tile/`: the publish log's tiles and entry bundles (immutable).
    Tile,
    /// `v1/log/experts/`: where each expert's publish entries are in the log (mutable). After
    /// the tiles, since a hint names entries that must be there to prove; before the
    /// checkpoint and root, which it does not depend on (a client reads a hint only for a
    /// version its root serves, whose entry an older hint already lists).
    #[serde(rename = "log-hint")]
    LogHint,
    /// `v1/experts/`: index documents at readable paths.
    Readable,
    /// `api/registry/v1/`: the Perstack API documents.
    Api,
    /// `api/registry/v1/format.json`: the format of the API documents, after all of them, so a
    /// deploy interrupted before it uploads them all again next time.
    #[serde(rename = "api-format")]
    ApiFormat,
    /// The website: pages, assets, search index (written by this build).
    Site,
    /// `v1/site/`: the website manifest's documents, by hash, after the files they list (a
    /// mirror that reads a document finds every file it names).
    #[serde(rename = "site-manifest")]
    SiteManifest,
    /// `_headers`: caching rules for the host.
    Headers,
    /// `v1/log/checkpoint`: the publish log's checkpoint, after its tiles, before the root
    /// that pins it.
    Checkpoint,
    /// `v1/root.json`: the entry point, always last.
    Root,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    pub kind: Kind,
    /// Relative to the registry root, with `/` separators.
    pub path: String,
}

/// What a build planned, without the paths themselves: those are in the plan file at `path`,
/// which [`read_each`] streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The serial of the root the plan publishes.
    pub serial: u64,
    /// `<out>/.perstack-build/plan.json`.
    pub path: PathBuf,
    /// How many files of each kind the plan lists (kinds with none are left out).
    pub counts: BTreeMap<Kind, usize>,
}

impl Summary {
    /// How many files the plan lists.
    pub fn files(&self) -> usize {
        self.counts.values().sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{0}: no plan here; run `perstack-registry build` first")]
    Missing(PathBuf),
    #[error("{path}: not a plan this version can read: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The plan of a build in progress: each kind's paths, spooled to disk in sorted runs.
pub struct Plan {
    serial: u64,
    out_dir: PathBuf,
    spool_dir: PathBuf,
    kinds: BTreeMap<Kind, Spool>,
    /// Numbers the run files, so a merged run never takes the name of one it replaces.
    runs_made: usize,
    /// [`RUN_BYTES`] and [`MAX_RUNS`], which tests lower to spill and merge small plans.
    run_bytes: usize,
    max_runs: usize,
}

impl Plan {
    /// Starts the plan of the build into `out_dir` that publishes `serial`, clearing the spool
    /// a killed build may have left.
    pub fn new(out_dir: &Path, serial: u64) -> Result<Plan, IoError> {
        let spool_dir = out_dir.join(STATE_DIR).join(SPOOL_DIR);
        remove_dir_if_exists(&spool_dir)?;
        Ok(Plan {
            serial,
            out_dir: out_dir.to_owned(),
            spool_dir,
            kinds: BTreeMap::new(),
            runs_made: 0,
            run_bytes: RUN_BYTES,
            max_runs: MAX_RUNS,
        })
    }

    pub fn add_all(
        &mut self,
        kind: Kind,
        paths: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<(), IoError> {
        for path in paths {
            self.add(kind, path.as_ref())?;
        }
        Ok(())
    }

    /// Adds a file; the same file added twice is planned once.
    pub fn add(&mut self, kind: Kind, path: &str) -> Result<(), IoError> {
        let spool = self.kinds.entry(kind).or_default();
        spool.push(path);
        if spool.pending_bytes() >= self.run_bytes {
            spool.spill(&self.spool_dir, &mut self.runs_made, self.max_runs)?;
        }
        Ok(())
    }

    /// Plans the root when `root` differs from the root `previous` serves: for a root settled
    /// after [`compute`] ran (one that pins the website, which is rendered later).
    pub fn set_root(
        &mut self,
        root: &Document,
        previous: Option<&PublishedRegistry>,
    ) -> Result<(), IoError> {
        self.kinds.remove(&Kind::Root);
        if previous.is_none_or(|p| p.root_bytes != root.bytes) {
            self.add(Kind::Root, index::ROOT_PATH)?;
        }
        Ok(())
    }

    /// Where the build keeps the plan for the registry in `out_dir`.
    pub fn path(out_dir: &Path) -> PathBuf {
        out_dir.join(STATE_DIR).join(FILE_NAME)
    }

    /// Writes `plan.json` atomically, merging each kind's runs as it goes, so the plan is never
    /// whole in memory; then removes the spool.
    pub fn write(mut self) -> Result<Summary, IoError> {
        // A kind that spilled merges its runs only, so what it still holds joins them first.
        for spool in self.kinds.values_mut() {
            if !spool.runs.is_empty() && !spool.ranges.is_empty() {
                spool.spill(&self.spool_dir, &mut self.runs_made, self.max_runs)?;
            }
        }
        let path = Plan::path(&self.out_dir);
        let mut counts = BTreeMap::new();
        fsutil::write_atomic_with(&path, |writer| {
            let mut json = JsonWriter::start(writer, self.serial)?;
            for (&kind, spool) in &self.kinds {
                let mut count = 0;
                spool.each_sorted(|path| {
                    count += 1;
                    json.file(kind, path)
                })?;
                if count > 0 {
                    counts.insert(kind, count);
                }
            }
            json.finish()
        })?;
        Ok(Summary {
            serial: self.serial,
            path,
            counts,
        })
    }

    /// Removes the plan of an earlier build, so a build that fails leaves none behind.
    pub fn remove(out_dir: &Path) -> Result<(), IoError> {
        fsutil::remove_file_if_exists(&Plan::path(out_dir))
    }
}

/// The spool is scratch whether the plan was written or the build failed; a spool this could
/// not remove is removed by the next build's [`Plan::new`].
impl Drop for Plan {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.spool_dir);
    }
}

fn remove_dir_if_exists(path: &Path) -> Result<(), IoError> {
    match fs::remove_dir_all(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(IoError::new("cannot remove", path, err))
        }
        _ => Ok(()),
    }
}

/// One kind's paths: those not yet spooled, end to end in one string (a `String` each would
/// cost more than the path), and the sorted runs on disk.
#[derive(Default)]
struct Spool {
    text: String,
    /// Where each pending path starts and ends in `text`.
    ranges: Vec<(u32, u32)>,
    runs: Vec<PathBuf>,
}

impl Spool {
    fn push(&mut self, path: &str) {
        let start = self.text.len();
        self.text.push_str(path);
        // A spool holds at most RUN_BYTES plus one path, far below u32::MAX.
        self.ranges.push((start as u32, self.text.len() as u32));
    }

    fn pending_bytes(&self) -> usize {
        self.text.len() + self.ranges.len() * std::mem::size_of::<(u32, u32)>()
    }

    /// The pending paths, sorted, each once.
    fn sorted(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = self
            .ranges
            .iter()
            .map(|&(start, end)| &self.text[start as usize..end as usize])
            .collect();
        paths.sort_unstable();
        paths.dedup();
        paths
    }

    /// Writes the pending paths as a sorted run and forgets them; at `max_runs`, merges the
    /// runs into one.
    fn spill(&mut self, dir: &Path, runs_made: &mut usize, max_runs: usize) -> Result<(), IoError> {
        let path = new_run(dir, runs_made)?;
        let mut writer = BufWriter::new(File::create(&path).with_path("cannot create", &path)?);
        (|| {
            for entry in self.sorted() {
                write_entry(&mut writer, entry)?;
            }
            writer.flush()
        })()
        .with_path("cannot write", &path)?;
        self.text.clear();
        self.ranges.clear();
        self.runs.push(path);
        if self.runs.len() >= max_runs {
            let merged = new_run(dir, runs_made)?;
            let mut writer =
                BufWriter::new(File::create(&merged).with_path("cannot create", &merged)?);
            merge(&self.runs, |entry| write_entry(&mut writer, entry))
                .and_then(|()| writer.flush())
                .with_path("cannot write", &merged)?;
            for run in self.runs.drain(..) {
                fsutil::remove_file_if_exists(&run)?;
            }
            self.runs.push(merged);
        }
        Ok(())
    }

    /// Hands `emit` every path of the kind, sorted, each once.
    fn each_sorted(&self, emit: impl FnMut(&str) -> io::Result<()>) -> io::Result<()> {
        if self.runs.is_empty() {
            self.sorted().into_iter().try_for_each(emit)
        } else {
            merge(&self.runs, emit)
        }
    }
}

fn new_run(dir: &Path, runs_made: &mut usize) -> Result<PathBuf, IoError> {
    fsutil::create_real_dir(dir)?;
    *runs_made += 1;
    Ok(dir.join(format!("{runs_made}.run")))
}

/// A run holds each path as its length (4 bytes, little-endian) and its bytes, so a path may
/// hold any character.
fn write_entry(writer: &mut impl Write, path: &str) -> io::Result<()> {
    let len = u32::try_from(path.len()).map_err(io::Error::other)?;
    writer.write_all(&len.to_le_bytes())?;
    writer.write_all(path.as_bytes())
}

/// A run being read back, one path at a time.
struct RunReader<'a> {
    path: &'a Path,
    reader: BufReader<File>,
}

impl RunReader<'_> {
    fn next(&mut self) -> io::Result<Option<String>> {
        let named = |err: io::Error| {
            io::Error::new(err.kind(), IoError::new("cannot read", self.path, err))
        };
        let mut len = [0; 4];
        match self.reader.read_exact(&mut len) {
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            result => result.map_err(named)?,
        }
        let mut bytes = vec![0; u32::from_le_bytes(len) as usize];
        self.reader.read_exact(&mut bytes).map_err(named)?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|err| named(io::Error::new(io::ErrorKind::InvalidData, err)))
    }
}

/// Hands `emit` the paths of sorted `runs` in order, each once, holding one path per run.
fn merge(runs: &[PathBuf], mut emit: impl FnMut(&str) -> io::Result<()>) -> io::Result<()> {
    let mut readers = runs
        .iter()
        .map(|path| {
            let file = File::open(path).map_err(|err| {
                io::Error::new(err.kind(), IoError::new("cannot read", path, err))
            })?;
            Ok(RunReader {
                path,
                reader: BufReader::new(file),
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut heads = BinaryHeap::new();
    for (run, reader) in readers.iter_mut().enumerate() {
        if let Some(path) = reader.next()? {
            heads.push(Reverse((path, run)));
        }
    }
    let mut last: Option<String> = None;
    while let Some(Reverse((path, run))) = heads.pop() {
        if let Some(next) = readers[run].next()? {
            heads.push(Reverse((next, run)));
        }
        if last.as_ref() != Some(&path) {
            emit(&path)?;
            last = Some(path);
        }
    }
    Ok(())
}

/// Writes `plan.json` one file at a time, byte for byte as `serde_json::to_writer_pretty`
/// writes the whole plan (readers of format 1 see no difference).
struct JsonWriter<'a, W: Write> {
    writer: &'a mut W,
    files: usize,
}

impl<'a, W: Write> JsonWriter<'a, W> {
    fn start(writer: &'a mut W, serial: u64) -> io::Result<JsonWriter<'a, W>> {
        write!(
            writer,
            "{{\n  \"format\": {FORMAT},\n  \"serial\": {serial},\n  \"files\": ["
        )?;
        Ok(JsonWriter { writer, files: 0 })
    }

    fn file(&mut self, kind: Kind, path: &str) -> io::Result<()> {
        let separator = if self.files == 0 { "" } else { "," };
        write!(self.writer, "{separator}\n    {{\n      \"kind\": ")?;
        serde_json::to_writer(&mut *self.writer, &kind)?;
        self.writer.write_all(b",\n      \"path\": ")?;
        serde_json::to_writer(&mut *self.writer, path)?;
        self.writer.write_all(b"\n    }")?;
        self.files += 1;
        Ok(())
    }

    fn finish(self) -> io::Result<()> {
        let close = if self.files == 0 { "]" } else { "\n  ]" };
        write!(self.writer, "{close}\n}}\n")?;
        self.writer.flush()
    }
}

/// Reads the plan the last build wrote in `out_dir`, handing `each` its files in order, one at
/// a time (a plan can list millions), and returns the plan's serial. `format` must come
/// before `files`, as the build writes it, so a plan of another format is refused before any
/// file is handed on. An error `each` returns stops the reading and is returned.
pub fn read_each<E: From<PlanError>>(
    out_dir: &Path,
    mut each: impl FnMut(PlannedFile) -> Result<(), E>,
) -> Result<u64, E> {
    let path = Plan::path(out_dir);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(PlanError::Missing(path).into());
        }
        Err(err) => return Err(PlanError::from(IoError::new("cannot read", &path, err)).into()),
    };
    let mut stopped = None;
    let mut deserializer = serde_json::Deserializer::from_reader(BufReader::new(file));
    let read = PlanSeed {
        each: &mut each,
        stopped: &mut stopped,
    }
    .deserialize(&mut deserializer)
    .and_then(|serial| deserializer.end().map(|()| serial));
    match (read, stopped) {
        (_, Some(err)) => Err(err),
        (Ok(serial), None) => Ok(serial),
        (Err(err), None) if err.is_io() => {
            Err(PlanError::from(IoError::new("cannot read", &path, err.into())).into())
        }
        (Err(err), None) => Err(PlanError::Invalid {
            path,
            message: err.to_string(),
        }
        .into()),
    }
}

/// Reads a plan's fields, handing on the files as they come.
struct PlanSeed<'a, F, E> {
    each: &'a mut F,
    /// The error `each` returned, if it stopped the reading.
    stopped: &'a mut Option<E>,
}

impl<'de, F, E> DeserializeSeed<'de> for PlanSeed<'_, F, E>
where
    F: FnMut(PlannedFile) -> Result<(), E>,
{
    type Value = u64;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F, E> Visitor<'de> for PlanSeed<'_, F, E>
where
    F: FnMut(PlannedFile) -> Result<(), E>,
{
    type Value = u64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a deploy plan")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let (mut format, mut serial, mut files) = (false, None, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let found: u64 = map.next_value()?;
                    if found != FORMAT {
                        return Err(de::Error::custom(format!(
                            "format {found} (this version reads {FORMAT})"
                        )));
                    }
                    format = true;
                }
                "serial" => serial = Some(map.next_value()?),
                "files" if !format => {
                    return Err(de::Error::custom("`files` before `format`"));
                }
                "files" => {
                    map.next_value_seed(FilesSeed {
                        each: &mut *self.each,
                        stopped: &mut *self.stopped,
                    })?;
                    files = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !files {
            return Err(de::Error::missing_field("files"));
        }
        serial.ok_or_else(|| de::Error::missing_field("serial"))
    }
}

/// Reads a plan's `files`, handing each on without keeping it.
struct FilesSeed<'a, F, E> {
    each: &'a mut F,
    stopped: &'a mut Option<E>,
}

impl<'de, F, E> DeserializeSeed<'de> for FilesSeed<'_, F, E>
where
    F: FnMut(PlannedFile) -> Result<(), E>,
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F, E> Visitor<'de> for FilesSeed<'_, F, E>
where
    F: FnMut(PlannedFile) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list of files")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(file) = seq.next_element::<PlannedFile>()? {
            if let Err(err) = (self.each)(file) {
                *self.stopped = Some(err);
                return Err(de::Error::custom("stopped by the reader"));
            }
        }
        Ok(())
    }
}

/// The registry a build is about to publish, as the plan needs it.
pub struct Built<'a> {
    pub registry: &'a Registry,
    pub bins: &'a BinTree,
    /// What differs from `previous` (everything, when there is none).
    pub changes: &'a super::Changes,
    pub root: &'a Document,
}

/// Adds to `plan` the files of `built` that `previous` does not already serve. Blobs are known
/// from the previous index documents rather than looked up on disk, so `previous` may be a
/// copy of the deployed registry without its blobs. Only the changed experts' previous index
/// documents are read.
pub fn compute(
    built: &Built<'_>,
    previous: Option<&PublishedRegistry>,
    plan: &mut Plan,
) -> Result<(), PublishedError> {
    let api_current = match previous {
        Some(p) => crate::format::api::format_is_current(p.reader.as_ref())?,
        None => false,
    };
    for (name, expert) in &built.registry.experts {
        let change = built.changes.experts.get(name.as_str());
        let (old_index, hash) = match (previous, change) {
            (_, Some((old, Some(new)))) => {
                let old = match (previous, old) {
                    (Some(p), Some(old)) => Some(p.read_index_sized(old)?),
                    _ => None,
                };
                (old, new.hash)
            }
            _ => {
                // Documents in the format of an older build are all replaced.
                if !api_current {
                    plan.add_all(Kind::Api, crate::format::api::document_paths(expert))?;
                }
                continue;
            }
        };
        for published in expert.versions.values() {
            let blake3 = published.record.blake3;
            let known = old_index
                .as_ref()
                .is_some_and(|doc| doc.versions.values().any(|v| v.blake3 == blake3));
            if !known {
                plan.add(Kind::Blob, &index::blob_path(&blake3))?;
            }
        }
        plan.add(Kind::Index, &index::index_path(&hash))?;
        plan.add(Kind::Readable, &name.readable_index_path())?;
        // An expert's API documents are a function of its index document and blobs, so they
        // change exactly when its index document does.
        plan.add_all(Kind::Api, crate::format::api::document_paths(expert))?;
    }
    for hash in &built.changes.bins {
        plan.add(Kind::Bin, &index::bin_path(hash))?;
    }
    let unchanged = |relative: &str, bytes: &[u8]| -> Result<bool, PublishedError> {
        Ok(match previous {
            Some(p) if relative == index::ROOT_PATH => p.root_bytes == bytes,
            Some(p) => p.reader.read(relative)?.as_deref() == Some(bytes),
            None => false,
        })
    };
    for (relative, bytes) in crate::format::api::fixed_documents() {
        if !unchanged(relative, &bytes)? {
            let kind = match relative {
                crate::format::api::FORMAT_PATH => Kind::ApiFormat,
                _ => Kind::Api,
            };
            plan.add(kind, relative)?;
        }
    }
    if !unchanged(
        "_headers",
        crate::format::headers::headers_file().as_bytes(),
    )? {
        plan.add(Kind::Headers, "_headers")?;
    }
    if !unchanged(index::ROOT_PATH, &built.root.bytes)? {
        plan.add(Kind::Root, index::ROOT_PATH)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan as the build wrote it before it spooled: the whole list, serialized at once.
    #[derive(Serialize)]
    struct WholePlan {
        format: u64,
        serial: u64,
        files: Vec<PlannedFile>,
    }

    fn whole(serial: u64, files: &[(Kind, String)]) -> Vec<u8> {
        let mut files: Vec<PlannedFile> = files
            .iter()
            .map(|(kind, path)| PlannedFile {
                kind: *kind,
                path: path.clone(),
            })
            .collect();
        files.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
        files.dedup();
        let mut bytes = serde_json::to_vec_pretty(&WholePlan {
            format: FORMAT,
            serial,
            files,
        })
        .unwrap();
        bytes.push(b'\n');
        bytes
    }

    /// Files of several kinds, in no order, with repeats, and paths that need escaping.
    fn files(count: usize) -> Vec<(Kind, String)> {
        let kinds = [Kind::Root, Kind::Blob, Kind::Api, Kind::Site, Kind::Blob];
        (0..count)
            .map(|n| {
                // A multiplicative hash scatters the paths; the modulus makes repeats.
                let scattered =
                    (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % (count as u64 * 3 / 4 + 1);
                let path = match n % 7 {
                    0 => format!("api/\"quoted\"/é/{scattered}"),
                    1 => format!("line\nbreak/{scattered}"),
                    _ => format!("v1/blobs/{scattered:016x}.toml"),
                };
                (kinds[n % kinds.len()], path)
            })
            .collect()
    }

    fn plan_of(out: &Path, files: &[(Kind, String)], run_bytes: usize, max_runs: usize) -> Plan {
        let mut plan = Plan::new(out, 42).unwrap();
        plan.run_bytes = run_bytes;
        plan.max_runs = max_runs;
        for (kind, path) in files {
            plan.add(*kind, path).unwrap();
        }
        plan
    }

    #[test]
    fn a_plan_spooled_in_many_runs_is_written_as_the_whole_list_was() {
        let out = tempfile::tempdir().unwrap();
        let files = files(5000);
        let expected = whole(42, &files);
        // Held in memory; spilled in runs of a few paths; spilled and merged again and again.
        for (run_bytes, max_runs) in [(usize::MAX, MAX_RUNS), (200, 1000), (100, 3)] {
            let plan = plan_of(out.path(), &files, run_bytes, max_runs);
            if run_bytes != usize::MAX {
                assert!(plan.kinds.values().all(|spool| !spool.runs.is_empty()));
            }
            let summary = plan.write().unwrap();
            let written = fs::read(Plan::path(out.path())).unwrap();
            assert!(written == expected, "{run_bytes} {max_runs}");
            assert!(!out.path().join(STATE_DIR).join(SPOOL_DIR).exists());

            let mut read = Vec::new();
            let serial = read_each(out.path(), |file| {
                read.push(file);
                Ok::<(), PlanError>(())
            })
            .unwrap();
            assert_eq!(serial, 42);
            assert_eq!(summary.files(), read.len());
            let whole: serde_json::Value = serde_json::from_slice(&expected).unwrap();
            assert_eq!(serde_json::to_value(&read).unwrap(), whole["files"]);
        }
    }

    #[test]
    fn an_empty_plan_is_written_as_the_whole_list_was() {
        let out = tempfile::tempdir().unwrap();
        let summary = Plan::new(out.path(), 7).unwrap().write().unwrap();
        assert_eq!(summary.files(), 0);
        assert_eq!(fs::read(Plan::path(out.path())).unwrap(), whole(7, &[]));
    }

    #[test]
    fn a_plan_not_written_leaves_nothing_behind() {
        let out = tempfile::tempdir().unwrap();
        let plan = plan_of(out.path(), &files(1000), 100, 1000);
        let spool = out.path().join(STATE_DIR).join(SPOOL_DIR);
        assert!(spool.read_dir().unwrap().count() > 1);
        drop(plan);
        assert!(!spool.exists());
        assert!(!Plan::path(out.path()).exists());
    }

    #[test]
    fn a_spool_left_by_a_killed_build_is_cleared_and_never_read() {
        let out = tempfile::tempdir().unwrap();
        let spool = out.path().join(STATE_DIR).join(SPOOL_DIR);
        fs::create_dir_all(&spool).unwrap();
        let mut stale = Vec::new();
        write_entry(&mut stale, "v1/blobs/stale.toml").unwrap();
        fs::write(spool.join("1.run"), stale).unwrap();
        let plan = plan_of(
            out.path(),
            &[(Kind::Blob, "v1/blobs/new.toml".into())],
            1,
            1000,
        );
        plan.write().unwrap();
        let mut read = Vec::new();
        read_each(out.path(), |file| {
            read.push(file.path);
            Ok::<(), PlanError>(())
        })
        .unwrap();
        assert_eq!(read, ["v1/blobs/new.toml"]);
    }

    #[test]
    fn a_plan_of_another_format_is_refused_before_any_file_is_read() {
        let out = tempfile::tempdir().unwrap();
        let path = Plan::path(out.path());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"format": 2, "serial": 1, "files": [{"kind": "root", "path": "v1/root.json"}]}"#,
        )
        .unwrap();
        let err = read_each(out.path(), |_| -> Result<(), PlanError> {
            panic!("a file of a plan this version cannot read was handed on")
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: not a plan this version can read: format 2 (this version reads 1) at line 1 column 13",
                path.display()
            )
        );
        assert!(matches!(
            read_each(
                tempfile::tempdir().unwrap().path(),
                |_| Ok::<(), PlanError>(())
            ),
            Err(PlanError::Missing(_))
        ));
    }
}
