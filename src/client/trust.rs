//! Whether to accept a registry's root: signatures, expiry and rollback.
//!
//! Keys given on the command line (`--trust`) are pinned: exactly those keys are trusted, and
//! nothing the client recorded or a root lists adds to them, so `--trust NEW` cuts a leaked key
//! off at once. Without `--trust`, the client trusts the keys it recorded in its state file;
//! with none recorded, a signed root is checked against its own keys and they are recorded
//! (trust on first use). Once a key is trusted, a root must be signed by it, unexpired, and not
//! older (by serial) than the newest root already seen; recorded keys change only to the `keys`
//! of a root that a trusted key signed, which is how a registry rotates its key. The state
//! never widens trust by itself.
//!
//! An unsigned registry's roots prove nothing, so their serials are remembered only to catch
//! an accidental rollback: when one is refused, the message says how to start over.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::common::fsutil::{self, IoError};
use crate::common::signing::{self, PublicKey};
use crate::common::timestamp;
use crate::format::reader::RootDoc;

/// What a client remembers about one registry, in `<state dir>/state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TrustState {
    /// Keys learnt from roots (first use, then rotations), sorted.
    #[serde(default)]
    pub keys: Vec<String>,
    /// The highest serial of any root accepted.
    #[serde(default)]
    pub highest_serial: u64,
    /// The ETag of the last upstream root downloaded, for conditional requests.
    #[serde(default)]
    pub root_etag: Option<String>,
    /// The BLAKE3 of that root, so a cached copy is trusted to be it only when it hashes so.
    #[serde(default)]
    pub root_blake3: Option<crate::common::model::Hash>,
    /// The latest publish log checkpoint seen (the tree head a trusted root pinned), which
    /// every later one must be consistent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<SeenLog>,
}

/// A log's tree head as a client remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenLog {
    pub origin: String,
    pub size: u64,
    /// The RFC 6962 tree hash, lowercase hex.
    pub hash: String,
}

impl TrustState {
    pub fn load(path: &Path) -> Result<TrustState, TrustError> {
        match fsutil::read_optional(path)? {
            None => Ok(TrustState::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|err| TrustError::State {
                path: path.to_path_buf(),
                message: err.to_string(),
            }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), IoError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("state always serializes");
        bytes.push(b'\n');
        fsutil::write_atomic(path, &bytes, true)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{path}: not a readable state file ({message}); remove it to start over")]
    State { path: PathBuf, message: String },
    #[error(
        "{location}: refused: the root is not signed, but {trusted} is trusted for this registry"
    )]
    Unsigned { location: String, trusted: String },
    #[error(
        "{location}: refused: the root is signed only by unknown key(s) {signers}; trusted: {trusted}"
    )]
    UnknownKey {
        location: String,
        signers: String,
        trusted: String,
    },
    #[error(
        "{location}: refused: the signature by {key} does not verify: the root was altered or wrongly signed"
    )]
    BadSignature { location: String, key: String },
    #[error(
        "{location}: refused: the root expired at {expires}; the registry may be frozen on an old root by whoever serves it, or its owner has not re-signed it"
    )]
    Expired { location: String, expires: String },
    #[error("{location}: refused: the signed root has no valid `expires` time")]
    NoExpiry { location: String },
    #[error(
        "{location}: refused: the root has serial {serial}, lower than serial {seen} already seen; someone may be serving an old registry (rollback){hint}"
    )]
    Rollback {
        location: String,
        serial: u64,
        seen: u64,
        hint: &'static str,
    },
}

/// Checks `root` (whose bytes are `bytes`) and returns the state to record if it is accepted.
/// `now` is compared with `expires`.
pub fn check(
    location: &str,
    bytes: &[u8],
    root: &RootDoc,
    pinned: &[PublicKey],
    state: &TrustState,
    now: i64,
) -> Result<TrustState, TrustError> {
    let pinning = !pinned.is_empty();
    let mut trusted: BTreeSet<String> = if pinning {
        pinned.iter().map(ToString::to_string).collect()
    } else {
        state.keys.iter().cloned().collect()
    };
    let signed = !root.signatures.is_empty();
    let first_use = trusted.is_empty();
    if first_use {
        trusted.extend(root.keys.iter().cloned());
    }
    if signed {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|_| TrustError::BadSignature {
                location: location.to_owned(),
                key: "?".to_owned(),
            })?;
        let message = signing::signed_bytes(&value);
        let mut by_trusted = 0;
        for signature in &root.signatures {
            if !trusted.contains(&signature.keyid) {
                continue;
            }
            let verifies = PublicKey::parse(&signature.keyid)
                .is_ok_and(|key| key.verifies(&message, &signature.sig));
            if !verifies {
                return Err(TrustError::BadSignature {
                    location: location.to_owned(),
                    key: signature.keyid.clone(),
                });
            }
            by_trusted += 1;
        }
        if by_trusted == 0 {
            return Err(TrustError::UnknownKey {
                location: location.to_owned(),
                signers: root
                    .signatures
                    .iter()
                    .map(|s| s.keyid.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                trusted: listing(&trusted),
            });
        }
        let expires = root.expires.as_deref().and_then(timestamp::parse);
        match expires {
            None => {
                return Err(TrustError::NoExpiry {
                    location: location.to_owned(),
                });
            }
            Some(expires) if expires <= now => {
                return Err(TrustError::Expired {
                    location: location.to_owned(),
                    expires: root.expires.clone().unwrap_or_default(),
                });
            }
            Some(_) => {}
        }
    } else if !first_use {
        return Err(TrustError::Unsigned {
            location: location.to_owned(),
            trusted: listing(&trusted),
        });
    }
    if root.serial < state.highest_serial {
        return Err(TrustError::Rollback {
            location: location.to_owned(),
            serial: root.serial,
            seen: state.highest_serial,
            hint: if signed {
                ""
            } else {
                "; this registry is unsigned, so its serials prove nothing: if you trust what it serves now, remove the client state (.perstack-client/state.json in the cache or mirror directory) to start over"
            },
        });
    }
    let mut next = state.clone();
    next.highest_serial = root.serial;
    // Pinned keys are the whole trust; what a root lists is learnt only without them.
    if signed && !pinning && !root.keys.is_empty() {
        let mut keys = root.keys.clone();
        keys.sort();
        keys.dedup();
        next.keys = keys;
    }
    Ok(next)
}

fn listing(keys: &BTreeSet<String>) -> String {
    if keys.is_empty() {
        return "no key".to_owned();
    }
    keys.iter().cloned().collect::<Vec<_>>().join(", ")
}
