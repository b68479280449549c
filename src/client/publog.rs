//! The publish log on the client's side: a full mirror copies the log its source's root pins,
//! following it from the log its own previous root pinned.
//!
//! Only entry bundles are downloaded, and only those holding entries the mirror lacks: the
//! hash tiles are rebuilt from the entries, and the tree they give is checked against the
//! tree hash the (trusted) root pins, so nothing is written that the root does not vouch for.
//! When the mirror held a log before, the new log must extend it: the old tree hash must be
//! the hash of the new log's first entries (the consistency an RFC 6962 proof shows, checked
//! here on the entries themselves); a log that does not is a split view, or a rewritten log,
//! and is refused, naming both sizes.

use crate::client::replica::Replica;
use crate::common::model::Hash;
use crate::common::transport::Source;
use crate::format::index;
use crate::format::log::{self, LogPin, MAX_CHECKPOINT_BYTES};
use crate::format::reader::{self, PublishedError};
use crate::format::tlog::tiles::{Appender, TileStore};

/// The log's files from the mirror's own copy, else from the source (tiles never change, so a
/// local copy of one is the source's).
struct LocalFirst<'a> {
    replica: &'a Replica,
    source: &'a Source,
}

impl TileStore for LocalFirst<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let relative = log::log_path(path);
        if let Some(bytes) = self
            .replica
            .read_local(&relative)
            .map_err(|err| err.to_string())?
        {
            return Ok(Some(bytes));
        }
        log::ReaderTiles {
            reader: self.source,
        }
        .read(path)
    }
}

/// The mirror's copy alone.
struct Local<'a>(&'a Replica);

impl TileStore for Local<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        self.0
            .read_local(&log::log_path(path))
            .map_err(|err| err.to_string())
    }
}

/// The log pinned by the root the mirror holds now, if any.
pub fn held_pin(replica: &Replica) -> Option<LogPin> {
    let bytes = replica.read_local(index::ROOT_PATH).ok()??;
    let root = reader::parse_root("", &bytes).ok()?;
    root.log?.pin().ok()
}

/// Copies into `replica` the log `pin` describes, from `source`, verifying it against `pin`
/// and, when the mirror held the log `held` before, that the new one extends it. Writes the
/// tiles, then the checkpoint; the caller writes the root that pins them afterwards.
pub fn copy(
    replica: &Replica,
    source: &Source,
    pin: &LogPin,
    held: Option<&LogPin>,
) -> Result<(), PublishedError> {
    // Already held: nothing to read, not even the checkpoint.
    if held == Some(pin)
        && replica
            .read_local(log::CHECKPOINT_PATH)?
            .is_some_and(|bytes| Hash::of(&bytes) == pin.checkpoint.hash)
    {
        return Ok(());
    }
    let location = source.location(log::LOG_DIR);
    let store = LocalFirst { replica, source };
    let split_view = |held: &LogPin| PublishedError::Invalid {
        location: source.location(log::CHECKPOINT_PATH),
        message: format!(
            "the publish log of {} entries (origin {}) is not consistent with the log of {} entries (origin {}) this mirror saw before: the registry shows different histories (a split view) or rewrote its log. Nothing was changed",
            pin.size, pin.origin, held.size, held.origin
        ),
    };
    if let Some(held) = held
        && (held.origin != pin.origin || held.size > pin.size)
    {
        return Err(split_view(held));
    }
    let start = match held {
        // The right edge the mirror already holds, when intact.
        Some(held) => log::open_appender(&Local(replica), &location, held).ok(),
        None => None,
    };
    let appender = match (start, held) {
        (Some(appender), _) => appender,
        (None, Some(held)) => {
            let appender = log::extend(&store, &location, Appender::empty(), held.size, |_, _| {
                Ok(())
            })?;
            if appender.root() != held.hash {
                return Err(split_view(held));
            }
            appender
        }
        (None, None) => Appender::empty(),
    };
    let appender = log::extend(&store, &location, appender, pin.size, |_, _| Ok(()))?;
    if appender.root() != pin.hash {
        return Err(match held {
            Some(held) => split_view(held),
            None => PublishedError::Invalid {
                location,
                message: format!(
                    "the entries do not give the tree hash the root pins for {} entries",
                    pin.size
                ),
            },
        });
    }
    for (path, bytes) in appender.finish() {
        replica.write(&log::log_path(&path), &bytes, false)?;
    }
    let checkpoint = source
        .get_at_most(
            log::CHECKPOINT_PATH,
            pin.checkpoint.size.min(MAX_CHECKPOINT_BYTES),
        )?
        .ok_or_else(|| PublishedError::Invalid {
            location: source.location(log::CHECKPOINT_PATH),
            message: "missing, although the root pins it".to_owned(),
        })?;
    if Hash::of(&checkpoint) != pin.checkpoint.hash {
        return Err(PublishedError::Invalid {
            location: source.location(log::CHECKPOINT_PATH),
            message: "not the checkpoint the root pins (its BLAKE3 differs); the host may serve a checkpoint of another publish".to_owned(),
        });
    }
    replica.write(log::CHECKPOINT_PATH, &checkpoint, false)?;
    Ok(())
}
