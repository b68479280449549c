//! The publish log on the client's side: a full mirror copies the log its source's root pins,
//! following it from the log its own previous root pinned.
//!
//! Only entry bundles are downloaded, and only those holding entries the mirror lacks: the
//! hash tiles are rebuilt from the entries, and the tree they give is checked against the
//! tree hash the (trusted) root pins, so nothing is written that the root does not vouch for.
//! When the mirror held a log before, the new log must extend it: the old tree hash must be
//! the hash of the new log's first entries (the consistency an RFC 6962 proof shows, checked
//! here on the entries themselves); a log that does not is a split view, or a rewritten log,
//! and is refused, naming both sizes. The mirror writes its hint files from the entries it
//! read, so they agree with the log it holds.
//!
//! `resolve`, `fetch` and `lock --require-log` prove each version they accept published
//! ([`prove_published`]): the expert's hint file says where its publish entry is, the client
//! writes the entry the index document implies, and an RFC 6962 inclusion proof of its leaf
//! hash, read from the hash tiles, ties it to the tree hash the root pins.
//!
//! `verify` audits the whole log against the registry ([`audit`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::client::replica::Replica;
use crate::client::trust::SeenLog;
use crate::common::diagnostic::Diagnostic;
use crate::common::model::{ExpertName, Hash, LATEST, Status};
use crate::common::signing::PublicKey;
use crate::common::transport::{FetchError, Source};
use crate::format::index;
use crate::format::log::{self, Event, Hint, LogPin, MAX_CHECKPOINT_BYTES};
use crate::format::reader::{self, IndexDoc, PublishedError};
use crate::format::tlog::merkle;
use crate::format::tlog::note::{self, Checkpoint};
use crate::format::tlog::tiles::{self, Appender, Memo, TILE_WIDTH, TileReader, TileStore};

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

/// The log's files read from a registry that the store owns, so a client can keep one
/// [`Memo`] of them for as long as it lives.
#[derive(Debug)]
pub struct SourceTiles(pub Source);

impl TileStore for SourceTiles {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        log::ReaderTiles { reader: &self.0 }.read(path)
    }
}

/// Proves that the log `pin` describes (`None`: the root pins no log) holds the publish entry
/// of `name` `version` with the BLAKE3 and size the index document gives, reading from
/// `source` the expert's hint file, the entry bundle holding the entry, and the hash tiles of
/// an inclusion proof (through `tiles`, which reads each once). Returns the entry's index.
pub fn prove_published(
    source: &Source,
    tiles: &impl TileStore,
    pin: Option<&LogPin>,
    name: &ExpertName,
    version: &str,
    blake3: Hash,
    size: u64,
) -> Result<u64, PublishedError> {
    let refused = |relative: &str, why: String| PublishedError::Invalid {
        location: source.location(relative),
        message: format!("--require-log: cannot prove that {name} {version} was published: {why}"),
    };
    let Some(pin) = pin else {
        return Err(refused(
            index::ROOT_PATH,
            "the root pins no publish log".to_owned(),
        ));
    };
    let hint_path = log::hint_path(name);
    let bytes = source
        .get_at_most(&hint_path, log::MAX_HINT_BYTES)?
        .ok_or_else(|| {
            refused(
                &hint_path,
                "the hint file that says where its publish entry is in the log is missing"
                    .to_owned(),
            )
        })?;
    let hint = Hint::parse(&source.location(&hint_path), name, &bytes)?;
    let Some(&entry_index) = hint.publish.get(version) else {
        return Err(refused(
            &hint_path,
            "the hint file lists no publish entry for this version".to_owned(),
        ));
    };
    if entry_index >= pin.size {
        return Err(refused(
            &hint_path,
            format!(
                "the hint file places its publish entry at index {entry_index}, past the {} entries the root pins",
                pin.size
            ),
        ));
    }
    // The entry is the one the index document implies: its leaf hash, proven at that index
    // against the pinned tree hash, shows the log holds exactly these bytes there, so the
    // entry bundle is not needed to prove it (it is read only to say why a proof failed).
    let expected = Event::Publish {
        name: name.as_str().to_owned(),
        version: version.to_owned(),
        blake3,
        size,
    }
    .entry();
    let reader = TileReader {
        store: tiles,
        size: pin.size,
    };
    let proof = merkle::inclusion_proof(&reader, entry_index, pin.size)
        .map_err(|err| refused(log::LOG_DIR, err.to_string()))?;
    if merkle::verify_inclusion(
        &log::entry_hash(&expected),
        entry_index,
        pin.size,
        &proof,
        &pin.hash,
    )
    .is_ok()
    {
        return Ok(entry_index);
    }
    let tile = entry_index / TILE_WIDTH;
    let width = (pin.size - tile * TILE_WIDTH).min(TILE_WIDTH);
    let bundle_path = tiles::tile_path("entries", tile, width);
    let bundle_relative = log::log_path(&bundle_path);
    let entry = tiles
        .read(&bundle_path)
        .ok()
        .flatten()
        .and_then(|bundle| tiles::parse_bundle(&bundle_path, &bundle, width).ok())
        .and_then(|entries| entries.into_iter().nth((entry_index % TILE_WIDTH) as usize));
    Err(match entry {
        Some(entry) if entry != expected => refused(
            &bundle_relative,
            format!(
                "entry {entry_index} (where {hint_path} places it) is not its publish as the index document gives it ({blake3}, {size} bytes)"
            ),
        ),
        _ => refused(
            log::LOG_DIR,
            format!(
                "the inclusion proof of its publish entry, entry {entry_index}, in the log of {} entries the root pins fails: a tile or an entry was rewritten",
                pin.size
            ),
        ),
    })
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
    let hints_held = pin.size == 0 || replica.dir.join(log::HINTS_DIR).is_dir();
    // Already held: nothing to read, not even the checkpoint.
    if held == Some(pin)
        && hints_held
        && replica
            .read_local(log::CHECKPOINT_PATH)?
            .is_some_and(|bytes| Hash::of(&bytes) == pin.checkpoint.hash)
    {
        return Ok(());
    }
    // Where the entries read here publish versions. Every entry is read when the mirror starts
    // the log over; otherwise only the new ones, and the hints held are extended, except in
    // a mirror made before hints existed, whose held entries are then read once, locally.
    let mut published: BTreeMap<String, Hint> = BTreeMap::new();
    let mut read_from = 0;
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
    let start = match (start, held) {
        (Some(_), Some(held)) if !hints_held => {
            let local = log::replay(&Local(replica), &location, held, |index, entry| {
                log::record_publish(&mut published, index, entry);
                Ok(())
            });
            local.ok()
        }
        (start, Some(held)) => {
            read_from = held.size;
            start
        }
        (start, None) => start,
    };
    let appender = match (start, held) {
        (Some(appender), _) => appender,
        (None, Some(held)) => {
            read_from = 0;
            published.clear();
            let appender = log::extend(
                &store,
                &location,
                Appender::empty(),
                held.size,
                |index, entry| {
                    log::record_publish(&mut published, index, entry);
                    Ok(())
                },
            )?;
            if appender.root() != held.hash {
                return Err(split_view(held));
            }
            appender
        }
        (None, None) => Appender::empty(),
    };
    let appender = log::extend(&store, &location, appender, pin.size, |index, entry| {
        log::record_publish(&mut published, index, entry);
        Ok(())
    })?;
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
    write_hints(replica, published, read_from > 0)?;
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

/// Writes the hint file of each expert in `published`; with `extend`, the entries read were
/// only the new ones, so each is added to the hint the mirror holds.
fn write_hints(
    replica: &Replica,
    published: BTreeMap<String, Hint>,
    extend: bool,
) -> Result<(), PublishedError> {
    for (name, new) in published {
        let Ok(expert) = ExpertName::parse(&name) else {
            continue;
        };
        let path = log::hint_path(&expert);
        let mut hint = Hint::default();
        if extend && let Some(bytes) = replica.read_local(&path)? {
            // The mirror's own file, written from entries it verified: read back as written.
            let location = replica.dir.join(&path).display().to_string();
            hint = Hint::parse(&location, &expert, &bytes)?;
        }
        hint.publish.extend(new.publish);
        replica.write(&path, &hint.render(&expert), false)?;
    }
    Ok(())
}

/// Checks that the log a newly accepted root pins (`pin`, or none) is consistent with the one
/// the client saw last (`seen`), reading the tiles of an RFC 6962 consistency proof from
/// `source`, and returns what to remember. A log that shrank, changed origin, or whose proof
/// does not verify is a split view: the registry showed this client another history before.
pub fn check_seen(
    source: &Source,
    pin: Option<&LogPin>,
    seen: Option<&SeenLog>,
) -> Result<Option<SeenLog>, PublishedError> {
    let registry = source.describe();
    let split_view = |why: &str| PublishedError::Invalid {
        location: source.location(log::CHECKPOINT_PATH),
        message: format!(
            "refused: {why}; the registry {registry} shows this client different histories (a split view), or rewrote its log. If you trust what it serves now, remove the client state (.perstack-client/state.json) to start over"
        ),
    };
    let (Some(pin), Some(seen)) = (pin, seen) else {
        return Ok(match (pin, seen) {
            (Some(pin), None) => Some(seen_of(pin)),
            (None, Some(seen)) => {
                return Err(split_view(&format!(
                    "the root pins no publish log, but a log of {} entries was seen before",
                    seen.size
                )));
            }
            _ => None,
        });
    };
    let seen_hash = data_encoding::HEXLOWER
        .decode(seen.hash.as_bytes())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok());
    let describe = || {
        format!(
            "the publish log of {} entries (origin {}) is not consistent with the log of {} entries (origin {}) seen before",
            pin.size, pin.origin, seen.size, seen.origin
        )
    };
    let Some(seen_hash) = seen_hash else {
        return Err(split_view(&describe()));
    };
    if seen.origin != pin.origin || seen.size > pin.size {
        return Err(split_view(&describe()));
    }
    if seen.size == pin.size {
        if seen_hash != pin.hash {
            return Err(split_view(&describe()));
        }
        return Ok(Some(seen_of(pin)));
    }
    if seen.size > 0 {
        let store = Memo::new(log::ReaderTiles { reader: source });
        let reader = TileReader {
            store: &store,
            size: pin.size,
        };
        let proof = merkle::consistency_proof(&reader, seen.size, pin.size).map_err(|err| {
            PublishedError::Invalid {
                location: source.location(log::LOG_DIR),
                message: err.to_string(),
            }
        })?;
        if merkle::verify_consistency(seen.size, pin.size, &seen_hash, &pin.hash, &proof).is_err() {
            return Err(split_view(&describe()));
        }
    }
    Ok(Some(seen_of(pin)))
}

fn seen_of(pin: &LogPin) -> SeenLog {
    SeenLog {
        origin: pin.origin.clone(),
        size: pin.size,
        hash: data_encoding::HEXLOWER.encode(&pin.hash),
    }
}

/// What the log says of one expert, entry by entry.
#[derive(Default)]
struct Logged {
    /// Version -> (BLAKE3, size, status, reason).
    versions: BTreeMap<String, (Hash, u64, Status, Option<String>)>,
    tags: BTreeMap<String, String>,
}

/// Audits the log a root pins against the registry it serves (`indexes`: every expert's index
/// document that could be read): the checkpoint is the one pinned and states the pinned tree
/// head (signed by one of the root's keys when the root is signed); every tile served is the
/// tile the entries give; every entry is one this program writes and none contradicts
/// write-once (a version published twice, a status moving back, a tag naming no version); and
/// the state the entries add up to is what the registry serves, version by version, hash,
/// size, status and tags included. Returns the problems and how many files were read.
pub fn audit(
    source: &Source,
    pin: &LogPin,
    root_keys: &[String],
    indexes: &[(String, IndexDoc)],
) -> Result<(Vec<Diagnostic>, usize), FetchError> {
    let mut problems = Vec::new();
    let mut files = 0;
    let problem = |code: &'static str, path: &str, message: String| {
        Diagnostic::error(code, &PathBuf::from(path), message)
    };
    let checkpoint_path = log::CHECKPOINT_PATH;
    match source.get_at_most(
        checkpoint_path,
        pin.checkpoint.size.min(MAX_CHECKPOINT_BYTES),
    )? {
        None => problems.push(problem(
            "missing",
            checkpoint_path,
            "missing, but the root pins it".to_owned(),
        )),
        Some(bytes) => {
            files += 1;
            if Hash::of(&bytes) != pin.checkpoint.hash {
                problems.push(problem(
                    "hash-mismatch",
                    checkpoint_path,
                    "not the checkpoint the root pins (its BLAKE3 differs)".to_owned(),
                ));
            }
            check_checkpoint(&bytes, pin, root_keys, &mut problems);
        }
    }

    let store = log::ReaderTiles { reader: source };
    let location = log::LOG_DIR;
    let mut events = Vec::new();
    let replayed = log::replay(&store, location, pin, |index, entry| {
        events.push((index, Event::parse(entry)));
        Ok(())
    });
    let appender = match replayed {
        Ok(appender) => appender,
        Err(err) => {
            problems.push(problem("log", location, err.to_string()));
            return Ok((problems, files));
        }
    };
    files += pin.size.div_ceil(TILE_WIDTH) as usize;
    for (path, expected) in appender.finish() {
        if path.starts_with("tile/entries/") {
            continue;
        }
        let relative = log::log_path(&path);
        files += 1;
        match source.get_at_most(&relative, log::MAX_TILE_BYTES)? {
            None => problems.push(problem(
                "missing",
                &relative,
                "missing, but the log's size needs it".to_owned(),
            )),
            Some(bytes) if bytes != expected => problems.push(problem(
                "log-tile",
                &relative,
                "differs from the tile the log's entries give: a tampered or damaged tile"
                    .to_owned(),
            )),
            Some(_) => {}
        }
    }

    let mut logged: BTreeMap<String, Logged> = BTreeMap::new();
    let mut published: BTreeMap<String, Hint> = BTreeMap::new();
    for (index, event) in events {
        let at = format!("{location} entry {index}");
        let event = match event {
            Ok(event) => event,
            Err(why) => {
                problems.push(problem("log-entry", &at, why));
                continue;
            }
        };
        if let Event::Publish { name, version, .. } = &event {
            published
                .entry(name.clone())
                .or_default()
                .publish
                .insert(version.clone(), index);
        }
        if let Err(why) = apply(&mut logged, &event) {
            problems.push(problem("log-write-once", &at, why));
        }
    }
    compare(&logged, indexes, &mut problems);
    files += check_hints(source, &published, &mut problems)?;
    Ok((problems, files))
}

/// Each expert's hint file lists every publish entry of that expert at its index in the log,
/// and nothing else. Returns how many files were read.
fn check_hints(
    source: &Source,
    published: &BTreeMap<String, Hint>,
    problems: &mut Vec<Diagnostic>,
) -> Result<usize, FetchError> {
    let mut files = 0;
    for (name, want) in published {
        let Ok(expert) = ExpertName::parse(name) else {
            continue;
        };
        let path = log::hint_path(&expert);
        let at = PathBuf::from(&path);
        let Some(bytes) = source.get_at_most(&path, log::MAX_HINT_BYTES)? else {
            problems.push(Diagnostic::error(
                "log-hint",
                &at,
                format!("missing: {name} has publish entries in the log, so clients with --require-log need it"),
            ));
            continue;
        };
        files += 1;
        let hint = match Hint::parse(&path, &expert, &bytes) {
            Ok(hint) => hint,
            Err(err) => {
                problems.push(Diagnostic::error("log-hint", &at, err.to_string()));
                continue;
            }
        };
        let mut wrong: Vec<String> = Vec::new();
        for (version, index) in &want.publish {
            match hint.publish.get(version) {
                Some(listed) if listed == index => {}
                Some(listed) => wrong.push(format!(
                    "{version} at {listed}, but its publish entry is {index}"
                )),
                None => wrong.push(format!("{version} missing (its publish entry is {index})")),
            }
        }
        for (version, listed) in &hint.publish {
            if !want.publish.contains_key(version) {
                wrong.push(format!(
                    "{version} at {listed}, but the log never published it"
                ));
            }
        }
        if !wrong.is_empty() {
            problems.push(Diagnostic::error(
                "log-hint",
                &at,
                format!("disagrees with the log on {name}: {}", wrong.join("; ")),
            ));
        }
    }
    Ok(files)
}

/// The checkpoint states the pinned tree head, and a signed root's key signs it.
fn check_checkpoint(
    bytes: &[u8],
    pin: &LogPin,
    root_keys: &[String],
    problems: &mut Vec<Diagnostic>,
) {
    let path = PathBuf::from(log::CHECKPOINT_PATH);
    let note = std::str::from_utf8(bytes)
        .map_err(|_| "not UTF-8".to_owned())
        .and_then(note::open);
    let note = match note {
        Ok(note) => note,
        Err(why) => {
            problems.push(Diagnostic::error("log-checkpoint", &path, why));
            return;
        }
    };
    match Checkpoint::parse_text(&note.text) {
        Ok(checkpoint) if checkpoint == pin.checkpoint() => {}
        Ok(checkpoint) => problems.push(Diagnostic::error(
            "log-checkpoint",
            &path,
            format!(
                "states {} entries of origin {}, but the root pins {} entries of origin {} (or another tree hash)",
                checkpoint.size, checkpoint.origin, pin.size, pin.origin
            ),
        )),
        Err(why) => problems.push(Diagnostic::error("log-checkpoint", &path, why)),
    }
    if root_keys.is_empty() {
        return;
    }
    let signed = root_keys.iter().any(|key| {
        PublicKey::parse(key).is_ok_and(|key| note::verified_by(&note, &pin.origin, key.as_bytes()))
    });
    if !signed {
        problems.push(Diagnostic::error(
            "log-checkpoint",
            &path,
            format!(
                "the root is signed, but no key it lists signs the checkpoint under the name {}",
                pin.origin
            ),
        ));
    }
}

/// Adds one event to what the log says, refusing what write-once forbids.
fn apply(logged: &mut BTreeMap<String, Logged>, event: &Event) -> Result<(), String> {
    let expert = logged.entry(event.name().to_owned()).or_default();
    match event {
        Event::Publish {
            version,
            blake3,
            size,
            ..
        } => {
            if let Some((old, ..)) = expert.versions.get(version) {
                return Err(format!(
                    "publishes {} {version} again (first as {old}, now as {blake3})",
                    event.name()
                ));
            }
            expert
                .versions
                .insert(version.clone(), (*blake3, *size, Status::Available, None));
        }
        Event::Status {
            version,
            status,
            reason,
            ..
        } => {
            let status = Status::parse(status)
                .ok_or_else(|| format!("\"{}\" is not a status", status.escape_debug()))?;
            let Some(entry) = expert.versions.get_mut(version) else {
                return Err(format!(
                    "changes the status of {} {version}, which it never published",
                    event.name()
                ));
            };
            if !entry.2.may_become(status) {
                return Err(format!(
                    "moves {} {version} from {} back to {}",
                    event.name(),
                    entry.2.as_str(),
                    status.as_str()
                ));
            }
            entry.2 = status;
            entry.3 = reason.clone();
        }
        Event::Tag { tag, version, .. } => {
            if !expert.versions.contains_key(version) {
                return Err(format!(
                    "tags {} {version} as {tag}, a version it never published",
                    event.name()
                ));
            }
            expert.tags.insert(tag.clone(), version.clone());
        }
        Event::Untag { tag, .. } => {
            if expert.tags.remove(tag).is_none() {
                return Err(format!(
                    "retires the tag {tag} of {}, which was not set",
                    event.name()
                ));
            }
        }
    }
    Ok(())
}

/// The state the log adds up to is what the registry serves.
fn compare(
    logged: &BTreeMap<String, Logged>,
    indexes: &[(String, IndexDoc)],
    problems: &mut Vec<Diagnostic>,
) {
    let empty = Logged::default();
    let served: BTreeSet<&str> = indexes.iter().map(|(name, _)| name.as_str()).collect();
    for (name, doc) in indexes {
        let expert = logged.get(name).unwrap_or(&empty);
        let path = PathBuf::from(format!("{} ({name})", log::LOG_DIR));
        for (version, served) in &doc.versions {
            let want = (
                served.blake3,
                served.size,
                served.status,
                served.reason.clone(),
            );
            match expert.versions.get(version) {
                None => problems.push(Diagnostic::error(
                    "log-missing",
                    &path,
                    format!("{name} {version} is served, but the log never published it"),
                )),
                Some(logged) if *logged != want => problems.push(Diagnostic::error(
                    "log-mismatch",
                    &path,
                    format!(
                        "{name} {version}: the log says {} ({} bytes, {}), the registry serves {} ({} bytes, {})",
                        logged.0,
                        logged.1,
                        logged.2.as_str(),
                        want.0,
                        want.1,
                        want.2.as_str()
                    ),
                )),
                Some(_) => {}
            }
        }
        for version in expert.versions.keys() {
            if !doc.versions.contains_key(version) {
                problems.push(Diagnostic::error(
                    "log-mismatch",
                    &path,
                    format!(
                        "the log published {name} {version}, which the registry no longer serves"
                    ),
                ));
            }
        }
        let tags: BTreeMap<String, String> = doc
            .tags()
            .filter(|(tag, _)| *tag != LATEST)
            .map(|(tag, version)| (tag.to_owned(), version.to_owned()))
            .collect();
        if tags != expert.tags {
            problems.push(Diagnostic::error(
                "log-mismatch",
                &path,
                format!(
                    "{name}: the log's tags ({:?}) are not the tags served ({:?})",
                    expert.tags, tags
                ),
            ));
        }
    }
    for name in logged.keys().filter(|name| !served.contains(name.as_str())) {
        problems.push(Diagnostic::error(
            "log-mismatch",
            &PathBuf::from(log::LOG_DIR),
            format!("the log names {name}, which the registry does not serve"),
        ));
    }
}
