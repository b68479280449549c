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
    // Every version has a page beside its expert's.
    let version_files: Vec<&String> = files
        .keys()
        .filter(|path| path.starts_with("v1/blobs/"))
        .collect();
    let version_pages: Vec<&String> = files
        .keys()
        .filter(|path| {
            path.starts_with("experts/")
                && path.ends_with(".html")
                && !path.ends_with("/index.html")
        })
        .collect();
    assert_eq!(version_pages.len(), version_files.len());
    for version in ["1.0.0", "1.2.0", "1.2.3", "2.0.0-beta.1"] {
        assert!(files.contains_key(&format!("experts/@acme/researcher/{version}.html")));
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
    let count = |prefix: &str| pages.iter().filter(|(p, _)| p.starts_with(prefix)).count();
    assert_eq!(count("experts/"), 16 + version_pages.len());
    assert_eq!(count("scopes/"), 4);
    for (path, html) in &pages {
        if *path == "404.html" {
            continue;
        }
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

/// A host serves 404.html for a missing address at any depth, so its links lead from the site's
/// path: `/` by default, the path of `[site] url` when it is set.
#[test]
fn the_404_page_links_from_the_site_path() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let links = |html: &str| -> Vec<String> {
        attribute_values(html, "href")
            .into_iter()
            .chain(attribute_values(html, "src"))
            .chain(attribute_values(html, "action"))
            .map(str::to_owned)
            .collect()
    };
    let files = tree(&registry.out());
    let not_found = page(&registry.out(), "404.html");
    let at_root = links(&not_found);
    assert!(at_root.len() >= 5, "{at_root:?}");
    for link in at_root.iter().filter(|link| !link.starts_with('#')) {
        let target = link
            .strip_prefix('/')
            .unwrap_or_else(|| panic!("{link} is not absolute"));
        assert!(!target.starts_with('/'), "{link}");
        assert!(files.contains_key(target), "{link} leads nowhere");
    }

    registry.file(
        "registry.toml",
        "name = \"Test\"\n[site]\nurl = \"https://example.com/tools/registry\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    let below = page(&registry.out(), "404.html");
    let moved = links(&below);
    assert_eq!(moved.len(), at_root.len());
    for (old, new) in at_root.iter().zip(&moved) {
        if old.starts_with('#') {
            assert_eq!(new, old);
        } else {
            assert_eq!(new, &format!("/tools/registry{old}"));
        }
    }
    assert!(below.contains(
        "<form class=\"search-form\" role=\"search\" action=\"/tools/registry/search.html\""
    ));
}

#[test]
fn the_site_url_is_the_run_instructions_base_url() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let researcher = page(&registry.out(), "experts/@acme/researcher/index.html");
    // Unset, the page's script fills in the address it was loaded from; without script the
    // placeholder stays, with a note saying what to write instead.
    assert!(researcher.contains(
        "<code id=\"config\">perstackApiBaseUrl = \"<span class=\"registry-url\" data-root=\"../../../\">https://registry.example.com</span>\"</code>"
    ));
    assert!(researcher.contains("<p class=\"registry-url-note\">"));
    assert!(researcher.contains("<script src=\"../../../assets/run."));

    registry.file(
        "registry.toml",
        "[site]\nurl = \"https://registry.example.org/perstack/\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    for path in [
        "experts/@acme/researcher/index.html",
        "experts/@acme/researcher/1.0.0.html",
    ] {
        let html = page(&registry.out(), path);
        assert!(
            html.contains("<code id=\"config\">perstackApiBaseUrl = \"https://registry.example.org/perstack\"</code>"),
            "{path}"
        );
        assert!(!html.contains("registry-url-note"), "{path}");
    }
}

#[test]
fn version_pages_link_their_file_in_the_registry_repository() {
    let registry = TestRegistry::valid();
    registry.run(&["build"]).expect_code(0);
    let version = page(&registry.out(), "experts/@acme/researcher/1.0.0.html");
    assert!(
        !version.contains("class=\"source\""),
        "no link without the setting"
    );

    registry.file(
        "registry.toml",
        "[site]\nrepository = \"https://github.com/acme/registry/blob/main/registry-data\"\n",
    );
    registry.run(&["build"]).expect_code(0);
    // The setting changes every page: pages the page cache kept are rendered again.
    let link = |version: &str| {
        format!(
            "<a class=\"source\" href=\"https://github.com/acme/registry/blob/main/registry-data/@acme/researcher/{version}.toml\">registry-data/@acme/researcher/{version}.toml</a>"
        )
    };
    let version = page(&registry.out(), "experts/@acme/researcher/1.0.0.html");
    assert!(version.contains(&link("1.0.0")), "{version}");
    // The expert page links the file of the version it shows, its latest.
    let index: serde_json::Value =
        serde_json::from_str(&page(&registry.out(), "v1/experts/@acme/researcher.json")).unwrap();
    let latest = index["dist-tags"]["latest"].as_str().unwrap();
    let expert = page(&registry.out(), "experts/@acme/researcher/index.html");
    assert!(expert.contains(&link(latest)), "{expert}");
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
    let old = fs::read(registry.data().join("@acme/researcher/1.0.0.toml")).unwrap();
    let old = blake3::hash(&old).to_hex().to_string();
    assert!(researcher.contains(&format!("<tr id=\"v1.0.0\">\n        <th scope=\"row\"><a class=\"version\" href=\"../../../experts/@acme/researcher/1.0.0.html\">1.0.0</a></th>\n        <td><span class=\"badge badge-deprecated\">deprecated</span><p class=\"reason\">Use 1.1.0</p></td>\n        <td><span class=\"muted\">not recorded</span></td>\n        <td><a href=\"../../../v1/blobs/{}/{old}.toml\">raw file</a> <span class=\"muted\">", &old[..2])));
    assert!(researcher.contains("<tr id=\"v1.1.0\" class=\"shown\">"));
    assert!(researcher.contains("<span class=\"tag\">latest</span>"));
    assert!(researcher.contains(
        "<li><a href=\"../../../experts/@acme/searcher/1.0.0.html\">@acme/searcher@1.0.0</a></li><li><a href=\"../../../experts/tic-tac-toe/index.html\">tic-tac-toe@stable</a></li>"
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
fn every_version_has_a_page_with_its_status_tags_and_date() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"Use 1.1.0\"\npublished = \"2026-01-31T12:00:00Z\"\n[versions.\"1.1.0\"]\npublished = \"2026-03-01T08:30:00Z\"\n",
    );
    registry.file(
        "registry.toml",
        "[scopes.\"@acme\"]\nowners = [\"@acme-org/maintainers\", \"lead@acme.example\"]\n",
    );
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();

    let old = page(&out, "experts/@acme/researcher/1.0.0.html");
    assert!(old.contains("<li>Scope owners @acme-org/maintainers, lead@acme.example</li>"));
    assert!(page(&out, "scopes/@acme/index.html").contains(
        "<p>Changes to @acme are reviewed by its owners: @acme-org/maintainers, lead@acme.example.</p>"
    ));
    assert!(!page(&out, "experts/tic-tac-toe/index.html").contains("Scope owners"));
    assert!(old.contains("<title>@acme/researcher 1.0.0 · "));
    assert!(old.contains("<h1>@acme/researcher <span class=\"version\">1.0.0</span></h1>"));
    assert!(
        old.contains("<li>Status <span class=\"badge badge-deprecated\">deprecated</span></li>")
    );
    assert!(
        old.contains(
            "<li>Published <time datetime=\"2026-01-31T12:00:00Z\">2026-01-31</time></li>"
        )
    );
    assert!(old.contains(
        "<p class=\"notice notice-deprecated\"><strong>1.0.0 is deprecated:</strong> Use 1.1.0</p>"
    ));
    assert!(old.contains(
        "The latest version is <a href=\"../../../experts/@acme/researcher/1.1.0.html\">1.1.0</a>."
    ));
    assert!(old.contains(
        "<code id=\"command\">npx perstack run @acme/researcher@1.0.0 &quot;...&quot;</code>"
    ));
    assert!(old.contains(
        "<li><a href=\"../../../experts/@acme/searcher/index.html\">@acme/searcher</a></li>"
    ));
    assert!(old.contains("<span class=\"t-s\">&quot;1.0.0&quot;</span>"));
    assert!(!old.contains("<h2 id=\"versions\">"));

    let latest = page(&out, "experts/@acme/researcher/1.1.0.html");
    assert!(latest.contains("<li>Tagged <span class=\"tag\">latest</span></li>"));
    assert!(!latest.contains("The latest version is"));
    let tagged = page(&out, "experts/tic-tac-toe/1.0.0.html");
    assert!(tagged.contains(
        "<li>Tagged <span class=\"tag\">latest</span> <span class=\"tag\">stable</span></li>"
    ));
    assert!(
        !tagged.contains("<li>Published"),
        "no date recorded, none shown"
    );

    let expert = page(&out, "experts/@acme/researcher/index.html");
    assert!(expert.contains("<td><time datetime=\"2026-03-01T08:30:00Z\">2026-03-01</time></td>"));
    assert!(expert.contains("<li>Scope owners @acme-org/maintainers, lead@acme.example</li>"));
    assert!(expert.contains("Latest <span class=\"version\">1.1.0</span>, published <time datetime=\"2026-03-01T08:30:00Z\">2026-03-01</time>"));
}

#[test]
fn a_version_with_build_metadata_is_linked_with_its_plus_encoded() {
    let registry = TestRegistry::empty();
    registry.version("tool", "1.0.0+build.5", "");
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();
    assert!(out.join("experts/tool/1.0.0+build.5.html").is_file());
    let expert = page(&out, "experts/tool/index.html");
    assert!(expert.contains(
        "<a class=\"version\" href=\"../../experts/tool/1.0.0%2Bbuild.5.html\">1.0.0+build.5</a>"
    ));
}

#[test]
fn the_instruction_is_rendered_from_markdown_with_nothing_hostile_left() {
    let registry = TestRegistry::empty();
    registry.file(
        "@evil/md/1.0.0.toml",
        r#"[experts."@evil/md"]
version = "1.0.0"
description = "Hostile Markdown"
instruction = """
# Role

You **summarise** [sources](https://example.com/a?x=1&y=2) and [pages](../other/index.html).

<script>alert(1)</script>

<iframe src="https://evil.example/"></iframe>

Click [me](javascript:alert(1)) or [this](JAVASCRIPT:alert(2)) or <a href="javascript:alert(3)" onclick="x()">that</a>.

![tracker](https://evil.example/pixel.png)

## Steps

1. Plan
2. Write
"""
"#,
    );
    registry.run(&["build"]).expect_code(0);
    for path in ["experts/@evil/md/index.html", "experts/@evil/md/1.0.0.html"] {
        let html = page(&registry.out(), path);
        let start = html.find("<div class=\"instruction\">").unwrap();
        let end = start + html[start..].find("</div>\n</section>").unwrap();
        let instruction = &html[start..end];
        assert_eq!(
            instruction,
            "<div class=\"instruction\"><h3>Role</h3>\n\
             <p>You <strong>summarise</strong> <a href=\"https://example.com/a?x=1&amp;y=2\">sources</a> and <a href=\"../other/index.html\">pages</a>.</p>\n\
             <p>&lt;script&gt;alert(1)&lt;/script&gt;\n</p>\n\
             <p>&lt;iframe src=\"https://evil.example/\"&gt;&lt;/iframe&gt;\n</p>\n\
             <p>Click me or this or &lt;a href=\"javascript:alert(3)\" onclick=\"x()\"&gt;that&lt;/a&gt;.</p>\n\
             <p><a href=\"https://evil.example/pixel.png\">tracker</a></p>\n\
             <h4>Steps</h4>\n\
             <ol>\n<li>Plan</li>\n<li>Write</li>\n</ol>\n",
            "{path}"
        );
        assert!(!html.contains("<img src=\"https://"), "{path}");
        assert!(!html.contains("<script>"), "{path}");
        assert!(!html.contains("<iframe"), "{path}");
        assert!(!html.contains("<a href=\"javascript"), "{path}");
    }
}

#[test]
fn scope_listings_are_paginated_in_natural_order() {
    let registry = TestRegistry::empty();
    for n in 1..=205 {
        let name = format!("@bulk/expert-{n}");
        registry.file(
            &format!("{name}/1.0.0.toml"),
            format!("[experts.\"{name}\"]\nversion = \"1.0.0\"\ndescription = \"Expert number {n}\"\ninstruction = \"Count.\"\n"),
        );
    }
    registry.run(&["build"]).expect_code(0);
    let out = registry.out();
    let files = tree(&out);
    let names = |html: &str| -> Vec<String> {
        html.match_indices("<h2 class=\"expert-card-title\"><a href=\"")
            .map(|(at, needle)| {
                let rest = &html[at + needle.len()..];
                let text = &rest[rest.find("\">").unwrap() + 2..];
                text[..text.find("</a>").unwrap()].to_owned()
            })
            .collect()
    };
    let next = |html: &str| -> Option<String> {
        let at = html.find("\" rel=\"next\"")?;
        let start = html[..at].rfind("href=\"../../").unwrap() + "href=\"../../".len();
        Some(html[start..at].to_owned())
    };

    // Following "Next" from the scope's index page visits every page once and lists every
    // expert once, in natural order, at most 100 a page.
    let first = page(&out, "scopes/@bulk/index.html");
    assert!(!first.contains("rel=\"prev\""));
    let mut visited = vec!["scopes/@bulk/index.html".to_owned()];
    let mut listed = names(&first);
    let mut html = first.clone();
    while let Some(path) = next(&html) {
        assert!(path.starts_with("scopes/@bulk/from-expert-"), "{path}");
        let previous = visited.last().unwrap().clone();
        html = page(&out, &path);
        assert!(html.contains(&format!("<a href=\"../../{previous}\" rel=\"prev\">")));
        let on_page = names(&html);
        assert!(!on_page.is_empty() && on_page.len() <= 100, "{path}");
        // A later page is named after the expert it begins with.
        assert_eq!(
            path,
            format!("scopes/@bulk/from-{}.html", &on_page[0]["@bulk/".len()..])
        );
        assert!(html.contains(&format!(
            "<p id=\"listing-count\">{} to {}, in name order; <a href=\"../../scopes/@bulk/index.html\">the first page</a> says how many there are.</p>",
            on_page[0],
            on_page.last().unwrap()
        )));
        listed.extend(on_page);
        visited.push(path);
    }
    let expected: Vec<String> = (1..=205).map(|n| format!("@bulk/expert-{n}")).collect();
    assert_eq!(listed, expected);
    assert!(visited.len() >= 3, "{visited:?}");
    let mut on_disk: Vec<&String> = files
        .keys()
        .filter(|p| p.starts_with("scopes/@bulk/"))
        .collect();
    on_disk.sort();
    let mut linked: Vec<&String> = visited.iter().collect();
    linked.sort();
    assert_eq!(
        on_disk, linked,
        "every page is linked and no other is written"
    );

    // Only the first page counts the scope's experts.
    let first_names = names(&first);
    assert!(first.contains(&format!(
        "<p id=\"listing-count\">205 experts, in name order; this page lists @bulk/expert-1 to {}.</p>",
        first_names.last().unwrap()
    )));
    assert!(first.contains(&format!(
        "<title>Experts in @bulk, @bulk/expert-1 to {} · ",
        first_names.last().unwrap()
    )));
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
    for stem in ["site", "search", "icon", "run"] {
        assert!(
            assets
                .iter()
                .any(|path| path.starts_with(&format!("assets/{stem}."))),
            "{assets:?}"
        );
    }
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
        // The search index and the listings behind search have tests of their own
        // (tests/site_search*.rs).
        .filter(|path| {
            !["v1/", "api/", "search/", "browse/"]
                .iter()
                .any(|prefix| path.starts_with(prefix))
        })
        .collect();
    assert_eq!(
        changed,
        [
            // The old version's page now names the new one as the latest.
            "experts/tic-tac-toe/1.0.0.html",
            "experts/tic-tac-toe/1.1.0.html",
            "experts/tic-tac-toe/index.html",
            "index.html",
            "recent.json",
            "scopes/unscoped/index.html",
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
