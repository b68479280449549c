//! The publish log's part of a build: the events between the registry published before and
//! this one, appended to the log from its right edge, and the checkpoint the root pins.
//!
//! Events come from the experts whose index documents changed (the bins' diff already named
//! them), so a publish costs work in proportion to what it changes; a registry whose previous
//! root pins no log gets a genesis batch describing its whole current state. The order is
//! deterministic: experts by name; within one, publishes, then status changes, then tags, each
//! in version (or tag) order. The log is write-once: a previous log whose right edge does not
//! give the tree hash its root pins, or an output directory holding a published tile with other
//! bytes, is refused rather than rewritten.
//!
//! The build also writes each expert's hint file (where its versions' publish entries are),
//! for the experts with new events only, extending the previous registry's copy (see
//! `hints` for when it writes them all). Tiles and hints wait in the build's spool (`spool`)
//! for the write stage, so a genesis batch of a million versions is not held in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::diagnostic::Diagnostic;
use crate::common::fsutil::{self, IoError};
use crate::common::model::{ExpertName, Hash, LATEST, Status};
use crate::common::signing::SecretKey;
use crate::data::validate::{Expert, Registry};
use crate::format::index::IndexRef;
use crate::format::log::{self, Event, Hint, LogPin, ReaderTiles};
use crate::format::reader::{IndexDoc, PublishedError, PublishedRegistry};
use crate::format::tlog::tiles::{self, Appender, TILE_WIDTH};

use super::spool::{Span, Spool, Spooled};
use super::{BuildError, Changes};

/// What the build writes for the log.
#[derive(Debug)]
pub struct LogUpdate {
    pub pin: LogPin,
    /// The bytes of the tiles and hint files, which wait there for the write stage.
    pub spool: Spooled,
    /// Tiles and entry bundles, by path relative to the registry root: every file of the log
    /// that this build appended to, and every file of the previous log when the output
    /// directory did not hold it.
    pub tiles: BTreeMap<String, Span>,
    pub checkpoint: Vec<u8>,
    /// The tiles the previous registry does not serve, for the deploy plan.
    pub new_tiles: Vec<String>,
    /// Whether the checkpoint differs from the previous registry's.
    pub checkpoint_changed: bool,
    /// Hint files (`v1/log/experts/<name>.json`) to write, by path relative to the registry
    /// root: those of the experts with new events, or every expert's when this build read the
    /// whole log (a log that starts now, a copy for a host replaced whole, hints written for
    /// the first time).
    pub hints: Vec<SpooledHint>,
    /// How many entries this build appended.
    pub appended: u64,
}

/// A hint file waiting in the spool.
#[derive(Debug)]
pub struct SpooledHint {
    /// Relative to the registry root.
    pub path: String,
    pub span: Span,
    /// Whether the previous registry lacks it or serves other bytes, for the deploy plan.
    pub changed: bool,
}

impl LogUpdate {
    /// The hint files whose bytes the previous registry does not serve, for the deploy plan.
    pub fn changed_hints(&self) -> impl Iterator<Item = &String> {
        self.hints
            .iter()
            .filter(|hint| hint.changed)
            .map(|hint| &hint.path)
    }
}

pub enum Logged {
    Update(Box<LogUpdate>),
    /// The build would rewrite or drop published entries.
    Refused(Vec<Diagnostic>),
}

/// Where the registries the log is built against live.
pub struct Sources<'a> {
    pub out_dir: &'a Path,
    pub data_dir: &'a Path,
    /// The registry published before (`--previous`, or the output directory).
    pub previous: Option<&'a PublishedRegistry>,
    /// The registry in the output directory, when it is not `previous`.
    pub existing: Option<&'a PublishedRegistry>,
    /// Whether `previous` is another place than the output directory.
    pub previous_elsewhere: bool,
}

/// The files a build writes for the log, put in the spool as they are made, so the build holds
/// their paths and not their bytes.
struct Files {
    spool: Spool,
    /// By path relative to the registry root.
    tiles: BTreeMap<String, Span>,
    hints: Vec<SpooledHint>,
}

impl Files {
    /// Spools the files the appender has completed so far.
    fn take_completed(&mut self, appender: &mut Appender) -> Result<(), IoError> {
        self.put_tiles(appender.take_completed())
    }

    fn put_tiles(&mut self, tiles: BTreeMap<String, Vec<u8>>) -> Result<(), IoError> {
        for (path, bytes) in tiles {
            let span = self.spool.put(&bytes)?;
            self.tiles.insert(log::log_path(&path), span);
        }
        Ok(())
    }

    fn put_hint(&mut self, expert: &ExpertName, hint: &Hint, changed: bool) -> Result<(), IoError> {
        let span = self.spool.put(&hint.render(expert))?;
        self.hints.push(SpooledHint {
            path: log::hint_path(expert),
            span,
            changed,
        });
        Ok(())
    }
}

/// Appends this build's events to the log and signs its checkpoint with `keys`.
///
/// The events are made one expert at a time, in the log's order, and each expert's appended
/// to the log before the next one's are made; the tiles they complete go to the spool in the
/// output's state directory. A log that starts now (the genesis batch, which records the whole
/// registry) writes each expert's hint file right after its events: the build's memory then
/// does not grow with the log.
pub fn update(
    sources: &Sources<'_>,
    registry: &Registry,
    changes: &Changes,
    keys: &[SecretKey],
) -> Result<Logged, BuildError> {
    let previous_pin = pin_of(sources.previous)?;
    let existing_pin = pin_of(sources.existing)?;
    let mut files = Files {
        spool: Spool::create(&sources.out_dir.join(crate::format::STATE_DIR))?,
        tiles: BTreeMap::new(),
        hints: Vec::new(),
    };

    // Where every version was published, when this build reads the whole previous log anyway.
    let mut replayed: Option<BTreeMap<String, Hint>> = None;
    let mut appender = match (&previous_pin, sources.previous) {
        (Some(pin), Some(previous))
            if sources.previous_elsewhere && existing_pin != previous_pin =>
        {
            // A host replaced whole at each deploy keeps only what the output directory holds,
            // so the previous log is copied, every entry checked against the pinned tree hash.
            let store = ReaderTiles {
                reader: previous.reader.as_ref(),
            };
            let location = previous.reader.location(log::LOG_DIR);
            let mut published = BTreeMap::new();
            let mut appender = Appender::empty();
            // One entry bundle at a time, the tiles it completes spooled before the next, so
            // the copy is not held whole.
            while appender.size() < pin.size {
                let next = (appender.size() / TILE_WIDTH + 1) * TILE_WIDTH;
                appender = log::extend(
                    &store,
                    &location,
                    appender,
                    next.min(pin.size),
                    |index, entry| {
                        log::record_publish(&mut published, index, entry);
                        Ok(())
                    },
                )?;
                files.take_completed(&mut appender)?;
            }
            log::check_pinned(&appender, &location, pin)?;
            replayed = Some(published);
            appender
        }
        (Some(pin), Some(previous)) => {
            let store = ReaderTiles {
                reader: previous.reader.as_ref(),
            };
            log::open_appender(&store, &previous.reader.location(log::LOG_DIR), pin)?
        }
        _ => Appender::empty(),
    };
    files.take_completed(&mut appender)?;
    let start = appender.size();
    let mut appended_publishes = BTreeMap::new();
    let append = |appender: &mut Appender,
                  published: &mut BTreeMap<String, Hint>,
                  events: Vec<Event>|
     -> Result<(), Diagnostic> {
        for event in events {
            let entry = event.entry();
            log::record_publish(published, appender.size(), &entry);
            appender.append(&entry).map_err(|why| {
                Diagnostic::error(
                    "log-entry-too-long",
                    &sources.data_dir.join(event.name()).join("expert.toml"),
                    why,
                )
            })?;
        }
        Ok(())
    };
    match (&previous_pin, sources.previous) {
        (Some(_), Some(previous)) => {
            for (old, expert) in changed_experts(registry, changes) {
                let old = old.map(|old| previous.read_index_sized(&old)).transpose()?;
                let events = expert_events(old.as_ref(), expert);
                if let Err(refused) = append(&mut appender, &mut appended_publishes, events) {
                    return Ok(Logged::Refused(vec![refused]));
                }
                files.take_completed(&mut appender)?;
            }
        }
        // No log yet: the genesis batch records everything the registry serves, and every
        // expert's hint holds exactly its publishes in this batch.
        _ => {
            for expert in registry.experts.values() {
                let mut published = BTreeMap::new();
                let events = expert_events(None, expert);
                if let Err(refused) = append(&mut appender, &mut published, events) {
                    return Ok(Logged::Refused(vec![refused]));
                }
                files.take_completed(&mut appender)?;
                if let Some(hint) = published.get(expert.name.as_str()) {
                    files.put_hint(&expert.name, hint, true)?;
                }
            }
        }
    }
    let size = appender.size();
    let hash = appender.root();
    files.put_tiles(appender.finish())?;
    if let (Some(pin), Some(previous)) = (&previous_pin, sources.previous) {
        hints(
            &mut files,
            previous,
            pin,
            registry,
            changes,
            replayed,
            appended_publishes,
        )?;
    }
    let Files {
        spool,
        tiles,
        hints,
    } = files;
    let spool = spool.finish()?;

    let mut refused = Vec::new();
    if let Some(pin) = &existing_pin {
        for (path, span) in &tiles {
            if covered(path, pin.size) {
                let local = fsutil::read_optional(&sources.out_dir.join(path))?;
                if local.is_some() && local != Some(spool.read(*span)?) {
                    refused.push(Diagnostic::error(
                        "log-rewritten",
                        &sources.out_dir.join(path),
                        format!(
                            "this build would rewrite a published tile of the publish log (the root here pins {} entries); the log is write-once",
                            pin.size
                        ),
                    ));
                }
            }
        }
    }
    if !refused.is_empty() {
        return Ok(Logged::Refused(refused));
    }

    let origin = match (&previous_pin, &registry.settings.log_origin) {
        (Some(pin), Some(setting)) if *setting != pin.origin => {
            return Ok(Logged::Refused(vec![Diagnostic::error(
                "log-origin",
                &sources.data_dir.join("registry.toml"),
                format!(
                    "[log] origin is \"{setting}\", but the publish log started with the origin \"{}\", which never changes: set it back or remove it",
                    pin.origin
                ),
            )]));
        }
        (Some(pin), _) => pin.origin.clone(),
        (None, Some(setting)) => setting.clone(),
        (None, None) => {
            log::derive_origin(registry.settings.site_url.as_ref(), &registry.settings.name)
        }
    };
    // Sorted by public key, so the checkpoint's bytes do not depend on the order of the
    // command line's keys.
    let mut signers: Vec<&SecretKey> = keys.iter().collect();
    signers.sort_by_key(|key| key.public());
    signers.dedup_by_key(|key| key.public());
    let signing: Vec<_> = signers.iter().map(|key| key.note_key()).collect();
    let checkpoint = log::checkpoint_note(&origin, size, hash, &signing);
    let pin = LogPin {
        origin,
        size,
        hash,
        checkpoint: IndexRef {
            hash: Hash::of(&checkpoint),
            size: checkpoint.len() as u64,
        },
    };
    let previous_size = previous_pin.as_ref().map_or(0, |p| p.size);
    let new_tiles = tiles
        .keys()
        .filter(|path| previous_pin.is_none() || !covered(path, previous_size))
        .cloned()
        .collect();
    Ok(Logged::Update(Box::new(LogUpdate {
        checkpoint_changed: previous_pin.as_ref().map(|p| p.checkpoint) != Some(pin.checkpoint),
        pin,
        spool,
        tiles,
        checkpoint,
        new_tiles,
        hints,
        appended: size - start,
    })))
}

/// Spools the hint files a build on top of a log writes.
///
/// A hint only grows when its expert gets a publish, and is rewritten only for experts with
/// new events, starting from the previous registry's copy; so a publish reads and writes the
/// hints of what it changes. The whole set is written when this build knows every publish
/// anyway (a previous log copied whole for a host replaced at each deploy), and once, by
/// replaying the previous log, when the previous registry has no hints yet (it was built
/// before they existed) or one is missing or unreadable.
fn hints(
    files: &mut Files,
    previous: &PublishedRegistry,
    pin: &LogPin,
    registry: &Registry,
    changes: &Changes,
    replayed: Option<BTreeMap<String, Hint>>,
    appended: BTreeMap<String, Hint>,
) -> Result<(), BuildError> {
    let touched: BTreeSet<String> = appended.keys().cloned().collect();
    // (every publish before this build's, whether every expert's hint is written anew)
    let (mut published, whole, all_changed) = match replayed {
        Some(replayed) => {
            let all_changed = !hints_published(previous, registry, changes)?;
            (replayed, true, all_changed)
        }
        None => {
            let held = if hints_published(previous, registry, changes)? {
                previous_hints(previous, changes, &touched)?
            } else {
                None
            };
            match held {
                Some(held) => (held, false, false),
                None => (replay_publishes(previous, pin)?, true, true),
            }
        }
    };
    for (name, hint) in appended {
        published
            .entry(name)
            .or_default()
            .publish
            .extend(hint.publish);
    }
    for (name, hint) in &published {
        let Ok(expert) = ExpertName::parse(name) else {
            continue;
        };
        if !whole && !touched.contains(name) {
            continue;
        }
        files.put_hint(&expert, hint, all_changed || touched.contains(name))?;
    }
    Ok(())
}

/// Whether the previous registry publishes hint files: it does when it holds the hint of an
/// expert it already served (one read; every expert it served has publish entries).
fn hints_published(
    previous: &PublishedRegistry,
    registry: &Registry,
    changes: &Changes,
) -> Result<bool, PublishedError> {
    let served_before = registry.experts.keys().find(|name| {
        changes
            .experts
            .get(name.as_str())
            .is_none_or(|(old, _)| old.is_some())
    });
    let Some(name) = served_before else {
        return Ok(true);
    };
    Ok(previous
        .reader
        .read_at_most(&log::hint_path(name), log::MAX_HINT_BYTES)?
        .is_some())
}

/// The previous hints of the experts `touched`, or `None` when one that the previous registry
/// served is missing or unreadable.
fn previous_hints(
    previous: &PublishedRegistry,
    changes: &Changes,
    touched: &BTreeSet<String>,
) -> Result<Option<BTreeMap<String, Hint>>, PublishedError> {
    let mut hints = BTreeMap::new();
    for name in touched {
        let served_before = changes
            .experts
            .get(name.as_str())
            .is_none_or(|(old, _)| old.is_some());
        if !served_before {
            continue;
        }
        let Ok(expert) = ExpertName::parse(name) else {
            continue;
        };
        let path = log::hint_path(&expert);
        let Some(bytes) = previous.reader.read_at_most(&path, log::MAX_HINT_BYTES)? else {
            return Ok(None);
        };
        match Hint::parse(&previous.reader.location(&path), &expert, &bytes) {
            Ok(hint) => hints.insert(name.clone(), hint),
            Err(_) => return Ok(None),
        };
    }
    Ok(Some(hints))
}

/// Every publish of the previous log, read from its entry bundles and checked against the
/// pinned tree hash.
fn replay_publishes(
    previous: &PublishedRegistry,
    pin: &LogPin,
) -> Result<BTreeMap<String, Hint>, PublishedError> {
    let store = ReaderTiles {
        reader: previous.reader.as_ref(),
    };
    let mut published = BTreeMap::new();
    log::replay(
        &store,
        &previous.reader.location(log::LOG_DIR),
        pin,
        |index, entry| {
            log::record_publish(&mut published, index, entry);
            Ok(())
        },
    )?;
    Ok(published)
}

/// The log a registry's root pins, if any.
fn pin_of(registry: Option<&PublishedRegistry>) -> Result<Option<LogPin>, PublishedError> {
    let Some(registry) = registry else {
        return Ok(None);
    };
    registry
        .root
        .log
        .as_ref()
        .map(|log| {
            log.pin().map_err(|message| PublishedError::Invalid {
                location: registry.reader.location(crate::format::index::ROOT_PATH),
                message,
            })
        })
        .transpose()
}

/// Whether the log file at `path` (relative to the registry root) holds only entries (or
/// hashes) of the first `size` entries: a file a log of that size has published.
fn covered(path: &str, size: u64) -> bool {
    let Some((level, index, width)) = path
        .strip_prefix(log::LOG_DIR)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(tiles::parse_tile_path)
    else {
        return false;
    };
    let stored = match level {
        None => size,
        Some(level) => tiles::TILE_HEIGHT
            .checked_mul(level)
            .and_then(|shift| size.checked_shr(shift))
            .unwrap_or(0),
    };
    index
        .checked_mul(tiles::TILE_WIDTH)
        .and_then(|start| start.checked_add(width))
        .is_some_and(|end| end <= stored)
}

/// The experts whose index documents differ from the previous registry's, each with its
/// previous index document (`None`: a new expert), in the log's order.
fn changed_experts<'r>(
    registry: &'r Registry,
    changes: &'r Changes,
) -> impl Iterator<Item = (Option<IndexRef>, &'r Expert)> {
    changes.experts.iter().filter_map(|(name, (old, _))| {
        // An expert that disappeared was refused by the write-once rules.
        let expert = registry.experts.get(&ExpertName::parse(name).ok()?)?;
        Some((*old, expert))
    })
}

/// One expert's events between its previous index document (`None`: a new expert) and now.
fn expert_events(old: Option<&IndexDoc>, new: &Expert) -> Vec<Event> {
    let name = new.name.as_str();
    let mut events = Vec::new();
    let old_version = |version: &str| old.and_then(|doc| doc.versions.get(version));
    for published in new.versions.values() {
        let record = &published.record;
        if old_version(&record.version).is_none() {
            events.push(Event::Publish {
                name: name.to_owned(),
                version: record.version.clone(),
                blake3: record.blake3,
                size: record.size,
            });
        }
    }
    for published in new.versions.values() {
        let version = &published.record.version;
        // As the index document has them: a reason only beside a status other than available.
        let reason = (published.status != Status::Available)
            .then(|| published.reason.clone().unwrap_or_default());
        let before = old_version(version)
            .map(|v| (v.status, v.reason.clone()))
            .unwrap_or((Status::Available, None));
        if before != (published.status, reason.clone()) {
            events.push(Event::Status {
                name: name.to_owned(),
                version: version.clone(),
                status: published.status.as_str().to_owned(),
                reason,
            });
        }
    }
    let old_tags: BTreeMap<&str, &str> = old
        .map(|doc| doc.tags().filter(|(tag, _)| *tag != LATEST).collect())
        .unwrap_or_default();
    let tag_names: BTreeSet<&str> = old_tags
        .keys()
        .copied()
        .chain(new.tags.keys().map(String::as_str))
        .collect();
    for tag in tag_names {
        match new.tags.get(tag) {
            Some(version) => {
                let version = version.to_string();
                if old_tags.get(tag) != Some(&version.as_str()) {
                    events.push(Event::Tag {
                        name: name.to_owned(),
                        tag: tag.to_owned(),
                        version,
                    });
                }
            }
            None => events.push(Event::Untag {
                name: name.to_owned(),
                tag: tag.to_owned(),
            }),
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_is_covered_when_all_it_holds_is_within_the_size() {
        assert!(covered("v1/log/tile/0/000.p/5", 5));
        assert!(covered("v1/log/tile/entries/000.p/5", 7));
        assert!(!covered("v1/log/tile/0/000.p/6", 5));
        assert!(covered("v1/log/tile/0/000", 256));
        assert!(!covered("v1/log/tile/0/001.p/1", 256));
        assert!(covered("v1/log/tile/1/000.p/1", 256));
        assert!(!covered("v1/log/tile/1/000.p/2", 511));
        assert!(!covered("v1/log/checkpoint", 5));
    }
}
