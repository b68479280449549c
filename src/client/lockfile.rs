//! `perstack-registry.lock`: every registry delegate reachable from a perstack.toml, pinned to
//! an exact version and its BLAKE3.
//!
//! `perstack.lock`, beside the same perstack.toml, belongs to the Perstack runtime
//! (`perstack install` writes it, with every expert's definition and tool schemas, and the
//! runtime reads it silently or not at all). The two files answer different questions (which
//! bytes vs. which tools), so ours has its own name, `lock` refuses to write to the runtime's,
//! and reading the runtime's where ours is expected says so instead of failing on its fields.
//!
//! Delegates that name an expert defined in the same perstack.toml are followed there; every
//! other delegate is resolved in the registry, and that version's own delegates (from its index
//! entry) are followed in turn. The file is TOML, written in a fixed order so the same
//! resolution always gives the same bytes.
//!
//! `fetch --locked` goes the other way: [`pin`] finds the version a key is pinned to, and
//! [`Pin::resolve`] refuses it if the registry now publishes other bytes under that version.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::cache::{Client, ClientError};
use crate::client::resolve::{Request, Resolved};
use crate::common::diagnostic::{ErrorClass, Position};
use crate::common::fsutil::{self, IoError};
use crate::common::model::Hash;

pub const FILE_NAME: &str = "perstack-registry.lock";
/// The Perstack runtime's lockfile, written by `perstack install`.
pub const RUNTIME_FILE_NAME: &str = "perstack.lock";
pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    pub version: u32,
    /// One entry per pinned version, in name then version order.
    #[serde(default, rename = "expert")]
    pub experts: Vec<LockedExpert>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedExpert {
    pub name: String,
    pub version: String,
    pub blake3: Hash,
    /// The blob's path, relative to the registry root.
    pub path: String,
    /// The keys, as written in definitions, that resolved to this version, sorted.
    pub requested: Vec<String>,
}

impl Lockfile {
    /// The entry a key was pinned by: a key listed in `requested`, or `name@version`.
    pub fn find(&self, key: &str) -> Option<&LockedExpert> {
        self.experts.iter().find(|e| {
            e.requested.iter().any(|r| r == key) || format!("{}@{}", e.name, e.version) == key
        })
    }

    pub fn read(path: &Path) -> Result<Lockfile, LockError> {
        let bytes = fsutil::read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| LockError::Unreadable {
            path: path.to_path_buf(),
            message: "not UTF-8".to_owned(),
        })?;
        if is_runtime_lockfile(&text) {
            return Err(LockError::RuntimeLockfile(path.to_path_buf()));
        }
        let lockfile: Lockfile = toml::from_str(&text).map_err(|err| {
            let position = err
                .span()
                .map(|span| Position::at(&text, span.start))
                .map(|at| format!("line {}, column {}: ", at.line, at.column))
                .unwrap_or_default();
            LockError::Unreadable {
                path: path.to_path_buf(),
                message: format!(
                    "{position}not a perstack-registry lockfile ({}); write one with `perstack-registry lock`",
                    err.message().trim_end()
                ),
            }
        })?;
        if lockfile.version != LOCK_VERSION {
            return Err(LockError::Unreadable {
                path: path.to_path_buf(),
                message: format!("lockfile version {} is not supported", lockfile.version),
            });
        }
        Ok(lockfile)
    }

    /// The version this lockfile, read from `path`, pins `key` to; refused when it pins no
    /// version for `key`.
    pub fn pin(&self, path: &Path, key: &str) -> Result<Pin, LockError> {
        let entry = self.find(key).ok_or_else(|| LockError::NotLocked {
            path: path.to_path_buf(),
            key: key.to_owned(),
        })?;
        let key = format!("{}@{}", entry.name, entry.version);
        let request = Request::parse(&key).map_err(|message| LockError::Key { key, message })?;
        Ok(Pin {
            request,
            blake3: entry.blake3,
        })
    }

    /// Writes the lockfile to `path` atomically, unless that is the Perstack runtime's.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        Lockfile::check_destination(path)?;
        Ok(fsutil::write_atomic(path, self.render().as_bytes(), false)?)
    }

    /// Refuses to write a lockfile to `path` when that is the Perstack runtime's: by name, or
    /// because the file there is one.
    fn check_destination(path: &Path) -> Result<(), LockError> {
        let is_runtime_name = path.file_name() == Some(std::ffi::OsStr::new(RUNTIME_FILE_NAME));
        let holds_runtime_lockfile = std::fs::read_to_string(path)
            .map(|text| is_runtime_lockfile(&text))
            .unwrap_or(false);
        if is_runtime_name || holds_runtime_lockfile {
            return Err(LockError::RuntimeDestination(path.to_path_buf()));
        }
        Ok(())
    }

    pub fn render(&self) -> String {
        let body = toml::to_string(self).expect("lockfiles always serialize");
        format!(
            "# Written by `perstack-registry lock`: every registry delegate, pinned. Do not edit.\n{body}"
        )
    }
}

/// Where `lock` writes the lockfile of `perstack_toml` when told nothing else: beside it.
pub fn beside(perstack_toml: &Path) -> PathBuf {
    perstack_toml
        .parent()
        .unwrap_or(Path::new(""))
        .join(FILE_NAME)
}

/// Reads the lockfile at `path` and finds the version it pins `key` to.
pub fn pin(path: &Path, key: &str) -> Result<Pin, LockError> {
    Lockfile::read(path)?.pin(path, key)
}

/// A version a lockfile pins, and the bytes it pins it to.
#[derive(Debug, Clone)]
pub struct Pin {
    /// The exact version, as `name@version`.
    pub request: Request,
    pub blake3: Hash,
}

impl Pin {
    /// Resolves the pinned version in `client`'s registry, refusing it when the registry now
    /// publishes other bytes under that version.
    pub fn resolve(&self, client: &Client) -> Result<Resolved, LockError> {
        let resolved = client
            .resolve(&self.request)
            .map_err(|err| LockError::Registry(Box::new(err)))?;
        if resolved.blake3 != self.blake3 {
            return Err(LockError::Changed {
                key: resolved.key(),
                locked: self.blake3,
                published: resolved.blake3,
            });
        }
        Ok(resolved)
    }
}

/// Whether `text` is the Perstack runtime's lockfile: TOML whose `version` is the string "1"
/// and that records when and from which config it was generated
/// (`packages/core/src/schemas/lockfile.ts` upstream).
fn is_runtime_lockfile(text: &str) -> bool {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return false;
    };
    table.get("version").and_then(toml::Value::as_str) == Some("1")
        || table.contains_key("generatedAt")
        || table.contains_key("configPath")
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{0}: this is the Perstack runtime's lockfile (written by `perstack install`), not a perstack-registry lockfile; `perstack-registry lock` writes {FILE_NAME} beside perstack.toml"
    )]
    RuntimeLockfile(PathBuf),
    #[error(
        "{0}: refusing to write there: {RUNTIME_FILE_NAME} belongs to the Perstack runtime (`perstack install`); write perstack-registry's lockfile to {FILE_NAME} (the default) or another name"
    )]
    RuntimeDestination(PathBuf),
    #[error(transparent)]
    Io(#[from] IoError),
    /// A lockfile that cannot be read as one.
    #[error("{path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    /// A perstack.toml that cannot be locked.
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: delegate \"{key}\" of \"{expert}\": {message}")]
    Delegate {
        path: PathBuf,
        expert: String,
        key: String,
        message: String,
    },
    #[error("{path}: resolving \"{key}\" (reached from \"{from}\"): {source}")]
    Resolve {
        path: PathBuf,
        key: String,
        from: String,
        #[source]
        source: Box<ClientError>,
    },
    #[error("{path}: \"{key}\" is not in the lockfile; run `perstack-registry lock` again")]
    NotLocked { path: PathBuf, key: String },
    /// A pinned `name@version` that is not a key.
    #[error("{key}: {message}")]
    Key { key: String, message: String },
    /// Resolving a pinned version failed.
    #[error(transparent)]
    Registry(Box<ClientError>),
    #[error(
        "{key} is locked to BLAKE3 {locked}, but the registry now publishes {published}; refusing it"
    )]
    Changed {
        key: String,
        locked: Hash,
        published: Hash,
    },
}

impl LockError {
    /// Whether the data is at fault rather than the invocation, I/O or the network. A lockfile
    /// that cannot be read, or written where it would replace the runtime's, is the
    /// invocation's fault, as a missing one is.
    pub fn class(&self) -> ErrorClass {
        match self {
            LockError::Resolve { source, .. } => source.class(),
            LockError::Registry(source) => source.class(),
            LockError::Invalid { .. }
            | LockError::Delegate { .. }
            | LockError::NotLocked { .. }
            | LockError::Changed { .. } => ErrorClass::Data,
            LockError::Io(_)
            | LockError::Unreadable { .. }
            | LockError::RuntimeLockfile(_)
            | LockError::RuntimeDestination(_)
            | LockError::Key { .. } => ErrorClass::Environment,
        }
    }
}

/// Resolves every registry delegate reachable from the experts of `perstack_toml`.
pub fn lock(client: &Client, perstack_toml: &Path) -> Result<Lockfile, LockError> {
    let invalid = |message: String| LockError::Invalid {
        path: perstack_toml.to_path_buf(),
        message,
    };
    let text = String::from_utf8(fsutil::read(perstack_toml)?)
        .map_err(|_| invalid("not UTF-8".to_owned()))?;
    let document: toml::Table =
        toml::from_str(&text).map_err(|err| invalid(format!("invalid TOML: {}", err.message())))?;
    let local: BTreeMap<String, Vec<String>> = match document.get("experts") {
        None => BTreeMap::new(),
        Some(toml::Value::Table(experts)) => experts
            .iter()
            .map(|(name, expert)| {
                let delegates = expert
                    .get("delegates")
                    .and_then(toml::Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|d| d.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                (name.clone(), delegates)
            })
            .collect(),
        Some(_) => return Err(invalid("`experts` is not a table".to_owned())),
    };
    // (key, who reached it), breadth first from the local experts.
    let mut queue: VecDeque<(String, String)> = VecDeque::new();
    for (expert, delegates) in &local {
        for key in delegates {
            if !local.contains_key(key) {
                queue.push_back((key.clone(), expert.clone()));
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut pinned: BTreeMap<(String, semver::Version), LockedExpert> = BTreeMap::new();
    while let Some((key, from)) = queue.pop_front() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let request = Request::parse(&key).map_err(|message| LockError::Delegate {
            path: perstack_toml.to_path_buf(),
            expert: from.clone(),
            key: key.clone(),
            message,
        })?;
        let resolved = client
            .resolve(&request)
            .map_err(|source| LockError::Resolve {
                path: perstack_toml.to_path_buf(),
                key: key.clone(),
                from: from.clone(),
                source: Box::new(source),
            })?;
        let version = semver::Version::parse(&resolved.version).map_err(|err| {
            invalid(format!(
                "the registry lists version \"{}\": {err}",
                resolved.version
            ))
        })?;
        let entry = pinned
            .entry((resolved.name.to_string(), version))
            .or_insert_with(|| LockedExpert {
                name: resolved.name.to_string(),
                version: resolved.version.clone(),
                blake3: resolved.blake3,
                path: resolved.path.clone(),
                requested: Vec::new(),
            });
        entry.requested.push(key.clone());
        for delegate in &resolved.delegates {
            queue.push_back((delegate.clone(), resolved.key()));
        }
    }
    let experts = pinned
        .into_values()
        .map(|mut entry| {
            entry.requested.sort();
            entry
        })
        .collect();
    Ok(Lockfile {
        version: LOCK_VERSION,
        experts,
    })
}
