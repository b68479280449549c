//! The website as `build` renders it, read as files: which pages exist, that every link
//! resolves relatively, that untrusted text is escaped, what an expert page shows, and that
//! pages are rewritten only when what they show changed. tests/site_browser.rs walks the same
//! site in Chromium.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{TestRegistry, tree};

fn page(out: &Path, relative: &str) -> String {
    fs::read_to_string(out.join(relative)).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

/// The website's pages: every `.html` file but the Perstack API documents, which are JSON (a
/// bare name's document is its directory's `index.html`, so every static host serves it).
fn html_pages(files: &BTreeMap<String, Vec<u8>>) -> Vec<(&String, String)> {
    files
        .iter()
        .filter(|(path, _)| path.ends_with(".html") && !path.starts_with("api/"))
        .map(|(path, bytes)| (path, String::from_utf8(bytes.clone()).unwrap()))
        .collect()
}

/// Every value of `attribute="..."` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

fn build_sample(out: &Path) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-data");
    common::run_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "build",
            "--quiet",
            "--data",
            sample.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
}

#[test]
fn the_sample_registry_has_a_page_per_expert_and_scope_and_every_link_resolves() {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("dist");
    build_sample(&out);
    let files = tree(&out);
    for name in [
        "@acme/researcher",
        "@mailcraft/email-assistant",
        "tic-tac-toe",
    ] {
        assert!(
            files.contains_key(&format!("experts/{name}/index.html")),
            "{name}"
        );
    }
    for scope in ["@acme", "@mailcraft", "@perstack", "unscoped"] {
        assert!(files.contains_key(&format!("scopes/{scope}/index.html")));
    }
    for fixed in [
        "index.html",
        "search.html",
        "api.html",
        "404.html",
        "recent.json",
    ] {
        assert!(files.contains_key(fixed), "{fixed}");
    }

    let pages = html_pages(&files);
    assert_eq!(pages.len(), 16 + 4 + 4);
    for (path, html) in &pages {
        let dir = Path::new(path.as_str()).parent().unwrap();
        let links = attribute_values(html, "href")
            .into_iter()
            .chain(attribute_values(html, "src"))
            .chain(attribute_values(html, "data-manifest"));
        for link in links {
            assert!(
                !link.contains("//") && !link.starts_with('/'),
                "{path}: {link} is not relative"
            );
            let (target, fragment) = link.split_once('#').unwrap_or((link, ""));
            let target = target.split('?').next().unwrap();
            let resolved = if target.is_empty() {
                path.to_string()
            } else {
                normalize(&dir.join(target))
            };
            let Some(bytes) = files.get(&resolved) else {
                panic!("{path}: {link} leads to {resolved}, which does not exist");
            };
            if !fragment.is_empty() {
                let id = format!("id=\"{fragment}\"");
                assert!(
                    String::from_utf8_lossy(bytes).contains(&id),
                    "{path}: {link} names no element of {resolved}"
                );
            }
        }
    }
}

/// Resolves `..` without touching the file system.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.iter().map(|p| p.to_str().unwrap()) {
        match part {
            ".." => {
                parts.pop();
            }
            "." => {}
            part => parts.push(part),
        }
    }
    parts.join("/")
}

#[test]
fn pages_are_accessible_and_hold_no_inline_code() {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("dist");
    build_sample(&out);
    for (path, html) in html_pages(&tree(&out)) {
        assert!(
            html.starts_with("<!doctype html>\n<html lang=\"en\">"),
            "{path}"
        );
        for landmark in ["<header", "<nav", "<main", "<footer"] {
            assert!(html.contains(landmark), "{path} has no {landmark}>");
        }
        let levels: Vec<u8> = html
            .match_indices("<h")
            .filter_map(|(at, _)| {
                let level = html.as_bytes()[at + 2];
                let after = html.as_bytes()[at + 3];
                (level.is_ascii_digit() && (after == b'>' || after == b' ')).then_some(level - b'0')
            })
            .collect();
        assert_eq!(
            levels.iter().filter(|l| **l == 1).count(),
            1,
            "{path}: one h1"
        );
        assert_eq!(levels[0], 1, "{path}: starts with h1");
        for pair in levels.windows(2) {
            assert!(pair[1] <= pair[0] + 1, "{path}: headings skip {pair:?}");
        }
        for forbidden in [
            "<script>",
            "<style",
            " style=\"",
            " onclick",
            " onload",
            " onerror",
        ] {
            assert!(!html.contains(forbidden), "{path} holds {forbidden}");
        }
        for script in html.match_indices("<script").map(|(at, _)| &html[at..]) {
            assert!(
                script.starts_with("<script src=\""),
                "{path}: inline script"
            );
        }
        assert!(
            html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'\">"),
            "{path}: no policy"
        );
    }
    let search = page(&out, "search.html");
    assert!(search.contains("<label for=\"q\">Search experts</label>"));
    assert!(search.contains(
        "<form class=\"search-form\" role=\"search\" action=\"search.html\" method=\"get\">"
    ));
}

#[test]
fn untrusted_text_in_a_definition_is_shown_as_text() {
    let registry = TestRegistry::empty();
    registry.file(
        "@evil/xss/1.0.0.toml",
        "[experts.\"@evil/xss\"]\nversion = \"1.0.0\"\ndescription = \"<script>alert(1)</script> & \\\"quotes\\\" 'too'\"\ninstruction = \"</code></pre><img src=x onerror=alert(1)>\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();
    let expert = page(&out, "experts/@evil/xss/index.html");
    assert!(!expert.contains("<script>alert"), "{expert}");
    assert!(!expert.contains("<img src=x"));
    assert!(expert.contains(
        "<p class=\"lead\">&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;too&#39;</p>"
    ));
    assert!(expert.contains(
        "<meta name=\"description\" content=\"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;too&#39;\">"
    ));
    assert!(expert.contains("&lt;/code&gt;&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;"));
    for listing in ["index.html", "scopes/@evil/index.html"] {
        let html = page(&out, listing);
        assert!(!html.contains("<script>alert"), "{listing}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{listing}"
        );
    }
}

#[test]
fn an_expert_page_shows_what_a_user_needs_before_running_it() {
    let registry = TestRegistry::valid();
    registry.version(
        "@acme/searcher",
        "1.1.0",
        "tags = [\"web\"]\n[experts.\"@acme/searcher\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\npick = [\"think\", \"attemptCompletion\"]\nrequiredEnv = [\"SEARCH_TOKEN\"]\n[experts.\"@acme/searcher\".skills.\"web\"]\ntype = \"mcpSseSkill\"\nendpoint = \"https://search.example.com/mcp\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();

    let researcher = page(&out, "experts/@acme/researcher/index.html");
    assert!(researcher.contains(
        "<code id=\"command\">npx perstack run @acme/researcher@1.1.0 &quot;...&quot;</code>"
    ));
    assert!(researcher.contains("<tr id=\"v1.0.0\">\n        <th scope=\"row\"><span class=\"version\">1.0.0</span></th>\n        <td><span class=\"badge badge-deprecated\">deprecated</span><p class=\"reason\">Use 1.1.0</p></td>"));
    assert!(researcher.contains("<tr id=\"v1.1.0\" class=\"shown\">"));
    assert!(researcher.contains("<span class=\"tag\">latest</span>"));
    assert!(researcher.contains(
        "<li><a href=\"../../../experts/@acme/searcher/index.html#v1.0.0\">@acme/searcher@1.0.0</a></li><li><a href=\"../../../experts/tic-tac-toe/index.html\">tic-tac-toe@stable</a></li>"
    ));
    assert!(researcher.contains("<p id=\"required-env\">None: its skills ask for no secrets.</p>"));

    let source = fs::read(registry.data().join("@acme/searcher/1.1.0.toml")).unwrap();
    let hash = blake3::hash(&source).to_hex().to_string();
    let searcher = page(&out, "experts/@acme/searcher/index.html");
    assert!(searcher.contains(
        "<ul class=\"env-list\" id=\"required-env\"><li><code>SEARCH_TOKEN</code></li></ul>"
    ));
    assert!(searcher.contains("<dt>Runs</dt><dd><code>@perstack/base</code></dd>"));
    assert!(
        searcher.contains("<dt>Endpoint</dt><dd><code>https://search.example.com/mcp</code></dd>")
    );
    assert!(searcher.contains("<dt>Picked tools</dt><dd><ul class=\"inline-list\"><li><code>think</code></li><li><code>attemptCompletion</code></li></ul></dd>"));
    assert!(searcher.contains("<li class=\"tag\">web</li>"));
    assert!(searcher.contains(
        "<h2 id=\"used-by\">Used by</h2>\n  <ul class=\"link-list\"><li><a href=\"../../../experts/@acme/researcher/index.html\">@acme/researcher</a></li></ul>"
    ));
    assert!(searcher.contains(&format!("<code id=\"blake3\">{hash}</code>")));
    assert!(searcher.contains(&format!(
        "<code>echo \"{hash}  {hash}.toml\" | b3sum --check</code>"
    )));
    assert!(searcher.contains(&format!(
        "<a href=\"../../../v1/blobs/{}/{hash}.toml\">{hash}.toml</a>",
        &hash[..2]
    )));
    assert!(searcher.contains("<span class=\"t-h\">[experts.&quot;@acme/searcher&quot;]</span>\n<span class=\"t-k\">version</span> <span class=\"t-p\">=</span> <span class=\"t-s\">&quot;1.1.0&quot;</span>"));
}

#[test]
fn an_expert_without_a_usable_version_shows_its_last_and_no_command() {
    let registry = TestRegistry::valid();
    registry.version("retired", "1.0.0", "").file(
        "retired/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"Leaked a token\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    let retired = page(&registry.out(), "experts/retired/index.html");
    assert!(!retired.contains("id=\"command\""));
    assert!(
        retired.contains("<p>Every version of retired is disabled: it can no longer be run.</p>")
    );
    assert!(retired.contains(
        "<p class=\"notice notice-disabled\"><strong>1.0.0 is disabled:</strong> Leaked a token</p>"
    ));
}

#[test]
fn assets_are_named_by_their_hash_and_headers_set_the_policy() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let files = tree(&registry.out());
    let assets: Vec<&String> = files.keys().filter(|p| p.starts_with("assets/")).collect();
    assert_eq!(assets.len(), 3, "{assets:?}");
    for path in assets {
        let hash = path.split('.').nth(1).unwrap();
        let full = blake3::hash(&files[path]).to_hex().to_string();
        assert_eq!(hash, &full[..16], "{path}");
    }
    let headers = String::from_utf8(files["_headers"].clone()).unwrap();
    assert!(headers.contains("/*\n  Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\n"));
    assert!(headers.contains("/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n"));
    assert!(headers.contains("/experts/*\n  Cache-Control: public, max-age=60, must-revalidate\n"));
}

#[test]
fn a_new_version_rewrites_only_the_pages_that_show_it() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let before = tree(&registry.out());
    registry.version("tic-tac-toe", "1.1.0", "");
    registry.run(&["build"]).expect_code(0);
    let after = tree(&registry.out());
    let changed: Vec<&str> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path.as_str())
        .filter(|path| !path.starts_with("v1/") && !path.starts_with("api/"))
        .collect();
    assert_eq!(
        changed,
        [
            "experts/tic-tac-toe/index.html",
            "index.html",
            "recent.json",
            "scopes/unscoped/index.html",
            "search/ex.json",
            "search/ta.json",
            "search/te.json",
            "search/ti.json",
            "search/to.json",
        ]
    );
    let recent: serde_json::Value = serde_json::from_slice(&after["recent.json"]).unwrap();
    assert_eq!(
        recent["experts"][0],
        serde_json::json!({"name": "tic-tac-toe", "serial": 2})
    );
    assert_eq!(
        recent["experts"][1],
        serde_json::json!({"name": "@acme/researcher", "serial": 1})
    );
    let home = String::from_utf8(after["index.html"].clone()).unwrap();
    let first_card = home.find("<li class=\"expert-card\">").unwrap();
    assert!(
        home[first_card..].contains("tic-tac-toe</a></h3> <span class=\"version\">1.1.0</span>")
    );
}

#[test]
fn no_site_builds_only_the_api() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--no-site"]).expect_code(0);
    let files = tree(&registry.out());
    let outside_api: Vec<&String> = files
        .keys()
        .filter(|p| !p.starts_with("v1/") && !p.starts_with("api/") && *p != "_headers")
        .collect();
    assert!(outside_api.is_empty(), "{outside_api:?}");
}

#[test]
fn search_shards_find_experts_by_name_scope_and_description() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_slice(&fs::read(out.join(path)).unwrap()).unwrap()
    };
    let manifest = read("search/index.json");
    assert_eq!(manifest["experts"], 3);
    assert_eq!(manifest["shards"]["se"], "search/se.json");
    let shard = read("search/se.json");
    assert_eq!(
        shard["experts"],
        serde_json::json!([["@acme/searcher", "1.0.0", "Test expert @acme/searcher"]])
    );
    assert_eq!(shard["terms"]["searcher"], serde_json::json!([0, 4]));
    let acme = read("search/ac.json");
    assert_eq!(acme["terms"]["acme"], serde_json::json!([0, 3, 1, 3]));
}

#[test]
fn unchanged_expert_pages_are_not_rendered_again_unless_missing_or_asked() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();
    let clean = tree(&out);
    fs::remove_file(out.join("experts/tic-tac-toe/index.html")).unwrap();
    let searcher = out.join("experts/@acme/searcher/index.html");
    fs::write(&searcher, "edited by hand").unwrap();

    registry.run(&["build"]).expect_code(0);
    assert_eq!(
        page(&out, "experts/tic-tac-toe/index.html").as_bytes(),
        clean["experts/tic-tac-toe/index.html"],
        "a missing page is written again"
    );
    assert_eq!(
        fs::read_to_string(&searcher).unwrap(),
        "edited by hand",
        "the page cache trusts a page whose inputs did not change"
    );

    registry.run(&["build", "--no-cache"]).expect_code(0);
    assert_eq!(tree(&out), clean);
}
