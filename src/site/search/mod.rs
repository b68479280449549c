//! The static search index that the search page queries in the browser.
//!
//! Experts are numbered in publish order ([`publish_order`]): by when the first of their
//! versions was published, then by name. A new expert, published now, gets the next number, so
//! a publish appends to the index rather than renumbering it: the record files change only at
//! the end. A list of numbers is also a list from oldest to newest. The index is plain JSON
//! files, each fetched only when a query needs it:
//!
//! - `search/index.json`, the manifest: how many experts, the shard keys of both layers, the
//!   experts the delta supersedes, the field weights and the stop words, so the script and the
//!   build never disagree.
//! - `search/t/<key>.json`, base term shards, and `search/d/<key>.json`, delta term shards: every
//!   term starting with the key, each with the complete, sorted list of experts it was found
//!   in, split by the field it was found in (name, scope, tag, environment variable,
//!   description) and delta-encoded. Nothing is ever cut: a word found in 90,000 experts lists
//!   90,000 (a run of small gaps, which gzip shrinks to little), so counts are true and several
//!   words intersect exactly. Filters are terms too: `@scope` (the experts of a scope),
//!   `!unscoped`, `!env` (some skill requires an environment variable); no query word can
//!   spell them. See "Two layers" below.
//! - `search/status.json`: `!deprecated` and `!disabled`, the status of the version shown.
//!   A status changes without a publish time, so it is in neither layer; the file is small
//!   and changes only when a status does.
//! - `search/k/<n>.json`, exact names: bucket `n` maps the [`text::name_key`] of full and local
//!   names hashing to it ([`text::fnv1a`]) to their experts, so `@acme/researcher`,
//!   `researcher` and `tictactoe` find their expert in one small request. The number of
//!   buckets is a power of two that changes only when the number of experts doubles, so a new
//!   expert rewrites the one or two buckets its names hash to.
//! - `search/r/<n>.json`, records: what a result shows (name, latest version, status, whether
//!   it requires environment variables, the start of its description) for experts
//!   `n * RECORDS_PER_FILE` onwards. A page of results fetches only the files its experts are in.
//!
//! # Two layers
//!
//! Term shards are sized for reading (up to `MAX_SHARD_BYTES`), so a publish that rewrote the
//! shards of its 20 words would rewrite 20 times that. Instead the terms are in two layers with
//! the same expert numbers:
//!
//! - The **base** indexes every expert as it was at the *cut*: the recorded publish times
//!   (`published`, every version's) sorted, the cut is the time of publish number
//!   `BASE_PUBLISHES * ⌊P / BASE_PUBLISHES⌋` of the `P` recorded (none while `P` is below
//!   `BASE_PUBLISHES`). An expert's base version is the one the `latest` rule picks among
//!   its versions published at or before the cut or without a time, every status taken as
//!   available (`base_version`): version files never change and statuses are left out, so
//!   the base is the same bytes at every build until the cut moves, once every
//!   `BASE_PUBLISHES` publishes. Experts with no such version are not in it.
//! - The **delta** indexes every expert whose terms today differ from its base terms: those
//!   published after the cut, and those whose shown version is not their base version with
//!   different words (a new version, a moved `latest`). The manifest lists the ones that are
//!   in the base too as `superseded`: the script drops their base postings and reads the
//!   delta's. The delta holds the experts of fewer than `BASE_PUBLISHES` publishes, and those
//!   whose page shows an older version than their base version (its newest is deprecated or
//!   disabled) with other words, in shards of at most `MAX_DELTA_SHARD_BYTES` keyed from the
//!   first character, so a publish rewrites a few small delta shards and the manifest, and
//!   the base only when the cut moves (bench/SITE-RESULTS.md: 10 to 32 KB of `search/` a
//!   publish at 100,000 experts; 6.7 MB, every base shard, once in 1,024 publishes).
//!
//! An expert's postings are in one layer only, so the two layers together hold exactly what
//! one index of today's terms would, and a query reads the terms a single index would have
//! shown it: those starting with the base key of its word (see `site/static/search.js`).
//!
//! Every file depends only on the registry: the same experts give the same bytes.

pub mod text;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::model::Status;
use crate::data::validate::{Expert, Registry, compute_latest};
use crate::site::view;

pub const MANIFEST_PATH: &str = "search/index.json";
/// The statuses of the versions shown: `!deprecated` and `!disabled`.
pub const STATUS_PATH: &str = "search/status.json";

/// The format of the manifest and the files it leads to; the script refuses others.
const FORMAT: u64 = 4;
/// A base term shard whose JSON would be larger than this is split by one more character.
/// Gzip makes a full shard about a quarter of this or less, so a one-word query stays well
/// inside its budget of 100 KB (bench/SITE-RESULTS.md).
const MAX_SHARD_BYTES: usize = 64 * 1024;
/// The same for delta shards, keyed from the first character: small, because a publish
/// rewrites the delta shard of each of its terms (about 20), and the delta is small enough
/// (about `BASE_PUBLISHES` experts) that a query reading one or a few of them pays little.
const MAX_DELTA_SHARD_BYTES: usize = 4 * 1024;
/// How many recorded publishes the cut moves by: the base is rebuilt once every this many
/// publishes, and the delta holds the experts of at most this many publishes (plus those whose
/// shown version moved away from their base version).
const BASE_PUBLISHES: usize = 1024;
/// How long a shard key may grow before a crowded shard stays whole.
const MAX_KEY_CHARS: usize = 24;
/// Experts per record file. Results of equal score are shown in id order (oldest first), so
/// the first page of a query that matches many experts usually
/// lies in the first file or two: large enough for that (the script fetches file 0 together
/// with the term shards, saving a round of requests), small enough (about 7 KB gzip at 128
/// records) that a page whose results are scattered over several files stays in budget.
const RECORDS_PER_FILE: usize = 128;
/// About how many names one exact-name file holds: from half this to this many experts'.
const NAMES_PER_BUCKET: usize = 32;
/// Descriptions in results are cut to this many characters.
const SNIPPET_CHARS: usize = 140;

/// Where a term was found, best first: an expert is listed under a term once, in the best
/// field it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Name,
    Scope,
    Tag,
    Env,
    Description,
    /// A filter term (`@scope`, `!deprecated`, ...): found, not ranked.
    Filter,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Name,
        Field::Scope,
        Field::Tag,
        Field::Env,
        Field::Description,
        Field::Filter,
    ];

    /// The key of the field's list in a term's postings.
    fn code(self) -> &'static str {
        match self {
            Field::Name => "n",
            Field::Scope => "s",
            Field::Tag => "t",
            Field::Env => "e",
            Field::Description => "d",
            Field::Filter => "x",
        }
    }

    /// How much a match in this field counts: a word in the name says more about an expert
    /// than the same word in its description.
    fn weight(self) -> u64 {
        match self {
            Field::Name => 8,
            Field::Scope => 5,
            Field::Tag => 4,
            Field::Env => 3,
            Field::Description => 1,
            Field::Filter => 0,
        }
    }
}

/// The words of one version of an expert that the term shards index.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    pub description: &'a str,
    /// The definition's `tags`: categories such as `coding`, not dist-tags.
    pub categories: &'a [String],
    pub required_env: &'a [String],
}

/// What the index knows of one expert.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub latest: Option<String>,
    /// The words of the version its page shows.
    pub shown: Content<'a>,
    /// The words of its base version (see the module's "Two layers"), or `None` when it has
    /// no version published at or before the cut.
    pub base: Option<Content<'a>>,
    /// The status of the version its page shows.
    pub status: Status,
}

/// What the index knows of every expert, in the registry's order. Everything comes from the
/// checked records the build loaded (categories included), so no version file is read again.
pub fn entries(registry: &Registry) -> Vec<Entry<'_>> {
    let cut = cut(registry);
    registry
        .experts
        .values()
        .map(|expert| entry(expert, cut.as_ref()))
        .collect()
}

fn entry<'a>(expert: &'a Expert, cut: Option<&Cut<'_>>) -> Entry<'a> {
    let shown = view::shown_version(expert);
    Entry {
        name: expert.name.as_str(),
        latest: expert.latest.as_ref().map(ToString::to_string),
        shown: content(&shown.record),
        base: base_version(expert, cut).map(|version| content(&expert.versions[version].record)),
        status: shown.status,
    }
}

fn content(record: &crate::data::definition::VersionRecord) -> Content<'_> {
    Content {
        description: &record.description,
        categories: &record.categories,
        required_env: &record.required_env,
    }
}

/// Where the base ends: versions published at or before `time` (or without a time) are in it.
/// `None` while fewer than `BASE_PUBLISHES` publishes are recorded: only untimed versions are.
struct Cut<'a> {
    time: &'a str,
}

/// The cut: the time of recorded publish number `BASE_PUBLISHES * ⌊P / BASE_PUBLISHES⌋`.
/// Times are UTC to the second in one fixed format, so they compare as text.
fn cut(registry: &Registry) -> Option<Cut<'_>> {
    let mut times: Vec<&str> = registry
        .experts
        .values()
        .flat_map(|expert| expert.versions.values())
        .filter_map(|published| published.published.as_deref())
        .collect();
    let publishes = times.len() / BASE_PUBLISHES * BASE_PUBLISHES;
    if publishes == 0 {
        return None;
    }
    let (_, time, _) = times.select_nth_unstable(publishes - 1);
    Some(Cut { time })
}

/// The version the base indexes for `expert`: the one the `latest` rule picks among the
/// versions published at or before the cut (or with no recorded time), every status taken as
/// available, because a status changes without a time and the base must not; failing a
/// release, the highest of them.
fn base_version<'a>(expert: &'a Expert, cut: Option<&Cut<'_>>) -> Option<&'a semver::Version> {
    let before: Vec<&semver::Version> = expert
        .versions
        .iter()
        .filter(
            |(_, published)| match (published.published.as_deref(), cut) {
                (None, _) => true,
                (Some(time), Some(cut)) => time <= cut.time,
                (Some(_), None) => false,
            },
        )
        .map(|(version, _)| version)
        .collect();
    let latest = compute_latest(before.iter().map(|version| (*version, Status::Available)))?;
    before.into_iter().find(|version| **version == latest)
}

/// When an expert first appeared: the earliest `published` time of its versions, or `None`
/// when some version has none (published before the time was recorded, so older than any
/// recorded time). Times are UTC to the second in one fixed format, so they compare as text.
pub fn first_published(expert: &Expert) -> Option<&str> {
    expert
        .versions
        .values()
        .map(|published| published.published.as_deref())
        .min()
        .flatten()
}

/// Sorts entries into the order experts are numbered in: experts with no recorded publish
/// time first, then by [`first_published`], ties in natural order of names (`expert-2` before
/// `expert-10`). Everything here is in the registry, so the same data gives the same numbers,
/// and a new expert (published after all the others) comes last.
pub fn publish_order<'a>(registry: &'a Registry, entries: &mut [Entry<'a>]) {
    let first: BTreeMap<&str, Option<&str>> = registry
        .experts
        .values()
        .map(|expert| (expert.name.as_str(), first_published(expert)))
        .collect();
    let first_of = |name: &str| first.get(name).copied().flatten();
    entries.sort_by(|a, b| {
        first_of(a.name)
            .cmp(&first_of(b.name))
            .then_with(|| view::natural_cmp(a.name, b.name))
    });
}

/// Renders the manifest and every shard, name and record file: (relative path, bytes), in
/// path order. Experts are numbered in the order of `entries` (see [`publish_order`]).
pub fn render(entries: &[Entry<'_>]) -> Vec<(String, Vec<u8>)> {
    let ordered: Vec<&Entry<'_>> = entries.iter().collect();

    let mut files = Vec::new();
    let mut base: Vec<(usize, BTreeMap<String, Field>)> = Vec::new();
    let mut delta: Vec<(usize, BTreeMap<String, Field>)> = Vec::new();
    let mut superseded: Vec<usize> = Vec::new();
    for (id, entry) in ordered.iter().enumerate() {
        let now = expert_terms(entry.name, &entry.shown);
        let then = entry.base.map(|base| expert_terms(entry.name, &base));
        if then.as_ref() != Some(&now) {
            delta.push((id, now));
            if then.is_some() {
                superseded.push(id);
            }
        }
        if let Some(then) = then {
            base.push((id, then));
        }
    }
    let base_layer = term_shards(&base, "t", 2, MAX_SHARD_BYTES, &mut files);
    let delta_layer = term_shards(&delta, "d", 1, MAX_DELTA_SHARD_BYTES, &mut files);
    let status = status_terms(&ordered);
    files.push((STATUS_PATH.to_owned(), status));
    let buckets = name_buckets(&ordered, &mut files);
    for (n, chunk) in ordered.chunks(RECORDS_PER_FILE).enumerate() {
        let records: Vec<Value> = chunk.iter().map(|entry| record(entry)).collect();
        files.push((format!("search/r/{n}.json"), to_bytes(&json!(records))));
    }
    let weights: serde_json::Map<String, Value> = Field::ALL
        .iter()
        .filter(|field| **field != Field::Filter)
        .map(|field| (field.code().to_owned(), field.weight().into()))
        .collect();
    let manifest = json!({
        "format": FORMAT,
        "experts": ordered.len(),
        "records": RECORDS_PER_FILE,
        "buckets": buckets,
        "weights": weights,
        "stop": text::STOP_WORDS,
        "shards": base_layer.keys,
        "split": base_layer.split,
        "delta": {"shards": delta_layer.keys, "split": delta_layer.split},
        "superseded": gaps(superseded),
    });
    files.push((MANIFEST_PATH.to_owned(), to_bytes(&manifest)));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// What a result shows: `[name, latest, status, requires environment variables, snippet]`.
fn record(entry: &Entry<'_>) -> Value {
    json!([
        entry.name,
        entry.latest,
        entry.status.as_str(),
        u8::from(!entry.shown.required_env.is_empty()),
        text::snippet(entry.shown.description, SNIPPET_CHARS),
    ])
}

/// Every term of an expert's name and version with the best field it was found in. The
/// status is not here: it is in [`STATUS_PATH`].
fn expert_terms(name: &str, content: &Content<'_>) -> BTreeMap<String, Field> {
    let (scope, local) = match name.split_once('/') {
        Some((scope, local)) => (Some(scope), local),
        None => (None, name),
    };
    let found = text::terms(local)
        .map(|t| (t, Field::Name))
        .chain(
            scope
                .into_iter()
                .flat_map(text::terms)
                .map(|t| (t, Field::Scope)),
        )
        .chain(
            content
                .categories
                .iter()
                .flat_map(|tag| text::terms(tag))
                .map(|t| (t, Field::Tag)),
        )
        .chain(
            content
                .required_env
                .iter()
                .flat_map(|env| text::terms(env))
                .map(|t| (t, Field::Env)),
        )
        .chain(
            text::terms(content.description)
                .filter(|t| !text::is_stop_word(t))
                .map(|t| (t, Field::Description)),
        );
    let filters = [
        Some(scope.map_or_else(|| "!unscoped".to_owned(), str::to_owned)),
        (!content.required_env.is_empty()).then(|| "!env".to_owned()),
    ];
    let mut terms: BTreeMap<String, Field> = BTreeMap::new();
    for (term, field) in found.chain(filters.into_iter().flatten().map(|t| (t, Field::Filter))) {
        let best = terms.entry(term).or_insert(field);
        *best = (*best).min(field);
    }
    terms
}

/// `{"!deprecated": {"x": [...]}, "!disabled": {"x": [...]}}`, the experts whose shown version
/// has that status, in the shards' format.
fn status_terms(ordered: &[&Entry<'_>]) -> Vec<u8> {
    let mut statuses: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (id, entry) in ordered.iter().enumerate() {
        let term = match entry.status {
            Status::Available => continue,
            Status::Deprecated => "!deprecated",
            Status::Disabled => "!disabled",
        };
        statuses.entry(term).or_default().push(id);
    }
    let lists: serde_json::Map<String, Value> = statuses
        .into_iter()
        .map(|(term, ids)| (term.to_owned(), json!({ Field::Filter.code(): gaps(ids) })))
        .collect();
    to_bytes(&Value::Object(lists))
}

/// Sorted numbers as the first and then the differences, which gzip shrinks well.
fn gaps(ids: Vec<usize>) -> Vec<usize> {
    let mut previous = 0;
    ids.into_iter()
        .map(|id| {
            let gap = id - previous;
            previous = id;
            gap
        })
        .collect()
}

/// A term and its postings as JSON: `{"n": [first, gap, gap, ...], "d": [...]}`.
struct TermPostings {
    term: String,
    json: String,
}

/// Writes the term shards of one layer, `search/<folder>/<key>.json`, into `files`: the terms
/// of `experts` (numbers ascending), keyed by their first `chars` characters, a shard past
/// `max_bytes` split by one more.
fn term_shards(
    experts: &[(usize, BTreeMap<String, Field>)],
    folder: &'static str,
    chars: usize,
    max_bytes: usize,
    files: &mut Vec<(String, Vec<u8>)>,
) -> Shards {
    let mut postings: BTreeMap<&str, BTreeMap<Field, Vec<usize>>> = BTreeMap::new();
    for (id, terms) in experts {
        for (term, field) in terms {
            // Ids come in increasing order, so every list is sorted as it is built.
            postings
                .entry(term)
                .or_default()
                .entry(*field)
                .or_default()
                .push(*id);
        }
    }
    let terms: Vec<TermPostings> = postings
        .into_iter()
        .map(|(term, fields)| {
            let lists: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(field, ids)| (field.code().to_owned(), json!(gaps(ids))))
                .collect();
            let json = serde_json::to_string(&lists).expect("JSON values always serialize");
            TermPostings {
                term: term.to_owned(),
                json,
            }
        })
        .collect();

    let mut shards = Shards {
        folder,
        max_bytes,
        files: Vec::new(),
        keys: Vec::new(),
        split: Vec::new(),
    };
    for (key, group) in group_by_prefix(&terms, chars) {
        shards.add(key, group, chars);
    }
    files.append(&mut shards.files);
    shards
}

/// One layer's shards as they are made: the files, and the keys the manifest lists.
struct Shards {
    folder: &'static str,
    max_bytes: usize,
    files: Vec<(String, Vec<u8>)>,
    keys: Vec<String>,
    split: Vec<String>,
}

impl Shards {
    fn add(&mut self, key: String, group: &[TermPostings], chars: usize) {
        let size: usize = group.iter().map(|t| t.term.len() + t.json.len() + 4).sum();
        if size <= self.max_bytes || group.len() == 1 || chars >= MAX_KEY_CHARS {
            self.write(key, group);
            return;
        }
        self.split.push(key.clone());
        // Terms are sorted, so the one term exactly as long as the key comes first.
        let exact = group
            .iter()
            .take_while(|t| t.term.chars().count() == chars)
            .count();
        if exact > 0 {
            self.write(key, &group[..exact]);
        }
        for (sub_key, sub_group) in group_by_prefix(&group[exact..], chars + 1) {
            self.add(sub_key, sub_group, chars + 1);
        }
    }

    fn write(&mut self, key: String, group: &[TermPostings]) {
        let mut bytes = b"{".to_vec();
        for (i, t) in group.iter().enumerate() {
            if i > 0 {
                bytes.push(b',');
            }
            bytes.extend(serde_json::to_vec(&t.term).expect("strings always serialize"));
            bytes.push(b':');
            bytes.extend(t.json.as_bytes());
        }
        bytes.extend(b"}\n");
        self.files.push((
            format!("search/{}/{}.json", self.folder, text::file_stem(&key)),
            bytes,
        ));
        self.keys.push(key);
    }
}

/// Groups sorted terms by their first `chars` characters (a shorter term keys by itself).
fn group_by_prefix(terms: &[TermPostings], chars: usize) -> Vec<(String, &[TermPostings])> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < terms.len() {
        let key: String = terms[start].term.chars().take(chars).collect();
        let len = terms[start..]
            .iter()
            .take_while(|t| t.term.chars().take(chars).eq(key.chars()))
            .count();
        groups.push((key, &terms[start..start + len]));
        start += len;
    }
    groups
}

/// How many exact-name files there are for `experts` experts: a power of two, so it changes
/// only when the number of experts doubles and a publish otherwise rewrites only the buckets
/// of its names.
fn bucket_count(experts: usize) -> usize {
    experts.div_ceil(NAMES_PER_BUCKET).next_power_of_two()
}

/// Writes the exact-name files into `files`; returns how many there are. Every bucket gets a
/// file, empty or not, so a lookup never meets a missing file.
fn name_buckets(ordered: &[&Entry<'_>], files: &mut Vec<(String, Vec<u8>)>) -> usize {
    let count = bucket_count(ordered.len());
    let mut buckets: Vec<BTreeMap<String, Vec<usize>>> = vec![BTreeMap::new(); count];
    for (id, entry) in ordered.iter().enumerate() {
        let mut keys = vec![text::name_key(entry.name)];
        if let Some((_, local)) = entry.name.split_once('/') {
            keys.push(text::name_key(local));
        }
        for key in keys {
            let bucket = text::fnv1a(&key) as usize % count;
            buckets[bucket].entry(key).or_default().push(id);
        }
    }
    for (n, bucket) in buckets.iter().enumerate() {
        files.push((format!("search/k/{n}.json"), to_bytes(&json!(bucket))));
    }
    count
}

fn to_bytes(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("JSON values always serialize");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An expert in the base, unchanged since.
    fn entry<'a>(name: &'a str, description: &'a str) -> Entry<'a> {
        let shown = Content {
            description,
            categories: &[],
            required_env: &[],
        };
        Entry {
            name,
            latest: Some("1.0.0".to_owned()),
            shown,
            base: Some(shown),
            status: Status::Available,
        }
    }

    fn json_of(files: &[(String, Vec<u8>)], path: &str) -> Value {
        let (_, bytes) = files
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("no {path}"));
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn experts_are_numbered_in_the_order_given_and_listed_once_in_their_best_field() {
        let files = render(&[
            entry("@acme/researcher-9", "Research for acme"),
            entry("tic-tac-toe", "A game of tic-tac-toe"),
            entry("@acme/researcher-10", "Finds sources"),
        ]);
        let records = json_of(&files, "search/r/0.json");
        assert_eq!(records[0][0], "@acme/researcher-9");
        assert_eq!(records[1][0], "tic-tac-toe");
        assert_eq!(records[2][0], "@acme/researcher-10");
        let re = json_of(&files, "search/t/re.json");
        assert_eq!(re["researcher"], json!({"n": [0, 2]}));
        assert_eq!(re["research"], json!({"d": [0]}));
        let ti = json_of(&files, "search/t/ti.json");
        assert_eq!(ti["tic"], json!({"n": [1]}), "name beats description");
        let scope = json_of(&files, "search/t/u-4061.json");
        assert_eq!(scope["@acme"], json!({"x": [0, 2]}));
        let ac = json_of(&files, "search/t/ac.json");
        assert_eq!(ac["acme"], json!({"s": [0, 2]}));
    }

    #[test]
    fn a_crowded_shard_splits_by_one_more_character_and_keeps_its_exact_term() {
        // Every name is a term of its own, about 20 bytes of JSON each.
        let names: Vec<String> = (0..4000)
            .map(|n| format!("re{}{n}", ["a", "b"][n % 2]))
            .collect();
        let mut entries: Vec<Entry<'_>> = names.iter().map(|n| entry(n, "")).collect();
        entries.push(entry("re", ""));
        let files = render(&entries);
        let manifest = json_of(&files, MANIFEST_PATH);
        let split = manifest["split"].as_array().unwrap();
        assert!(split.contains(&json!("re")), "{split:?}");
        let shards = manifest["shards"].as_array().unwrap();
        for key in ["re", "rea", "reb"] {
            assert!(shards.contains(&json!(key)), "{key}");
        }
        let exact = json_of(&files, "search/t/re.json");
        assert_eq!(exact.as_object().unwrap().len(), 1);
        for (path, bytes) in &files {
            assert!(
                !path.starts_with("search/t/") || bytes.len() <= MAX_SHARD_BYTES + 1024,
                "{path} is {} bytes",
                bytes.len()
            );
        }
    }

    #[test]
    fn common_words_keep_every_expert() {
        let names: Vec<String> = (0..2500).map(|n| format!("expert-{n}")).collect();
        let entries: Vec<Entry<'_>> = names.iter().map(|n| entry(n, "meeting notes")).collect();
        let files = render(&entries);
        let shard = json_of(&files, "search/t/me.json");
        let gaps = shard["meeting"]["d"].as_array().unwrap();
        assert_eq!(gaps.len(), 2500);
        assert!(gaps[1..].iter().all(|gap| gap == 1));
    }

    #[test]
    fn filters_are_terms_no_query_word_can_spell() {
        let env = ["GITHUB_TOKEN".to_owned()];
        let categories = ["code-review".to_owned()];
        let mut old = entry("old", "Old one");
        old.status = Status::Deprecated;
        old.shown.required_env = &env;
        old.shown.categories = &categories;
        old.base = Some(old.shown);
        let mut gone = entry("gone", "Gone");
        gone.status = Status::Disabled;
        let files = render(&[old, entry("@a/new", "New one"), gone]);
        let terms = |key: &str| json_of(&files, &format!("search/t/{}.json", text::file_stem(key)));
        assert_eq!(
            json_of(&files, STATUS_PATH),
            json!({"!deprecated": {"x": [0]}, "!disabled": {"x": [2]}}),
            "statuses are in a file of their own, in neither layer"
        );
        assert!(!files.iter().any(|(path, _)| path == "search/t/u-2164.json"));
        assert_eq!(terms("!e")["!env"], json!({"x": [0]}));
        assert_eq!(terms("!u")["!unscoped"], json!({"x": [0, 2]}));
        assert_eq!(terms("gi")["github"], json!({"e": [0]}));
        assert_eq!(terms("co")["code"], json!({"t": [0]}));
        assert_eq!(
            json_of(&files, "search/r/0.json"),
            json!([
                ["old", "1.0.0", "deprecated", 1, "Old one"],
                ["@a/new", "1.0.0", "available", 0, "New one"],
                ["gone", "1.0.0", "disabled", 0, "Gone"]
            ])
        );
    }

    #[test]
    fn exact_names_are_found_by_full_and_local_name() {
        let files = render(&[entry("@acme/tic-tac-toe", "")]);
        let buckets = json_of(&files, MANIFEST_PATH)["buckets"].as_u64().unwrap() as usize;
        for key in ["@acme/tictactoe", "tictactoe"] {
            let bucket = text::fnv1a(key) as usize % buckets;
            let names = json_of(&files, &format!("search/k/{bucket}.json"));
            assert_eq!(names[key], json!([0]), "{key}");
        }
    }

    #[test]
    fn the_bucket_count_changes_only_when_the_experts_double() {
        assert_eq!(bucket_count(0), 1);
        assert_eq!(bucket_count(1), 1);
        assert_eq!(bucket_count(NAMES_PER_BUCKET), 1);
        assert_eq!(bucket_count(NAMES_PER_BUCKET + 1), 2);
        assert_eq!(bucket_count(100_000), 4096);
        assert_eq!(bucket_count(100_001), 4096);
        assert_eq!(bucket_count(131_072), 4096);
        assert_eq!(bucket_count(131_073), 8192);
    }

    #[test]
    fn stop_words_are_not_indexed_from_descriptions() {
        let files = render(&[entry("the-finder", "Find the bugs")]);
        let th = json_of(&files, "search/t/th.json");
        assert_eq!(th["the"], json!({"n": [0]}), "names keep every word");
        let fi = json_of(&files, "search/t/fi.json");
        assert_eq!(fi["finder"], json!({"n": [0]}));
        assert_eq!(fi.get("find"), None);
    }
    #[test]
    fn experts_whose_words_changed_since_the_base_are_in_the_delta_and_superseded() {
        let mut changed = entry("changed", "Drafts invoices");
        changed.base = Some(Content {
            description: "Plans meetings",
            categories: &[],
            required_env: &[],
        });
        let mut newcomer = entry("newcomer", "Drafts minutes");
        newcomer.base = None;
        // A new version with the same words: nothing to supersede.
        let same = entry("same", "Drafts invoices");
        let files = render(&[entry("kept", "Plans meetings"), changed, newcomer, same]);
        let base = |key: &str| json_of(&files, &format!("search/t/{key}.json"));
        let delta = |key: &str| json_of(&files, &format!("search/d/{key}.json"));
        assert_eq!(
            base("pl")["plans"],
            json!({"d": [0, 1]}),
            "as it was at the cut"
        );
        assert_eq!(base("dr")["drafts"], json!({"d": [3]}));
        assert!(!files.iter().any(|(path, _)| path == "search/t/ne.json"));
        assert_eq!(delta("d")["drafts"], json!({"d": [1, 1]}));
        assert_eq!(delta("i")["invoices"], json!({"d": [1]}));
        assert_eq!(delta("n")["newcomer"], json!({"n": [2]}));
        assert_eq!(
            delta("c")["changed"],
            json!({"n": [1]}),
            "every term, not only new ones"
        );
        assert!(!files.iter().any(|(path, _)| path == "search/d/k.json"));
        let manifest = json_of(&files, MANIFEST_PATH);
        assert_eq!(manifest["superseded"], json!([1]));
        assert_eq!(
            manifest["delta"]["shards"],
            json!(["!", "c", "d", "i", "m", "n"])
        );
    }

    #[test]
    fn a_crowded_delta_shard_splits_from_one_character() {
        let names: Vec<String> = (0..400).map(|n| format!("report{n}")).collect();
        let entries: Vec<Entry<'_>> = names
            .iter()
            .map(|n| Entry {
                base: None,
                ..entry(n, "")
            })
            .collect();
        let files = render(&entries);
        let manifest = json_of(&files, MANIFEST_PATH);
        assert_eq!(manifest["shards"], json!([]), "an empty base");
        assert!(
            manifest["delta"]["split"]
                .as_array()
                .unwrap()
                .contains(&json!("r"))
        );
        for (path, bytes) in &files {
            assert!(
                !path.starts_with("search/d/") || bytes.len() <= MAX_DELTA_SHARD_BYTES + 256,
                "{path} is {} bytes",
                bytes.len()
            );
        }
    }
}
