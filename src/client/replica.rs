//! A local copy of a registry, filled from a source: the client cache and mirror destinations.
//!
//! A replica directory has the serving layout, so it is itself a registry. Hash-named files
//! (blobs, index documents, bins, snapshots) are downloaded only when the replica lacks them, and are
//! written only after their bytes hash to their name: a tampered download is never stored. A
//! replica's own state (a lock, a marker while it is being written, what it trusts) lives in
//! `.perstack-client/`, which is not part of the registry.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::json;

use crate::common::archive::Archive;
use crate::common::fsutil::{self, IoContext, IoError, Staging};
use crate::common::json::Document;
use crate::common::model::Hash;
use crate::common::signing::{self, SecretKey};
use crate::common::timestamp;
use crate::common::transport::{FetchError, Source};
use crate::format::index::{self, BinTree, IndexRef, RootCounts};
use crate::format::reader::{Reader, RootDoc};

/// The replica's own state directory, relative to its root.
pub const STATE_DIR: &str = ".perstack-client";
/// Where a replica that writes its own root keeps the upstream root it was made from.
pub const UPSTREAM_ROOT_PATH: &str = "v1/upstream-root.json";

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{0}: another process is writing to this directory")]
    Locked(PathBuf),
}

/// A local registry directory, optionally in front of an upstream source.
#[derive(Debug)]
pub struct Replica {
    pub dir: PathBuf,
    upstream: Option<Source>,
    staging: Staging,
    /// A registry archive to take hash-named files from before asking upstream: the archive a
    /// mirror into an archive replaces.
    seed: Option<Archive>,
    _lock: File,
    /// Paths downloaded, and paths found intact, by this process.
    downloaded: Mutex<BTreeSet<String>>,
    present: Mutex<BTreeSet<String>>,
}

impl Replica {
    /// Opens (creating) the replica in `dir`. With `wait`, waits for another process using it
    /// to finish; otherwise refuses.
    pub fn open(dir: &Path, upstream: Option<Source>, wait: bool) -> Result<Replica, ReplicaError> {
        let state = dir.join(STATE_DIR);
        fsutil::create_real_dir(&state)?;
        let lock_path = state.join("lock");
        let lock = fsutil::create_private_file(&lock_path)?;
        if wait {
            lock.lock().with_path("cannot lock", &lock_path)?;
        } else {
            match lock.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ReplicaError::Locked(dir.to_path_buf()));
                }
                Err(std::fs::TryLockError::Error(err)) => {
                    return Err(IoError::new("cannot lock", &lock_path, err).into());
                }
            }
        }
        Ok(Replica {
            dir: dir.to_path_buf(),
            upstream,
            staging: Staging::new(dir, state.join("writing"))?,
            seed: None,
            _lock: lock,
            downloaded: Mutex::default(),
            present: Mutex::default(),
        })
    }

    /// Takes hash-named files the replica lacks from `archive` when they are there and intact,
    /// before asking upstream. They count as present, not downloaded.
    pub fn seeded_from(mut self, archive: Archive) -> Replica {
        self.seed = Some(archive);
        self
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_DIR).join("state.json")
    }

    /// Distinct files downloaded, and distinct files found already present and intact.
    pub fn counts(&self) -> (usize, usize) {
        let downloaded = lock(&self.downloaded);
        let present = lock(&self.present);
        (downloaded.len(), present.difference(&downloaded).count())
    }

    pub fn read_local(&self, relative: &str) -> Result<Option<Vec<u8>>, IoError> {
        fsutil::read_optional(&self.dir.join(relative))
    }

    /// The bytes of a hash-named file: the local copy when it is intact, else a download that
    /// is stored only if it hashes to `hash`. Bytes that do not are returned unstored, for the
    /// caller's hash check to report with the upstream location. `None` when neither has it.
    pub fn fetch_hashed(
        &self,
        relative: &str,
        hash: &Hash,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        Ok(self
            .fetch_verified(relative, hash, limit, true)?
            .map(|(bytes, _)| bytes))
    }

    /// Like [`Replica::fetch_hashed`] for any file whose hash is known (a website file its
    /// manifest lists), with whether the replica already held it intact. Without `store`, the
    /// bytes a download or the seed gives are returned unwritten, for the caller to write once
    /// every file it needs is verified.
    pub fn fetch_verified(
        &self,
        relative: &str,
        hash: &Hash,
        limit: u64,
        store: bool,
    ) -> Result<Option<(Vec<u8>, bool)>, FetchError> {
        if let Some(bytes) = self.read_local(relative)?
            && Hash::of(&bytes) == *hash
        {
            lock(&self.present).insert(relative.to_owned());
            return Ok(Some((bytes, true)));
        }
        if let Some(seed) = &self.seed
            && seed.size(relative).is_some_and(|size| size <= limit)
            && let Some(bytes) = seed.read(relative)?
            && Hash::of(&bytes) == *hash
        {
            if store {
                self.staging
                    .write(&self.dir.join(relative), &bytes, false)?;
            }
            lock(&self.present).insert(relative.to_owned());
            return Ok(Some((bytes, false)));
        }
        let Some(upstream) = &self.upstream else {
            return Ok(None);
        };
        let bytes = match limit {
            u64::MAX => upstream.get(relative)?,
            limit => upstream.get_at_most(relative, limit)?,
        };
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        if Hash::of(&bytes) == *hash {
            if store {
                self.staging
                    .write(&self.dir.join(relative), &bytes, false)?;
            }
            lock(&self.downloaded).insert(relative.to_owned());
        }
        Ok(Some((bytes, false)))
    }

    /// Writes a file at a stable path when its content differs. Returns whether it wrote.
    pub fn write(&self, relative: &str, bytes: &[u8], durable: bool) -> Result<bool, IoError> {
        self.staging
            .write_if_changed(&self.dir.join(relative), bytes, durable)
    }

    /// Writes a root of the replica's own for `experts` (name -> index document hash, every
    /// one already present with all its blobs): its bins, then the root, keeping the
    /// upstream's serial. The upstream root is kept beside it for auditing. Signed when `sign`
    /// holds keys.
    pub fn write_own_root(
        &self,
        upstream_root: &[u8],
        upstream: &RootDoc,
        experts: &BTreeMap<String, Hash>,
        versions: usize,
        sign: Option<(&[SecretKey], u32)>,
    ) -> Result<(), FetchError> {
        // Each index document is here already (the caller made sure); its size is what the
        // replica's bins record for it.
        let mut listed = Vec::with_capacity(experts.len());
        for (name, hash) in experts {
            if crate::common::model::ExpertName::parse(name).is_err() {
                continue;
            }
            let path = self.dir.join(index::index_path(hash));
            let size = std::fs::metadata(&path)
                .with_path("cannot read", &path)?
                .len();
            listed.push((name.clone(), IndexRef { hash: *hash, size }));
        }
        let bins = BinTree::build(listed);
        for bin in bins.bins() {
            let path = index::bin_path(&bin.document.hash);
            if self.read_local(&path)?.is_none() {
                self.staging
                    .write(&self.dir.join(&path), &bin.document.bytes, false)?;
            }
        }
        self.write(UPSTREAM_ROOT_PATH, upstream_root, false)?;
        let mut root = index::root_value(
            &bins,
            RootCounts {
                serial: upstream.serial,
                experts: experts.len(),
                versions,
            },
            // The source's log pin stays in `v1/upstream-root.json`: a replica that lists
            // fewer experts does not serve that log.
            None,
            // Nor does it serve the source's website, whose pages list every expert.
            None,
        );
        if let Some((keys, days)) = sign.filter(|(keys, _)| !keys.is_empty()) {
            let mut public: Vec<String> = keys.iter().map(|k| k.public().to_string()).collect();
            public.sort();
            public.dedup();
            root["keys"] = json!(public);
            let expires = timestamp::now() + i64::from(days) * 86_400;
            root["expires"] = json!(timestamp::format(expires));
            root["signatures"] = json!([]);
            signing::sign_root(&mut root, keys);
        }
        self.write(index::ROOT_PATH, &Document::render(&root).bytes, true)?;
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A replica serves hash-named files from its copy (downloading what it lacks) and everything
/// else from upstream, or from its copy when it has no upstream (offline).
impl Reader for Replica {
    fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, FetchError> {
        self.read_at_most(relative, u64::MAX)
    }

    fn read_at_most(&self, relative: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        match index::hash_in_path(relative) {
            Some(hash) => self.fetch_hashed(relative, &hash, limit),
            None => match &self.upstream {
                Some(upstream) => upstream.get(relative),
                None => Ok(self.read_local(relative)?),
            },
        }
    }

    fn location(&self, relative: &str) -> String {
        match &self.upstream {
            Some(upstream) => upstream.location(relative),
            None => self.dir.join(relative).display().to_string(),
        }
    }
}
