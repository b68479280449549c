//! The website in a real browser: the sample registry is built, served on 127.0.0.1 from a
//! sub-path by a static file server, and walked in Debian's headless Chromium by
//! `tests/browser/check-site.mjs` (playwright-core, axe-core). A second build of the sample,
//! with `[site] url` set and a scope of 150 more experts, is served beside it by a server that
//! answers missing addresses with that registry's `404.html`, as static hosts do. The script
//! reports what it saw as JSON; the expectations live here. Screenshots of every page type, at
//! phone and desktop widths, are saved in `target/test-artifacts/`.
//!
//! CI installs Chromium and the script's npm packages (`.ci/run`); there, a missing tool fails
//! the test. Elsewhere the test is skipped, loudly, when a tool is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::browser::{chromium, missing_tool};
use common::copy_tree;
use serde_json::{Value, json};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A static file server on 127.0.0.1, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

/// Python's static file server, except that a missing address below a directory holding a
/// `404.html` is answered with that page and status 404, as Netlify, Cloudflare Pages and
/// nginx's `error_page` do. It prints the port the system gave it.
const SERVER: &str = r#"
import functools, http.server, os, sys
root = sys.argv[1]
class Handler(http.server.SimpleHTTPRequestHandler):
    def send_error(self, code, message=None, explain=None):
        site = self.path.lstrip("/").split("/", 1)[0]
        page = os.path.join(root, site, "404.html")
        if code != 404 or not site or not os.path.isfile(page):
            return super().send_error(code, message, explain)
        with open(page, "rb") as f:
            body = f.read()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl Server {
    /// Serves `dir` on a port the system picks.
    fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args(["-u", "-c", SERVER])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("unexpected server output: {line:?}"));
        Server { child, port }
    }
}

/// An instruction that tries everything a page must not let it do.
const HOSTILE: &str = r#"[experts."@evil/markdown"]
version = "1.0.0"
description = "Tries to run code from its instruction"
instruction = """
# Hello

<script>alert("script")</script>

<iframe src="https://evil.example/"></iframe>

<img src="x" onerror="alert('img')">

Click [here](javascript:alert('link')) or [there](JaVaScRiPt:alert('case')) or <a href="javascript:alert('raw')">raw</a>.

![pixel](https://evil.example/pixel.png)

[Docs](https://example.com/docs) stay links.
"""
"#;

/// The sample registry as deployed at `https://registry.example.com/hosted/`, with a scope of
/// 150 experts, more than one page of a listing holds, and an expert with a hostile instruction.
fn build_hosted(temp: &Path, sample: &Path) {
    let data = temp.join("hosted-data");
    copy_tree(sample, &data);
    let settings = std::fs::read_to_string(data.join("registry.toml")).unwrap();
    std::fs::write(
        data.join("registry.toml"),
        format!("{settings}\n[site]\nurl = \"https://registry.example.com/hosted/\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(data.join("@evil/markdown")).unwrap();
    std::fs::write(data.join("@evil/markdown/1.0.0.toml"), HOSTILE).unwrap();
    for n in 1..=150 {
        let name = format!("@bulk/worker-{n}");
        let dir = data.join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("1.0.0.toml"),
            format!("[experts.\"{name}\"]\nversion = \"1.0.0\"\ndescription = \"Bulk worker number {n}\"\ninstruction = \"Work.\"\n"),
        )
        .unwrap();
    }
    common::run_in(
        temp,
        &[
            "build",
            "--quiet",
            "--data",
            data.to_str().unwrap(),
            "--out",
            "hosted",
        ],
    )
    .expect_code(0);
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs Chromium and playwright-core: bash .ci/run installs them and runs ignored tests"]
fn a_person_can_find_an_expert_inspect_it_and_follow_its_delegates() {
    if let Some(missing) = missing_tool() {
        panic!("the browser test cannot run: {missing}");
    }

    let temp = tempfile::tempdir().unwrap();
    let sample = Path::new(MANIFEST_DIR).join("registry-data");
    common::run_in(
        temp.path(),
        &[
            "build",
            "--quiet",
            "--data",
            sample.to_str().unwrap(),
            "--out",
            "registry",
        ],
    )
    .expect_code(0);
    build_hosted(temp.path(), &sample);
    let server = Server::start(temp.path());
    let artifacts = Path::new(MANIFEST_DIR).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();

    let run = Command::new("node")
        .arg(Path::new(MANIFEST_DIR).join("tests/browser/check-site.mjs"))
        .arg(format!("http://127.0.0.1:{}/registry/", server.port))
        .arg(&artifacts)
        .arg(format!("http://127.0.0.1:{}/hosted/", server.port))
        .env("CHROMIUM", chromium())
        .output()
        .expect("run node");
    let port = server.port;
    drop(server);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the browser script failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: Value = serde_json::from_str(&stdout).expect("the script prints JSON");

    assert_eq!(
        seen["problems"],
        json!([]),
        "console errors or failed requests"
    );
    assert_eq!(seen["homeTitle"], "Perstack Community Registry");
    assert_eq!(
        seen["homeHeadings"],
        json!([
            "Perstack Community Registry",
            "Run an expert",
            "Recently added or updated",
            "Browse by scope"
        ])
    );
    assert_eq!(
        seen["landmarks"],
        json!(["header", "nav", "main", "footer"])
    );
    assert_eq!(seen["searchLabel"], "Search experts");
    assert_eq!(seen["inlineCode"], json!([]));
    assert_eq!(seen["expertInlineCode"], json!([]));

    // Searching from the home page finds the expert, and typing narrows the results.
    assert_eq!(seen["searchResults"], json!(["@acme/researcher"]));
    assert_eq!(seen["typedResults"], json!(["@mailcraft/email-composer"]));

    // The expert page opened from the results.
    assert_eq!(seen["expertTitle"], "@acme/researcher");
    assert_eq!(
        seen["expertHeadings"],
        json!([
            "Run it",
            "Environment variables it requires",
            "Instruction",
            "Versions",
            "Skills",
            "Delegates",
            "Used by",
            "Definition file 1.2.3",
            "Verify it"
        ])
    );
    assert_eq!(
        seen["command"],
        "npx perstack run @acme/researcher@1.2.3 \"...\""
    );
    // Without [site] url, the script fills in the address the page was served from.
    assert_eq!(
        seen["config"],
        format!("perstackApiBaseUrl = \"http://127.0.0.1:{port}/registry\"")
    );
    assert_eq!(seen["configNoteHidden"], true);
    // The command is set at body size at least.
    let sizes = seen["commandFontSize"].as_array().unwrap();
    let px = |v: &Value| {
        v.as_str()
            .unwrap()
            .trim_end_matches("px")
            .parse::<f64>()
            .unwrap()
    };
    assert!(px(&sizes[0]) >= px(&sizes[1]), "{sizes:?}");
    assert_eq!(
        seen["instructionHeadings"],
        json!(["Workflow", "Guidelines"])
    );
    assert_eq!(
        seen["versionLinks"],
        json!(["2.0.0-beta.1", "1.2.3", "1.2.0", "1.0.0"])
    );
    assert_eq!(
        seen["dates"],
        json!([
            ["2026-04-26", "2026-04-26T18:59:00Z"],
            ["2026-03-27", "2026-03-27T14:46:00Z"],
            ["2026-03-02", "2026-03-02T14:20:00Z"],
            ["2026-01-25", "2026-01-25T10:46:00Z"]
        ])
    );
    assert_eq!(
        seen["copyLabels"],
        json!(["Copy the perstack.toml line", "Copy the command"])
    );
    assert_eq!(seen["copied"], seen["command"]);
    assert_eq!(seen["copyStatus"], "Copied.");

    // The page of an older version.
    assert_eq!(seen["versionTitle"], "@acme/researcher 1.0.0");
    assert_eq!(
        seen["versionFacts"],
        json!(["Status deprecated", "Published 2026-01-25"])
    );
    assert_eq!(
        seen["versionNotice"],
        "1.0.0 is deprecated: Crawls whole sites with Firecrawl and can use thousands of credits per run; use 1.2.0 or later"
    );
    assert_eq!(
        seen["versionCommand"],
        "npx perstack run @acme/researcher@1.0.0 \"...\""
    );
    assert_eq!(seen["versionInlineCode"], json!([]));
    assert_eq!(seen["versionPhoneOverflow"], 0);
    assert_eq!(
        seen["versionRows"],
        json!([
            ["2.0.0-beta.1", "available", "", "beta"],
            ["1.2.3", "available", "", "latest"],
            ["1.2.0", "available", "", "stable"],
            [
                "1.0.0",
                "deprecated",
                "Crawls whole sites with Firecrawl and can use thousands of credits per run; use 1.2.0 or later",
                ""
            ]
        ])
    );
    assert_eq!(
        seen["delegates"],
        json!(["@acme/web-searcher", "@acme/report-writer@2.0.0"])
    );
    assert_eq!(
        seen["phoneOverflow"], 0,
        "the expert page scrolls sideways on a phone"
    );

    // The delegate link leads to the delegate's page, which shows what it requires.
    assert_eq!(seen["delegateTitle"], "@acme/web-searcher");
    assert_eq!(seen["delegateEnv"], json!(["FIRECRAWL_API_KEY"]));
    assert_eq!(seen["delegateUsedBy"], json!(["@acme/researcher"]));
    assert_eq!(seen["focusOutline"], "Skip to content: solid 3px");

    assert_eq!(
        seen["configWithoutScript"],
        "perstackApiBaseUrl = \"https://registry.example.com\""
    );
    assert_eq!(seen["configNoteWithoutScript"], true);
    assert_eq!(seen["copyButtonsWithoutScript"], 0);

    // The registry deployed with [site] url.
    assert_eq!(
        seen["hostedConfig"],
        "perstackApiBaseUrl = \"https://registry.example.com/hosted\""
    );
    // Pages begin where the names say (src/site/paging.rs), so how many the first holds is
    // read from it; the next page begins with the next name and is named after it.
    let first = seen["scopeFirst"].as_array().unwrap();
    let on_first = first.len();
    assert!((8..=100).contains(&on_first), "{on_first}");
    assert_eq!(
        first[..3],
        [
            json!("@bulk/worker-1"),
            json!("@bulk/worker-2"),
            json!("@bulk/worker-3")
        ]
    );
    assert_eq!(
        seen["scopeCount"],
        format!(
            "150 experts, in name order; this page lists @bulk/worker-1 to @bulk/worker-{on_first}."
        )
    );
    assert_eq!(seen["scopePages"], json!(["Next page"]));
    let second = seen["scopeSecond"].as_array().unwrap();
    assert_eq!(second[0], format!("@bulk/worker-{}", on_first + 1));
    assert_eq!(
        seen["scopeSecondUrl"],
        format!("scopes/@bulk/from-worker-{}.html", on_first + 1)
    );
    let on_second = on_first + second.len();
    assert_eq!(
        seen["scopeSecondCount"],
        format!(
            "@bulk/worker-{} to @bulk/worker-{on_second}, in name order; the first page says how many there are.",
            on_first + 1
        )
    );
    let pages = seen["scopeSecondPages"].as_array().unwrap();
    assert_eq!(pages[0], "Previous page");
    assert_eq!(pages.len(), if on_second == 150 { 1 } else { 2 });
    // A hostile instruction shows as text: nothing runs, loads or links to script.
    assert_eq!(seen["hostileDialogs"], json!([]));
    assert_eq!(seen["hostileElements"], 0);
    assert_eq!(
        seen["hostileLinks"],
        json!([
            ["Docs", "https://example.com/docs"],
            ["pixel", "https://evil.example/pixel.png"]
        ])
    );
    assert!(
        seen["hostileText"]
            .as_str()
            .unwrap()
            .contains("<script>alert(\"script\")</script>"),
        "{}",
        seen["hostileText"]
    );

    // 404.html served for a missing address three directories down still finds its styles,
    // icon, search and home page.
    assert_eq!(seen["notFoundStatus"], 404);
    assert_eq!(seen["notFoundTitle"], "Page not found");
    assert_eq!(seen["notFoundStyled"], "solid");
    assert_eq!(seen["notFoundIcon"], true, "the icon loads");
    assert_eq!(seen["notFoundSearch"], "hosted/search.html?q=researcher");
    assert_eq!(seen["notFoundHome"], "hosted/index.html");

    // axe-core finds nothing on any page type, in either colour scheme, at either width.
    let axe = seen["axe"].as_object().unwrap();
    assert_eq!(axe.len(), 2 * 2 * 8, "{axe:?}");
    for (page, violations) in axe {
        assert_eq!(violations, &json!([]), "axe-core on {page}");
    }

    // WCAG AA asks for 4.5:1 for body text.
    let contrast = seen["contrast"].as_object().unwrap();
    assert_eq!(contrast.len(), 4);
    for (page, lowest) in contrast {
        assert!(lowest["checked"].as_u64().unwrap() > 50, "{page}: {lowest}");
        let ratio = lowest["ratio"].as_f64().unwrap();
        assert!(
            ratio >= 4.5,
            "{page}: contrast {ratio} at {}",
            lowest["where"]
        );
    }

    for shot in [
        "home-desktop",
        "home-phone",
        "expert-desktop",
        "expert-phone",
        "version-desktop",
        "version-phone",
        "scope-desktop",
        "scope-phone",
        "404-desktop",
        "404-phone",
    ] {
        let bytes = std::fs::read(artifacts.join(format!("{shot}.png"))).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot} is not a PNG");
    }
}
