//! The client side: open a registry through a persistent cache, resolve keys, fetch versions.
//!
//! The cache holds one replica (`replica`) per source, at `<cache>/<source id>/`, so a cache is
//! itself a valid registry: it has a root of its own whose bins list the experts it holds
//! completely (their index document and every version's blob), and keeps the upstream root it
//! was made from in `v1/upstream-root.json`. Online, the upstream root is revalidated with its
//! ETag and checked by `trust` before anything it points at is used; offline, the cache's own
//! root is used as it is: everything it reaches was verified when it was downloaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::client::publog::{self, SourceTiles};
use crate::client::replica::{Replica, ReplicaError, UPSTREAM_ROOT_PATH};
use crate::client::resolve::{self, Request, ResolveError, Resolved};
use crate::client::trust::{self, TrustError, TrustState};
use crate::common::diagnostic::ErrorClass;
use crate::common::model::Hash;
use crate::common::signing::PublicKey;
use crate::common::timestamp;
use crate::common::transport::{Conditional, FetchError, Source};
use crate::format::index;
use crate::format::log::LogPin;
use crate::format::reader::{self, IndexDoc, PublishedError, PublishedRegistry, Reader, RootDoc};
use crate::format::tlog::tiles::Memo;

/// The cache directory when `--cache` is not given: `$XDG_CACHE_HOME/perstack-registry`, else
/// `~/.cache/perstack-registry`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let from_env = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    from_env("XDG_CACHE_HOME")
        .or_else(|| from_env("HOME").map(|home| home.join(".cache")))
        .map(|cache| cache.join("perstack-registry"))
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub source: Source,
    /// The cache directory holding one replica per source.
    pub cache: PathBuf,
    pub offline: bool,
    /// Keys trusted in addition to those recorded in the cache.
    pub trust: Vec<PublicKey>,
    /// Accept a version only with a proof that the publish log the root pins holds its
    /// publish entry (`--require-log`; see `publog::prove_published`).
    pub require_log: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Published(PublishedError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("{0}: no registry here (v1/root.json is missing)")]
    NoRegistry(String),
    #[error("offline, and the cache {0} holds nothing from this registry yet; run once online")]
    NotCached(PathBuf),
    #[error("offline, and the cache does not hold {0}; run once online to fetch it")]
    NotCachedVersion(String),
    #[error(
        "--require-log: cannot prove that {0} was published while offline (the cache keeps no copy of the publish log); run online"
    )]
    OfflineLog(String),
}

impl From<crate::common::fsutil::IoError> for ClientError {
    fn from(err: crate::common::fsutil::IoError) -> ClientError {
        ClientError::Fetch(err.into())
    }
}

impl From<PublishedError> for ClientError {
    fn from(err: PublishedError) -> ClientError {
        match err {
            PublishedError::Fetch(err) => ClientError::Fetch(err),
            other => ClientError::Published(other),
        }
    }
}

impl ClientError {
    /// Whether the registry's data is at fault (a refusal) rather than I/O or the network.
    pub fn class(&self) -> ErrorClass {
        match self {
            ClientError::Published(_)
            | ClientError::Resolve(_)
            | ClientError::NoRegistry(_)
            | ClientError::NotCached(_)
            | ClientError::NotCachedVersion(_)
            | ClientError::OfflineLog(_)
            | ClientError::Fetch(FetchError::CrossHostRedirect { .. })
            | ClientError::Fetch(FetchError::TooLarge { .. })
            | ClientError::Fetch(FetchError::Archive(_)) => ErrorClass::Data,
            ClientError::Trust(TrustError::Io(_) | TrustError::State { .. }) => {
                ErrorClass::Environment
            }
            ClientError::Trust(_) => ErrorClass::Data,
            ClientError::Replica(_) | ClientError::Fetch(_) => ErrorClass::Environment,
        }
    }
}

/// An open registry, read through the cache.
#[derive(Debug)]
pub struct Client {
    replica: Arc<Replica>,
    registry: PublishedRegistry,
    /// The upstream root (online) or `None` (offline).
    upstream: Option<(Vec<u8>, RootDoc)>,
    /// With `--require-log` online: the source's log files, each read once.
    log_tiles: Option<Memo<SourceTiles>>,
    require_log: bool,
}

impl Client {
    pub fn open(options: &ClientOptions) -> Result<Client, ClientError> {
        let dir = options.cache.join(options.source.id());
        if options.offline {
            let replica = Arc::new(Replica::open(&dir, None, true)?);
            let root = replica
                .read_local(index::ROOT_PATH)?
                .ok_or_else(|| ClientError::NotCached(dir.clone()))?;
            let registry = PublishedRegistry::from_root(replica.clone(), root)?;
            return Ok(Client {
                replica,
                registry,
                upstream: None,
                log_tiles: None,
                require_log: options.require_log,
            });
        }
        let replica = Arc::new(Replica::open(&dir, Some(options.source.clone()), true)?);
        let state = TrustState::load(&replica.state_path())?;
        let (root_bytes, state) = fetch_root(
            &options.source,
            &replica,
            UPSTREAM_ROOT_PATH,
            &options.trust,
            state,
        )?;
        let root = reader::parse_root(&options.source.location(index::ROOT_PATH), &root_bytes)?;
        let mut state = state;
        state.log = check_log(&options.source, &root, state.log.as_ref())?;
        let registry = PublishedRegistry::from_root(replica.clone(), root_bytes.clone())?;
        replica.write(UPSTREAM_ROOT_PATH, &root_bytes, false)?;
        state.save(&replica.state_path())?;
        Ok(Client {
            replica,
            registry,
            upstream: Some((root_bytes, root)),
            log_tiles: options
                .require_log
                .then(|| Memo::new(SourceTiles(options.source.clone()))),
            require_log: options.require_log,
        })
    }

    pub fn cache_dir(&self) -> &Path {
        &self.replica.dir
    }

    /// Files downloaded and files found in the cache so far.
    pub fn counts(&self) -> (usize, usize) {
        self.replica.counts()
    }

    pub fn index(&self, name: &str) -> Result<Option<IndexDoc>, ClientError> {
        Ok(self.registry.read_index(name)?)
    }

    /// Resolves `request`; with `require_log`, only to a version proven published.
    pub fn resolve(&self, request: &Request) -> Result<Resolved, ClientError> {
        let index = self.index(request.name.as_str())?;
        let resolved = resolve::resolve(request, index.as_ref())?;
        if self.require_log {
            self.prove_published(&resolved)?;
        }
        Ok(resolved)
    }

    /// Proves `resolved`'s publish entry is in the log the upstream root pins. Offline there
    /// is nothing to prove it with: the cache keeps no copy of the log.
    fn prove_published(&self, resolved: &Resolved) -> Result<u64, ClientError> {
        let (Some((_, root)), Some(tiles)) = (&self.upstream, &self.log_tiles) else {
            return Err(ClientError::OfflineLog(resolved.key()));
        };
        let source = &tiles.inner().0;
        let pin = log_pin(source, root)?;
        Ok(publog::prove_published(
            source,
            tiles,
            pin.as_ref(),
            &resolved.name,
            &resolved.version,
            resolved.blake3,
            resolved.size,
        )?)
    }

    /// The bytes of a resolved version, verified against its BLAKE3 before anything is
    /// written. Online, the whole expert is then made complete in the cache and the cache's
    /// own root is updated to include it.
    pub fn fetch(&self, resolved: &Resolved) -> Result<Vec<u8>, ClientError> {
        let relative = index::blob_path(&resolved.blake3);
        let bytes = reader::read_hashed_at_most(
            self.replica.as_ref(),
            &relative,
            &resolved.blake3,
            resolved.size,
        )
        .map_err(|err| match err {
            PublishedError::Invalid { .. } if self.upstream.is_none() => {
                ClientError::NotCachedVersion(resolved.key())
            }
            other => other.into(),
        })?;
        if let Some((root_bytes, root)) = &self.upstream {
            self.complete(resolved.name.as_str(), root_bytes, root)?;
        }
        Ok(bytes)
    }

    /// Downloads every blob of `name` the cache lacks, then rewrites the cache's own root to
    /// list the experts it holds completely.
    fn complete(&self, name: &str, root_bytes: &[u8], root: &RootDoc) -> Result<(), ClientError> {
        let Some(index_ref) = self.registry.index_ref(name)? else {
            return Ok(());
        };
        let index_hash = index_ref.hash;
        let index_path = index::index_path(&index_hash);
        let index_bytes = reader::read_hashed_at_most(
            self.replica.as_ref(),
            &index_path,
            &index_hash,
            index_ref.size.min(reader::MAX_INDEX_BYTES),
        )?;
        let index: IndexDoc =
            reader::parse_json(&self.replica.location(&index_path), &index_bytes)?;
        index
            .versions
            .values()
            .collect::<Vec<_>>()
            .par_iter()
            .try_for_each(|entry| self.registry.read_blob(&entry.blake3, entry.size).map(drop))?;
        let mut experts = self.cached_experts()?;
        experts.insert(name.to_owned(), index_hash);
        let mut versions = 0;
        for hash in experts.values() {
            versions += self.registry.read_index_at(hash)?.versions.len();
        }
        if let Ok(expert) = crate::common::model::ExpertName::parse(name) {
            self.replica
                .write(&expert.readable_index_path(), &index_bytes, false)?;
        }
        self.replica.write(
            crate::format::headers::HEADERS_PATH,
            crate::format::headers::headers_file().as_bytes(),
            false,
        )?;
        self.replica
            .write_own_root(root_bytes, root, &experts, versions, None)?;
        Ok(())
    }

    /// The experts the cache's own root lists.
    fn cached_experts(&self) -> Result<BTreeMap<String, Hash>, ClientError> {
        let Some(bytes) = self.replica.read_local(index::ROOT_PATH)? else {
            return Ok(BTreeMap::new());
        };
        let local = Arc::new(LocalOnly(self.replica.dir.clone()));
        let experts = PublishedRegistry::from_root(local, bytes).and_then(|own| own.experts());
        match experts {
            Ok(experts) => Ok(experts
                .into_iter()
                .map(|(name, index)| (name, index.hash))
                .collect()),
            // A damaged cache root is replaced, not trusted.
            Err(_) => Ok(BTreeMap::new()),
        }
    }
}

/// Reads a replica's directory and nothing else.
#[derive(Debug)]
struct LocalOnly(PathBuf);

impl Reader for LocalOnly {
    fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, FetchError> {
        Source::dir(&self.0).get(relative)
    }

    fn read_at_most(&self, relative: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        Source::dir(&self.0).get_at_most(relative, limit)
    }

    fn location(&self, relative: &str) -> String {
        self.0.join(relative).display().to_string()
    }
}

/// The publish log the accepted `root` pins, checked against the one seen before (see
/// `publog::check_seen`): what to remember.
fn check_log(
    source: &Source,
    root: &RootDoc,
    seen: Option<&crate::client::trust::SeenLog>,
) -> Result<Option<crate::client::trust::SeenLog>, ClientError> {
    let pin = log_pin(source, root)?;
    Ok(crate::client::publog::check_seen(
        source,
        pin.as_ref(),
        seen,
    )?)
}

/// Downloads the upstream root (conditionally, when the copy at `cached_copy` is the root the
/// recorded ETag belongs to) and checks it against the trust state. Returns its bytes and the state to record.
pub fn fetch_root(
    source: &Source,
    replica: &Replica,
    cached_copy: &str,
    pinned: &[PublicKey],
    state: TrustState,
) -> Result<(Vec<u8>, TrustState), ClientError> {
    let location = source.location(index::ROOT_PATH);
    let cached = replica
        .read_local(cached_copy)?
        .filter(|bytes| state.root_blake3 == Some(Hash::of(bytes)));
    let etag = state.root_etag.clone().filter(|_| cached.is_some());
    let (bytes, etag) =
        match source.get_if_changed(index::ROOT_PATH, etag.as_deref(), reader::MAX_ROOT_BYTES)? {
            Conditional::Missing => return Err(ClientError::NoRegistry(source.describe())),
            // A conditional request is sent only when a cached copy exists.
            Conditional::NotModified => (cached.unwrap_or_default(), etag),
            Conditional::Fetched { bytes, etag } => (bytes, etag),
        };
    let root = reader::parse_root(&location, &bytes)?;
    let mut state = trust::check(&location, &bytes, &root, pinned, &state, timestamp::now())?;
    state.root_etag = etag;
    state.root_blake3 = Some(Hash::of(&bytes));
    Ok((bytes, state))
}

/// The publish log `root` pins, if any; a pin that does not parse names the root it is in.
fn log_pin(source: &Source, root: &RootDoc) -> Result<Option<LogPin>, PublishedError> {
    root.log
        .as_ref()
        .map(|log| log.pin())
        .transpose()
        .map_err(|message| PublishedError::Invalid {
            location: source.location(index::ROOT_PATH),
            message,
        })
}
