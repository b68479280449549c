//! The search index and the listings that work without JavaScript, read from a real build:
//! what the index holds, that its counts are whole, that its bytes do not depend on threads,
//! and that the listings show every expert once, in natural order, in pages of bounded size.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::TestRegistry;
use serde_json::{Value, json};

fn write_expert(registry: &TestRegistry, name: &str, description: &str, extra: &str) {
    registry.file(
        &format!("{name}/1.0.0.toml"),
        format!(
            "[experts.\"{name}\"]\nversion = \"1.0.0\"\ndescription = \"{description}\"\ninstruction = \"Do the work.\"\n{extra}"
        ),
    );
}

fn read_json(out: &Path, path: &str) -> Value {
    let bytes = fs::read(out.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// The index as the search script reads it.
struct Index {
    out: std::path::PathBuf,
    manifest: Value,
}

/// The file name of a shard key, as the script makes it.
fn file_stem(key: &str) -> String {
    if key
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        key.to_owned()
    } else {
        let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
        format!("u-{hex}")
    }
}

/// Numbers from a delta-encoded list.
fn ids_of(gaps: &Value) -> Vec<u64> {
    let mut id = 0;
    gaps.as_array()
        .unwrap()
        .iter()
        .map(|gap| {
            id += gap.as_u64().unwrap();
            id
        })
        .collect()
}

/// A term's lists as numbers, field by field.
fn lists_of(lists: &Value) -> BTreeMap<String, Vec<u64>> {
    lists
        .as_object()
        .unwrap()
        .iter()
        .map(|(field, gaps)| (field.clone(), ids_of(gaps)))
        .collect()
}

impl Index {
    fn open(out: &Path) -> Index {
        Index {
            out: out.to_owned(),
            manifest: read_json(out, "search/index.json"),
        }
    }

    /// The shard of a layer (`t` the base, `d` the delta) that holds `term`, found as the
    /// script finds it; `None` when the layer has no such shard.
    fn layer_shard_for(&self, folder: &str, term: &str) -> Option<Value> {
        let (keys, chars) = match folder {
            "t" => (&self.manifest, 2),
            _ => (&self.manifest["delta"], 1),
        };
        let list = |name: &str| -> Vec<&str> {
            keys[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect()
        };
        let split = list("split");
        let chars_of: Vec<char> = term.chars().collect();
        let mut length = chars.min(chars_of.len());
        let mut key: String = chars_of[..length].iter().collect();
        while split.contains(&key.as_str()) && chars_of.len() > length {
            length += 1;
            key = chars_of[..length].iter().collect();
        }
        if !list("shards").contains(&key.as_str()) {
            return None;
        }
        Some(read_json(
            &self.out,
            &format!("search/{folder}/{}.json", file_stem(&key)),
        ))
    }

    /// The base shard that holds `term`.
    fn shard_for(&self, term: &str) -> Value {
        self.layer_shard_for("t", term)
            .unwrap_or_else(|| panic!("no base shard for {term}"))
    }

    fn superseded(&self) -> Vec<u64> {
        ids_of(&self.manifest["superseded"])
    }

    /// The experts listed under `term`, field by field, as numbers: the base's, less the
    /// experts the delta supersedes, and the delta's, as the script combines them.
    fn postings(&self, term: &str) -> BTreeMap<String, Vec<u64>> {
        if term == "!deprecated" || term == "!disabled" {
            return lists_of(&read_json(&self.out, "search/status.json")[term]);
        }
        let superseded = self.superseded();
        let mut merged: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for folder in ["t", "d"] {
            let Some(lists) = self.layer_shard_for(folder, term).map(|s| s[term].clone()) else {
                continue;
            };
            if lists.is_null() {
                continue;
            }
            for (field, ids) in lists_of(&lists) {
                merged.entry(field).or_default().extend(
                    ids.into_iter()
                        .filter(|id| folder == "d" || !superseded.contains(id)),
                );
            }
        }
        assert!(!merged.is_empty(), "no term {term}");
        for ids in merged.values_mut() {
            ids.sort_unstable();
        }
        merged
    }

    fn record(&self, id: u64) -> Value {
        let per_file = self.manifest["records"].as_u64().unwrap();
        read_json(&self.out, &format!("search/r/{}.json", id / per_file))[(id % per_file) as usize]
            .clone()
    }

    fn names(&self, ids: &[u64]) -> Vec<String> {
        ids.iter()
            .map(|id| self.record(*id)[0].as_str().unwrap().to_owned())
            .collect()
    }
}

#[test]
fn a_word_in_thousands_of_experts_lists_every_one_and_stays_small() {
    let registry = TestRegistry::empty();
    for n in 0..2500 {
        let description = if n % 2 == 0 {
            "Plans the meeting"
        } else {
            "Writes notes"
        };
        write_expert(&registry, &format!("expert-{n}"), description, "");
    }
    registry.run(&["build", "--quiet"]).expect_code(0);
    let out = registry.out();
    let index = Index::open(&out);
    assert_eq!(index.manifest["experts"], 2500);
    let meeting = index.postings("meeting");
    assert_eq!(meeting.keys().collect::<Vec<_>>(), ["d"]);
    assert_eq!(meeting["d"].len(), 1250, "no word is cut short");
    let expert = index.postings("expert");
    assert_eq!(expert["n"].len(), 2500);
    // No publish time is recorded, so all are numbered in natural order: expert-2 before
    // expert-10.
    assert_eq!(
        index.names(&[0, 1, 2, 10]),
        ["expert-0", "expert-1", "expert-2", "expert-10"]
    );
    for entry in fs::read_dir(out.join("search/t")).unwrap() {
        let entry = entry.unwrap();
        let size = entry.metadata().unwrap().len();
        assert!(size < 80 * 1024, "{:?} is {size} bytes", entry.path());
    }
}

/// Records `published` for each version 1.0.0 given.
fn published_at(registry: &TestRegistry, name: &str, times: &[(&str, &str)]) {
    let tables: String = times
        .iter()
        .map(|(version, time)| format!("[versions.\"{version}\"]\npublished = \"{time}\"\n"))
        .collect();
    registry.file(&format!("{name}/expert.toml"), tables);
}

#[test]
fn experts_are_numbered_in_publish_order_untimed_first() {
    let registry = TestRegistry::empty();
    for name in ["zeta", "alpha", "mid", "beta", "legacy-2", "legacy-10"] {
        write_expert(&registry, name, "Does things", "");
    }
    published_at(&registry, "zeta", &[("1.0.0", "2026-01-01T00:00:00Z")]);
    published_at(&registry, "alpha", &[("1.0.0", "2026-03-01T00:00:00Z")]);
    published_at(&registry, "beta", &[("1.0.0", "2026-03-01T00:00:00Z")]);
    // A later version of `mid` was published last, but its first came second.
    published_at(
        &registry,
        "mid",
        &[
            ("1.0.0", "2026-02-01T00:00:00Z"),
            ("1.1.0", "2026-09-01T00:00:00Z"),
        ],
    );
    registry.file(
        "mid/1.1.0.toml",
        "[experts.\"mid\"]\nversion = \"1.1.0\"\ndescription = \"Does things\"\ninstruction = \"Do the work.\"\n",
    );
    registry.run(&["build", "--quiet"]).expect_code(0);
    let index = Index::open(&registry.out());
    assert_eq!(
        index.names(&[0, 1, 2, 3, 4, 5]),
        ["legacy-2", "legacy-10", "zeta", "mid", "alpha", "beta"]
    );
    assert_eq!(index.postings("things")["d"], [0, 1, 2, 3, 4, 5]);
}

#[test]
fn names_scopes_categories_variables_and_statuses_are_indexed() {
    let registry = TestRegistry::empty();
    write_expert(
        &registry,
        "@acme/code-reviewer",
        "Reviews the code of a pull request",
        "tags = [\"coding\", \"code-review\"]\n[experts.\"@acme/code-reviewer\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\nrequiredEnv = [\"GITHUB_TOKEN\"]\n",
    );
    write_expert(&registry, "@acme/old", "Old crawler for the code", "");
    registry.file(
        "@acme/old/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"Broken\"\n",
    );
    write_expert(&registry, "tic-tac-toe", "Plays a game", "");
    write_expert(&registry, "summariser", "Summarise long threads", "");
    registry.file(
        "summariser/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"Use @acme/digest\"\n",
    );
    registry.run(&["build", "--quiet"]).expect_code(0);
    let out = registry.out();
    let index = Index::open(&out);
    // 0 @acme/code-reviewer, 1 @acme/old, 2 summariser, 3 tic-tac-toe
    let ids = |term: &str, field: &str| index.postings(term)[field].clone();
    assert_eq!(ids("code", "n"), [0], "the name is its best field");
    assert_eq!(ids("code", "d"), [1]);
    assert_eq!(ids("coding", "t"), [0]);
    assert_eq!(ids("review", "t"), [0]);
    assert_eq!(ids("github", "e"), [0]);
    assert_eq!(ids("token", "e"), [0]);
    assert_eq!(ids("acme", "s"), [0, 1]);
    assert_eq!(ids("@acme", "x"), [0, 1]);
    assert_eq!(ids("!unscoped", "x"), [2, 3]);
    assert_eq!(ids("!env", "x"), [0]);
    assert_eq!(ids("!disabled", "x"), [1]);
    assert_eq!(ids("!deprecated", "x"), [2]);
    assert_eq!(ids("summarise", "d"), [2]);
    assert!(
        index.shard_for("the").get("the").is_none(),
        "stop words are not indexed from descriptions"
    );
    assert_eq!(
        index.record(0),
        json!([
            "@acme/code-reviewer",
            "1.0.0",
            "available",
            1,
            "Reviews the code of a pull request"
        ])
    );
    assert_eq!(index.record(1)[2], "disabled");
    assert_eq!(index.record(2)[2], "deprecated");
    assert_eq!(
        index.manifest["weights"],
        json!({"n": 8, "s": 5, "t": 4, "e": 3, "d": 1})
    );
    assert!(
        index.manifest["stop"]
            .as_array()
            .unwrap()
            .contains(&json!("for"))
    );

    // Exact names, full or local, with or without separators, find their expert.
    let buckets = index.manifest["buckets"].as_u64().unwrap();
    let fnv1a = |text: &str| {
        text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        })
    };
    for (key, id) in [
        ("tictactoe", 3),
        ("@acme/codereviewer", 0),
        ("codereviewer", 0),
    ] {
        let bucket = u64::from(fnv1a(key)) % buckets;
        let names = read_json(&out, &format!("search/k/{bucket}.json"));
        assert_eq!(names[key], json!([id]), "{key}");
    }
}

/// Every file below `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn the_index_and_listings_are_the_same_bytes_whatever_the_thread_count() {
    let registry = TestRegistry::empty();
    for n in 0..300 {
        let name = if n % 3 == 0 {
            format!("tool-{n}")
        } else {
            format!("@org-{}/agent-{n}", n % 17)
        };
        write_expert(
            &registry,
            &name,
            &format!("Handles case {n} of the queue"),
            "tags = [\"ops\"]\n",
        );
    }
    let mut trees = Vec::new();
    for threads in ["1", "3"] {
        let out = format!("out-{threads}");
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
            .args(["build", "--quiet", "--no-cache", "--out", &out])
            .current_dir(registry.root())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(run.status.success(), "{run:?}");
        let files = tree(&registry.root().join(&out));
        let site: BTreeMap<String, Vec<u8>> = files
            .into_iter()
            .filter(|(path, _)| path.starts_with("search/") || path.starts_with("browse/"))
            .collect();
        assert!(site.len() > 20);
        trees.push(site);
    }
    assert!(trees[0] == trees[1], "the bytes depend on the thread count");
}

#[test]
fn listings_show_every_expert_once_in_natural_order_and_bounded_pages() {
    let registry = TestRegistry::empty();
    for n in 0..250 {
        write_expert(&registry, &format!("expert-{n}"), "Does a thing", "");
    }
    for n in [2, 10, 1] {
        write_expert(&registry, &format!("@org-{n}/alpha"), "Does a thing", "");
    }
    write_expert(&registry, "9lives", "Does a thing", "");
    registry.run(&["build", "--quiet"]).expect_code(0);
    let out = registry.out();
    let page = |path: &str| fs::read_to_string(out.join(path)).unwrap();
    let names = |html: &str| -> Vec<String> {
        html.split("<h2 class=\"expert-card-title\"><a href=\"")
            .skip(1)
            .map(|rest| {
                let text = &rest[rest.find("\">").unwrap() + 2..];
                text[..text.find("</a>").unwrap()].to_owned()
            })
            .collect()
    };

    let index = page("browse/index.html");
    for link in [
        "href=\"../browse/experts-0-9.html\">0-9</a> <span class=\"count\">1</span>",
        "href=\"../browse/experts-a.html\">A</a> <span class=\"count\">3</span>",
        "href=\"../browse/experts-e.html\">E</a> <span class=\"count\">250</span>",
        "href=\"../browse/scopes-o.html\">O</a> <span class=\"count\">3</span>",
        "<a href=\"../scopes/unscoped/index.html\">251 experts without a scope</a>",
    ] {
        assert!(index.contains(link), "{link}\n{index}");
    }

    // The pages of E, followed by their "Next" links: 100 at most each, every expert once,
    // expert-2 before expert-10; a later page is named after the expert it begins with.
    let next = |html: &str| -> Option<String> {
        let at = html.find("\" rel=\"next\"")?;
        let start = html[..at].rfind("href=\"../").unwrap() + "href=\"../".len();
        Some(html[start..at].to_owned())
    };
    let mut path = "browse/experts-e.html".to_owned();
    let mut listed = Vec::new();
    let mut pages = 0;
    loop {
        let html = page(&path);
        let on_page = names(&html);
        assert!(!on_page.is_empty() && on_page.len() <= 100, "{path}");
        if pages > 0 {
            assert_eq!(path, format!("browse/experts-e-from-{}.html", on_page[0]));
        }
        assert!(html.contains(&format!(
            "{} to {}, in name order",
            on_page[0],
            on_page.last().unwrap()
        )));
        assert!(
            !html.contains("<span class=\"count\">"),
            "no counts that every publish changes"
        );
        listed.extend(on_page);
        pages += 1;
        match next(&html) {
            Some(following) => {
                assert!(page(&following).contains(&format!("<a href=\"../{path}\" rel=\"prev\">")));
                path = following;
            }
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    // Every first character has its page, even with nothing to list, so a first name starting
    // with it changes only that page.
    assert!(page("browse/experts-q.html").contains("<p id=\"listing-count\">None yet.</p>"));
    assert!(page("browse/scopes-q.html").contains("<p id=\"listing-count\">None yet.</p>"));
    let expected: Vec<String> = (0..250).map(|n| format!("expert-{n}")).collect();
    assert_eq!(listed, expected);

    // Experts are listed by their name without the scope.
    assert_eq!(
        names(&page("browse/experts-a.html")),
        ["@org-1/alpha", "@org-2/alpha", "@org-10/alpha"]
    );
    assert_eq!(names(&page("browse/experts-0-9.html")), ["9lives"]);
    let scopes = page("browse/scopes-o.html");
    let order: Vec<usize> = ["@org-1<", "@org-2<", "@org-10<"]
        .iter()
        .map(|s| scopes.find(s).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "natural order");

    // The search page links to the listings instead of listing every scope, and its form
    // works as a plain GET form.
    let search = page("search.html");
    assert!(!search.contains("@org-10"));
    assert!(search.contains("<noscript><p class=\"notice\">Search runs in your browser and needs JavaScript. Without it, <a href=\"browse/index.html\">browse every expert by name and every scope</a>.</p></noscript>"));
    assert!(search.contains("<a href=\"browse/experts-e.html\">E</a>"));
    assert!(search.contains("<a href=\"browse/index.html#scopes\">scopes by name</a>"));
    assert!(search.contains("action=\"search.html\" method=\"get\""));
    let manifest = fs::read_to_string(out.join("search/index.json")).unwrap();
    let in_page = manifest.trim_end().replace('"', "&quot;");
    assert!(
        search.contains(&format!("data-index=\"{in_page}\"")),
        "the page carries the manifest"
    );
    for field in ["q", "scope", "status", "env", "sort"] {
        assert!(search.contains(&format!("name=\"{field}\"")), "{field}");
    }
}

/// What a second build changed below `out`, on the website only: files added or rewritten.
/// Asserts a publish that changed the site files `changed` rewrote no base term shard and one
/// to ten delta shards, and returns those.
fn delta_shards_only(changed: &[String]) -> Vec<&String> {
    let under = |prefix: &str| -> Vec<&String> {
        changed.iter().filter(|p| p.starts_with(prefix)).collect()
    };
    assert_eq!(
        under("search/t/"),
        Vec::<&String>::new(),
        "the base is as it was"
    );
    let delta = under("search/d/");
    assert!(!delta.is_empty() && delta.len() <= 10, "{delta:?}");
    delta
}

fn site_changes(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(path, _)| {
            !path.starts_with("v1/")
                && !path.starts_with("api/")
                && !path.starts_with(".perstack-build/")
                && path.as_str() != "_headers"
        })
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path.clone())
        .collect()
}

#[test]
fn a_new_expert_rewrites_a_bounded_set_of_site_files() {
    // Enough experts that every listing has many pages and the index many files: 3,000, two
    // in three in seven scopes, each published a minute after the one before.
    let registry = TestRegistry::empty();
    let words = ["meeting", "invoice", "research", "notes", "email", "budget"];
    for n in 0..3000 {
        let name = if n % 3 == 0 {
            format!("expert-{n}")
        } else {
            format!("@org-{}/expert-{n}", n % 7)
        };
        let description = format!("Handles {} and {}", words[n % 6], words[n / 6 % 6]);
        write_expert(&registry, &name, &description, "");
        let time = format!(
            "2026-01-{:02}T{:02}:{:02}:00Z",
            1 + n / 1440,
            n / 60 % 24,
            n % 60
        );
        published_at(&registry, &name, &[("1.0.0", &time)]);
    }
    registry.run(&["build", "--quiet"]).expect_code(0);
    let out = registry.out();
    let before = tree(&out);

    // A newcomer whose name sorts in the middle of its listings, published after all others.
    let newcomer = "@org-3/expert-1500-newcomer";
    write_expert(&registry, newcomer, "Handles meeting and budget", "");
    published_at(&registry, newcomer, &[("1.0.0", "2026-02-01T00:00:00Z")]);
    registry.run(&["build", "--quiet"]).expect_code(0);
    let changed = site_changes(&before, &tree(&out));
    let under = |prefix: &str| -> Vec<&String> {
        changed.iter().filter(|p| p.starts_with(prefix)).collect()
    };

    // The newcomer's number is the next one: only the last record file changes.
    let manifest = read_json(&out, "search/index.json");
    let last_records = format!(
        "search/r/{}.json",
        3000 / manifest["records"].as_u64().unwrap()
    );
    assert_eq!(under("search/r/"), [&last_records]);
    assert!(under("search/k/").len() <= 2, "{:?}", under("search/k/"));
    // Its terms (name, scope, description words and filters) are in the delta, the experts
    // published since the cut (publish 2,048 of 3,000): the base is not touched, and the delta
    // shards it rewrites are small.
    let after = tree(&out);
    let bytes =
        |paths: &[&String]| -> usize { paths.iter().map(|p| after[p.as_str()].len()).sum() };
    let delta = delta_shards_only(&changed);
    assert!(
        bytes(&delta) <= 10 * 4096 + 2048,
        "{} bytes of delta shards: {delta:?}",
        bytes(&delta)
    );
    let index = Index::open(&out);
    assert_eq!(index.postings("newcomer")["n"], [3000]);
    assert_eq!(index.postings("budget")["d"].last(), Some(&3000));
    // Listings: the page it lands on (and rarely its neighbours) in each it appears in.
    let expert_pages = under("browse/experts-e");
    assert!(
        !expert_pages.is_empty() && expert_pages.len() <= 2,
        "{expert_pages:?}"
    );
    assert!(
        under("browse/scopes-").len() <= 1,
        "the row that counts @org-3"
    );
    let scope_pages = under("scopes/@org-3/");
    assert!(
        !scope_pages.is_empty() && scope_pages.len() <= 2,
        "{scope_pages:?}"
    );
    assert!(under("scopes/").len() == scope_pages.len());
    // And the files every publish changes: its own pages, the counts, the recent list.
    let others: Vec<&String> = changed
        .iter()
        .filter(|p| {
            ![
                "search/r/",
                "search/k/",
                "search/t/",
                "search/d/",
                "browse/experts-e",
                "browse/scopes-",
                "scopes/",
            ]
            .iter()
            .any(|prefix| p.starts_with(prefix))
        })
        .collect();
    assert_eq!(
        others,
        [
            "browse/index.html",
            &format!("experts/{newcomer}/1.0.0.html"),
            &format!("experts/{newcomer}/index.html"),
            "index.html",
            "recent.json",
            "search.html",
            "search/index.json",
        ]
    );
    let search_bytes = bytes(&under("search/"));
    assert!(
        search_bytes < 64 * 1024,
        "{search_bytes} bytes of search files"
    );

    // A new version of an existing expert with other words: the expert moves to the delta and
    // the base keeps its old postings, superseded; still no base shard is rewritten.
    let before = after;
    let existing = "@org-1/expert-1";
    registry.file(
        &format!("{existing}/1.1.0.toml"),
        format!(
            "[experts.\"{existing}\"]\nversion = \"1.1.0\"\ndescription = \"Handles payroll\"\ninstruction = \"Do the work.\"\n"
        ),
    );
    published_at(
        &registry,
        existing,
        &[
            ("1.0.0", "2026-01-01T00:01:00Z"),
            ("1.1.0", "2026-02-02T00:00:00Z"),
        ],
    );
    registry.run(&["build", "--quiet"]).expect_code(0);
    let after = tree(&out);
    let changed = site_changes(&before, &after);
    let under = |prefix: &str| -> Vec<&String> {
        changed.iter().filter(|p| p.starts_with(prefix)).collect()
    };
    let bytes =
        |paths: &[&String]| -> usize { paths.iter().map(|p| after[p.as_str()].len()).sum() };
    delta_shards_only(&changed);
    assert_eq!(under("search/r/"), ["search/r/0.json"]);
    let search_bytes = bytes(&under("search/"));
    assert!(
        search_bytes < 64 * 1024,
        "{search_bytes} bytes of search files"
    );
    let index = Index::open(&out);
    assert_eq!(index.superseded(), [1]);
    assert_eq!(index.postings("payroll")["d"], [1]);
    assert!(
        !index.postings("meeting")["d"].contains(&1),
        "its old words are gone"
    );
    assert!(
        ids_of(&index.shard_for("meeting")["meeting"]["d"]).contains(&1),
        "the base still lists it, superseded"
    );
}

/// Every term of both layers with the experts it lists, as the script combines them: the
/// base's postings less the superseded experts, and the delta's.
fn every_term(out: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u64>>> {
    let index = Index::open(out);
    let superseded = index.superseded();
    let mut terms: BTreeMap<String, BTreeMap<String, Vec<u64>>> = BTreeMap::new();
    for (folder, keys) in [
        ("t", &index.manifest["shards"]),
        ("d", &index.manifest["delta"]["shards"]),
    ] {
        // The shards the manifest lists: a build leaves the files of earlier builds in place
        // (the website manifest lists what belongs to this one).
        for key in keys.as_array().unwrap() {
            let key = file_stem(key.as_str().unwrap());
            let shard = read_json(out, &format!("search/{folder}/{key}.json"));
            for (term, lists) in shard.as_object().unwrap() {
                for (field, ids) in lists_of(lists) {
                    terms
                        .entry(term.clone())
                        .or_default()
                        .entry(field)
                        .or_default()
                        .extend(
                            ids.into_iter()
                                .filter(|id| folder == "d" || !superseded.contains(id)),
                        );
                }
            }
        }
    }
    for lists in terms.values_mut() {
        lists.retain(|_, ids| !ids.is_empty());
        for ids in lists.values_mut() {
            ids.sort_unstable();
        }
    }
    terms.retain(|_, lists| !lists.is_empty());
    terms
}

#[test]
fn the_delta_finds_new_words_hides_superseded_ones_and_a_base_rebuild_changes_no_result() {
    // 40 experts with no recorded time, in the base from the start, and 1,022 published a
    // minute apart: fewer than the 1,024 publishes that move the cut, so they are in the delta.
    let registry = TestRegistry::empty();
    let words = ["meeting", "invoice", "research", "notes", "email", "budget"];
    let description = |n: usize| format!("Handles {} and {}", words[n % 6], words[n / 6 % 6]);
    for n in 0..40 {
        write_expert(&registry, &format!("legacy-{n}"), &description(n), "");
    }
    for n in 0..1022 {
        let name = format!("@org-{}/agent-{n}", n % 5);
        write_expert(&registry, &name, &description(n + 3), "tags = [\"ops\"]\n");
        let time = format!("2026-01-01T{:02}:{:02}:00Z", n / 60, n % 60);
        published_at(&registry, &name, &[("1.0.0", &time)]);
    }
    // A new version of a legacy expert with other words: publish 1,023.
    registry.file(
        "legacy-7/1.1.0.toml",
        "[experts.\"legacy-7\"]\nversion = \"1.1.0\"\ndescription = \"Handles payroll\"\ninstruction = \"Do the work.\"\n",
    );
    published_at(&registry, "legacy-7", &[("1.1.0", "2026-01-02T00:00:00Z")]);
    registry.run(&["build", "--quiet"]).expect_code(0);
    let out = registry.out();
    let index = Index::open(&out);
    // Numbers: legacy-0 to legacy-39 (natural order), then the agents in publish order.
    assert_eq!(
        index.names(&[7, 40, 1061]),
        ["legacy-7", "@org-0/agent-0", "@org-1/agent-1021"]
    );
    assert_eq!(index.superseded(), [7]);

    // Found in the delta only: the agents, and legacy-7's new words.
    assert!(index.layer_shard_for("t", "agent").is_none());
    assert_eq!(
        index.postings("agent")["n"],
        (40..1062).collect::<Vec<u64>>()
    );
    assert_eq!(index.postings("@org-1")["x"].len(), 205);
    assert!(
        index
            .layer_shard_for("t", "payroll")
            .is_none_or(|shard| shard.get("payroll").is_none())
    );
    assert_eq!(index.postings("payroll")["d"], [7]);
    // legacy-7's old words are still in the base, superseded: no query finds it by them.
    let old_word = words[7 % 6];
    let base_lists = ids_of(&index.shard_for(old_word)[old_word]["d"]);
    assert!(base_lists.contains(&7), "{base_lists:?}");
    assert!(!index.postings(old_word)["d"].contains(&7));
    // Every term, looked up as the script looks it up, lists what both layers hold.
    let before = every_term(&out);
    for (term, lists) in &before {
        assert_eq!(&index.postings(term), lists, "{term}");
    }

    // Publish 1,024, a new expert, moves the cut past every publish: the base is rebuilt
    // with everything and the delta empties. Every term lists what it listed, plus the
    // newcomer's.
    write_expert(
        &registry,
        "@org-2/newcomer",
        "Handles meeting and notes",
        "",
    );
    published_at(
        &registry,
        "@org-2/newcomer",
        &[("1.0.0", "2026-01-03T00:00:00Z")],
    );
    registry.run(&["build", "--quiet"]).expect_code(0);
    let index = Index::open(&out);
    assert_eq!(index.manifest["delta"]["shards"], json!([]));
    assert_eq!(index.superseded(), Vec::<u64>::new());
    let mut after = every_term(&out);
    for (term, lists) in &after {
        assert_eq!(&index.postings(term), lists, "{term}");
    }
    for lists in after.values_mut() {
        for ids in lists.values_mut() {
            ids.retain(|id| *id != 1062);
        }
        lists.retain(|_, ids| !ids.is_empty());
    }
    after.retain(|_, lists| !lists.is_empty());
    assert_eq!(after, before, "a base rebuild changes no result");
    assert_eq!(index.postings("newcomer")["n"], [1062]);
    assert_eq!(index.postings("payroll")["d"], [7]);
    assert!(!index.postings(old_word)["d"].contains(&7));
}
