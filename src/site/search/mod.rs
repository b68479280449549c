//! The static search index that the search page queries in the browser.
//!
//! Experts are numbered in publish order ([`publish_order`]): by when the first of their
//! versions was published, then by name. A new expert, published now, gets the next number, so
//! a publish appends to the index rather than renumbering it: the record files change only at
//! the end, and each of the new expert's terms gains one number at the end of its list. A list
//! of numbers is also a list from oldest to newest. The index is four kinds of plain JSON
//! files, each fetched only when a query needs it:
//!
//! - `search/index.json`, the manifest: how many experts, the shard keys, the field weights
//!   and the stop words, so the script and the build never disagree.
//! - `search/t/<key>.json`, term shards: every term starting with the key, each with the
//!   complete, sorted list of experts it was found in, split by the field it was found in
//!   (name, scope, tag, environment variable, description) and delta-encoded. Nothing is ever
//!   cut: a word found in 90,000 experts lists 90,000 (a run of small gaps, which gzip shrinks
//!   to little), so counts are true and several words intersect exactly. Shards are keyed by
//!   the first two characters; a shard past `MAX_SHARD_BYTES` is split by one more character,
//!   recursively, keeping the term exactly as long as its key. The shard that holds a word
//!   also holds every longer term it starts, for prefix matches, and every term one typo away
//!   after its key, for typo matches. Filters are terms too: `@scope` (the experts of a
//!   scope), `!unscoped`, `!deprecated`, `!disabled` (the status of the version shown), `!env`
//!   (some skill requires an environment variable); no query word can spell them.
//! - `search/k/<n>.json`, exact names: bucket `n` maps the [`text::name_key`] of full and local
//!   names hashing to it ([`text::fnv1a`]) to their experts, so `@acme/researcher`,
//!   `researcher` and `tictactoe` find their expert in one small request. The number of
//!   buckets is a power of two that changes only when the number of experts doubles, so a new
//!   expert rewrites the one or two buckets its names hash to.
//! - `search/r/<n>.json`, records: what a result shows (name, latest version, status, whether
//!   it requires environment variables, the start of its description) for experts
//!   `n * RECORDS_PER_FILE` onwards. A page of results fetches only the files its experts are in.
//!
//! Every file depends only on the registry: the same experts give the same bytes.

pub mod text;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::model::Status;
use crate::data::validate::{Expert, Registry};
use crate::site::view;

pub const MANIFEST_PATH: &str = "search/index.json";

/// The format of the manifest and the files it leads to; the script refuses others.
const FORMAT: u64 = 3;
/// A term shard whose JSON would be larger than this is split by one more character. Gzip
/// makes a full shard about a quarter of this or less, so a one-word query stays well inside its
/// budget of 100 KB (bench/SITE-RESULTS.md).
const MAX_SHARD_BYTES: usize = 64 * 1024;
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

/// What the index knows of one expert.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub latest: Option<String>,
    pub description: &'a str,
    /// The status of the version its page shows.
    pub status: Status,
    /// The definition's `tags`: categories such as `coding`, not dist-tags.
    pub categories: Vec<String>,
    pub required_env: &'a [String],
}

/// What the index knows of every expert, in the registry's order. Everything comes from the
/// checked records the build loaded (categories included), so no version file is read again.
pub fn entries(registry: &Registry) -> Vec<Entry<'_>> {
    registry.experts.values().map(entry).collect()
}

fn entry(expert: &Expert) -> Entry<'_> {
    let shown = view::shown_version(expert);
    Entry {
        name: expert.name.as_str(),
        latest: expert.latest.as_ref().map(ToString::to_string),
        description: &shown.record.description,
        status: shown.status,
        categories: shown.record.categories.clone(),
        required_env: &shown.record.required_env,
    }
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
    let (shard_keys, split) = term_shards(&ordered, &mut files);
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
        "shards": shard_keys,
        "split": split,
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
        u8::from(!entry.required_env.is_empty()),
        text::snippet(entry.description, SNIPPET_CHARS),
    ])
}

/// Every term of an expert with the best field it was found in.
fn expert_terms(entry: &Entry<'_>) -> BTreeMap<String, Field> {
    let (scope, local) = match entry.name.split_once('/') {
        Some((scope, local)) => (Some(scope), local),
        None => (None, entry.name),
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
            entry
                .categories
                .iter()
                .flat_map(|tag| text::terms(tag))
                .map(|t| (t, Field::Tag)),
        )
        .chain(
            entry
                .required_env
                .iter()
                .flat_map(|env| text::terms(env))
                .map(|t| (t, Field::Env)),
        )
        .chain(
            text::terms(entry.description)
                .filter(|t| !text::is_stop_word(t))
                .map(|t| (t, Field::Description)),
        );
    let filters = [
        Some(scope.map_or_else(|| "!unscoped".to_owned(), str::to_owned)),
        match entry.status {
            Status::Available => None,
            Status::Deprecated => Some("!deprecated".to_owned()),
            Status::Disabled => Some("!disabled".to_owned()),
        },
        (!entry.required_env.is_empty()).then(|| "!env".to_owned()),
    ];
    let mut terms: BTreeMap<String, Field> = BTreeMap::new();
    for (term, field) in found.chain(filters.into_iter().flatten().map(|t| (t, Field::Filter))) {
        let best = terms.entry(term).or_insert(field);
        *best = (*best).min(field);
    }
    terms
}

/// A term and its postings as JSON: `{"n": [first, gap, gap, ...], "d": [...]}`.
struct TermPostings {
    term: String,
    json: String,
}

/// Writes the term shards into `files`; returns the shard keys and the keys that were split.
fn term_shards(
    ordered: &[&Entry<'_>],
    files: &mut Vec<(String, Vec<u8>)>,
) -> (Vec<String>, Vec<String>) {
    let mut postings: BTreeMap<String, BTreeMap<Field, Vec<usize>>> = BTreeMap::new();
    for (id, entry) in ordered.iter().enumerate() {
        for (term, field) in expert_terms(entry) {
            // Ids come in increasing order, so every list is sorted as it is built.
            postings
                .entry(term)
                .or_default()
                .entry(field)
                .or_default()
                .push(id);
        }
    }
    let terms: Vec<TermPostings> = postings
        .into_iter()
        .map(|(term, fields)| {
            let lists: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(field, ids)| {
                    let mut previous = 0;
                    let gaps: Vec<usize> = ids
                        .into_iter()
                        .map(|id| {
                            let gap = id - previous;
                            previous = id;
                            gap
                        })
                        .collect();
                    (field.code().to_owned(), json!(gaps))
                })
                .collect();
            let json = serde_json::to_string(&lists).expect("JSON values always serialize");
            TermPostings { term, json }
        })
        .collect();

    let mut shards = Shards::default();
    for (key, group) in group_by_prefix(&terms, 2) {
        shards.add(key, group, 2);
    }
    files.append(&mut shards.files);
    (shards.keys, shards.split)
}

#[derive(Default)]
struct Shards {
    files: Vec<(String, Vec<u8>)>,
    keys: Vec<String>,
    split: Vec<String>,
}

impl Shards {
    fn add(&mut self, key: String, group: &[TermPostings], chars: usize) {
        let size: usize = group.iter().map(|t| t.term.len() + t.json.len() + 4).sum();
        if size <= MAX_SHARD_BYTES || group.len() == 1 || chars >= MAX_KEY_CHARS {
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
        self.files
            .push((format!("search/t/{}.json", text::file_stem(&key)), bytes));
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

    fn entry<'a>(name: &'a str, description: &'a str) -> Entry<'a> {
        Entry {
            name,
            latest: Some("1.0.0".to_owned()),
            description,
            status: Status::Available,
            categories: Vec::new(),
            required_env: &[],
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
        let mut old = entry("old", "Old one");
        old.status = Status::Deprecated;
        old.required_env = &env;
        old.categories = vec!["code-review".to_owned()];
        let files = render(&[old, entry("@a/new", "New one")]);
        let terms = |key: &str| json_of(&files, &format!("search/t/{}.json", text::file_stem(key)));
        assert_eq!(terms("!d")["!deprecated"], json!({"x": [0]}));
        assert_eq!(terms("!e")["!env"], json!({"x": [0]}));
        assert_eq!(terms("!u")["!unscoped"], json!({"x": [0]}));
        assert_eq!(terms("gi")["github"], json!({"e": [0]}));
        assert_eq!(terms("co")["code"], json!({"t": [0]}));
        assert_eq!(
            json_of(&files, "search/r/0.json"),
            json!([
                ["old", "1.0.0", "deprecated", 1, "Old one"],
                ["@a/new", "1.0.0", "available", 0, "New one"]
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
}
