//! The static search index that the search page queries in the browser.
//!
//! Every expert's name, scope and description is split into terms (lowercase runs of letters
//! and digits). Terms are grouped into shards by their first two characters, so a query fetches
//! only the shard of each of its words. A shard that would hold too many experts is split by
//! one more character, recursively, so even with 100k experts the first results arrive after
//! fetching one small manifest and one small shard. A split shard keeps the terms exactly as
//! long as its key, for queries that are that short.
//!
//! Each shard carries the name, latest version and a short description of the experts it
//! mentions, so results show without further requests. The manifest and shards are plain JSON
//! at stable paths; their bytes depend only on the registry.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

pub const MANIFEST_PATH: &str = "search/index.json";

/// A shard holding more experts than this is split by one more character.
const MAX_SHARD_EXPERTS: usize = 1000;
/// How long a key may grow; a term this long is specific enough to keep its shard whole.
const MAX_KEY_CHARS: usize = 8;
/// A term matching more experts than this keeps only the best-ranked ones, so one very common
/// word cannot make its shard huge.
const MAX_POSTINGS: usize = 1000;
/// Descriptions in results are cut to this many characters.
const SNIPPET_CHARS: usize = 160;

/// How much a term counts for depending on where it was found.
const NAME_WEIGHT: u8 = 4;
const SCOPE_WEIGHT: u8 = 3;
const DESCRIPTION_WEIGHT: u8 = 1;

/// Words too common in descriptions to help find anything.
const STOP_WORDS: &[&str] = &[
    "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "its",
    "of", "on", "or", "the", "that", "this", "to", "with", "you", "your",
];

/// What the index knows of one expert.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub latest: Option<String>,
    pub description: &'a str,
}

/// Splits text into search terms: lowercase runs of letters and digits, at least two long.
/// The search script splits queries the same way.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().nth(1).is_some())
        .map(str::to_lowercase)
}

/// Renders the manifest and every shard: (relative path, bytes), in path order.
pub fn render(entries: &[Entry<'_>]) -> Vec<(String, Vec<u8>)> {
    let mut postings: BTreeMap<String, BTreeMap<usize, u8>> = BTreeMap::new();
    for (id, entry) in entries.iter().enumerate() {
        let (scope, local) = match entry.name.split_once('/') {
            Some((scope, local)) => (scope, local),
            None => ("", entry.name),
        };
        let found = terms(local)
            .map(|t| (t, NAME_WEIGHT))
            .chain(terms(scope).map(|t| (t, SCOPE_WEIGHT)))
            .chain(
                terms(entry.description)
                    .filter(|t| !STOP_WORDS.contains(&t.as_str()))
                    .map(|t| (t, DESCRIPTION_WEIGHT)),
            );
        for (term, weight) in found {
            let best = postings.entry(term).or_default().entry(id).or_insert(0);
            *best = (*best).max(weight);
        }
    }
    let postings: Vec<(String, Vec<(usize, u8)>)> = postings
        .into_iter()
        .map(|(term, experts)| {
            let mut experts: Vec<(usize, u8)> = experts.into_iter().collect();
            if experts.len() > MAX_POSTINGS {
                // Best weight first, then the order of names, which entries are sorted by.
                experts.sort_by_key(|&(id, weight)| (std::cmp::Reverse(weight), id));
                experts.truncate(MAX_POSTINGS);
                experts.sort_unstable();
            }
            (term, experts)
        })
        .collect();

    let mut shards = Shards::default();
    for (key, group) in group_by_prefix(&postings, 2) {
        shards.add(key, group, 2, entries);
    }
    let mut files = shards.files;
    let manifest = json!({
        "format": 1,
        "experts": entries.len(),
        "shards": shards.manifest,
        "split": shards.split,
    });
    files.push((MANIFEST_PATH.to_owned(), to_bytes(&manifest)));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

type Postings = (String, Vec<(usize, u8)>);

#[derive(Default)]
struct Shards {
    files: Vec<(String, Vec<u8>)>,
    manifest: Map<String, Value>,
    split: Vec<String>,
}

impl Shards {
    fn add(&mut self, key: String, group: &[Postings], chars: usize, entries: &[Entry<'_>]) {
        let experts: BTreeSet<usize> = group
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(id, _)| *id))
            .collect();
        if experts.len() <= MAX_SHARD_EXPERTS || chars >= MAX_KEY_CHARS {
            self.write(key, group, entries);
            return;
        }
        self.split.push(key.clone());
        let (exact, longer): (Vec<&Postings>, Vec<&Postings>) = group
            .iter()
            .partition(|(term, _)| term.chars().count() == chars);
        if !exact.is_empty() {
            let exact: Vec<Postings> = exact.into_iter().cloned().collect();
            self.write(key, &exact, entries);
        }
        let longer: Vec<Postings> = longer.into_iter().cloned().collect();
        for (sub_key, sub_group) in group_by_prefix(&longer, chars + 1) {
            self.add(sub_key, sub_group, chars + 1, entries);
        }
    }

    fn write(&mut self, key: String, group: &[Postings], entries: &[Entry<'_>]) {
        let ids: BTreeSet<usize> = group
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(id, _)| *id))
            .collect();
        let local: BTreeMap<usize, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let experts: Vec<Value> = ids
            .iter()
            .map(|&id| {
                let entry = &entries[id];
                json!([entry.name, entry.latest, snippet(entry.description)])
            })
            .collect();
        let mut terms = Map::new();
        for (term, postings) in group {
            let flat: Vec<usize> = postings
                .iter()
                .flat_map(|&(id, weight)| [local[&id], usize::from(weight)])
                .collect();
            terms.insert(term.clone(), json!(flat));
        }
        let path = format!("search/{}.json", file_stem(&key));
        self.files.push((
            path.clone(),
            to_bytes(&json!({ "experts": experts, "terms": terms })),
        ));
        self.manifest.insert(key, path.into());
    }
}

/// Groups sorted postings by the first `chars` characters of their terms (a shorter term keys
/// by itself).
fn group_by_prefix(postings: &[Postings], chars: usize) -> Vec<(String, &[Postings])> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < postings.len() {
        let key: String = postings[start].0.chars().take(chars).collect();
        let len = postings[start..]
            .iter()
            .take_while(|(term, _)| term.chars().take(chars).eq(key.chars()))
            .count();
        groups.push((key, &postings[start..start + len]));
        start += len;
    }
    groups
}

/// A file name for a key: the key itself when it is lowercase ASCII letters and digits,
/// otherwise `u-` and the hex of its UTF-8 bytes, which cannot collide with a plain key because
/// plain keys hold no `-`.
fn file_stem(key: &str) -> String {
    if key
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        key.to_owned()
    } else {
        format!("u-{}", data_encoding::HEXLOWER.encode(key.as_bytes()))
    }
}

fn snippet(description: &str) -> String {
    match description.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", description[..cut].trim_end()),
        None => description.to_owned(),
    }
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
        }
    }

    fn json_of(files: &[(String, Vec<u8>)], path: &str) -> Value {
        let (_, bytes) = files.iter().find(|(p, _)| p == path).unwrap();
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn terms_are_lowercase_words_of_two_or_more_characters() {
        let found: Vec<String> = terms("@Acme/web-searcher: finds a Café, x2").collect();
        assert_eq!(found, ["acme", "web", "searcher", "finds", "café", "x2"]);
    }

    #[test]
    fn shards_by_two_characters_with_weights_by_field() {
        let files = render(&[
            entry("@acme/researcher", "Finds sources"),
            entry("tic-tac-toe", "A game for research breaks"),
        ]);
        let manifest = json_of(&files, MANIFEST_PATH);
        assert_eq!(manifest["shards"]["re"], "search/re.json");
        assert_eq!(manifest["split"], json!([]));
        let re = json_of(&files, "search/re.json");
        assert_eq!(
            re["experts"],
            json!([
                ["@acme/researcher", "1.0.0", "Finds sources"],
                ["tic-tac-toe", "1.0.0", "A game for research breaks"]
            ])
        );
        assert_eq!(re["terms"]["researcher"], json!([0, NAME_WEIGHT]));
        assert_eq!(re["terms"]["research"], json!([1, DESCRIPTION_WEIGHT]));
        let ac = json_of(&files, "search/ac.json");
        assert_eq!(ac["terms"]["acme"], json!([0, SCOPE_WEIGHT]));
        assert!(
            files.iter().all(|(p, _)| p != "search/fo.json"),
            "stop words are not indexed"
        );
    }

    #[test]
    fn a_crowded_shard_splits_by_one_more_character() {
        let names: Vec<String> = (0..MAX_SHARD_EXPERTS + 1)
            .map(|n| format!("re{}", ["a", "b"][n % 2]))
            .enumerate()
            .map(|(n, stem)| format!("{stem}-{n}"))
            .collect();
        let mut entries: Vec<Entry<'_>> = names.iter().map(|n| entry(n, "")).collect();
        entries.push(entry("re", ""));
        let files = render(&entries);
        let manifest = json_of(&files, MANIFEST_PATH);
        assert_eq!(manifest["split"], json!(["re"]));
        assert_eq!(manifest["shards"]["re"], "search/re.json");
        assert_eq!(manifest["shards"]["rea"], "search/rea.json");
        assert_eq!(manifest["shards"]["reb"], "search/reb.json");
        let exact = json_of(&files, "search/re.json");
        assert_eq!(exact["terms"].as_object().unwrap().len(), 1);
    }

    #[test]
    fn non_ascii_keys_get_hex_file_names_and_snippets_are_cut() {
        let long = "é".repeat(SNIPPET_CHARS + 5);
        let files = render(&[entry("x", &long)]);
        let manifest = json_of(&files, MANIFEST_PATH);
        assert_eq!(manifest["shards"]["éé"], "search/u-c3a9c3a9.json");
        let shard = json_of(&files, "search/u-c3a9c3a9.json");
        let shown = shard["experts"][0][2].as_str().unwrap();
        assert_eq!(shown.chars().count(), SNIPPET_CHARS + 1);
    }
}
