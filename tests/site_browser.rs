//! The website in a real browser: the sample registry is built, served on 127.0.0.1 from a
//! sub-path by a static file server, and walked in Debian's headless Chromium by
//! `tests/browser/check-site.mjs` (playwright-core). That script reports what it saw as JSON;
//! the expectations live here. Screenshots of the home and an expert page, at phone and desktop
//! widths, are saved in `target/test-artifacts/`.
//!
//! CI installs Chromium and the script's npm packages (`.ci/run`); there, a missing tool fails
//! the test. Elsewhere the test is skipped, loudly, when a tool is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the browser test, if anything.
fn missing_tool() -> Option<String> {
    let browser_dir = Path::new(MANIFEST_DIR).join("tests/browser");
    for tool in ["node", "python3"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    if !chromium().exists() {
        return Some(format!(
            "{} does not exist (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !browser_dir.join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (npm ci --prefix tests/browser)".to_owned());
    }
    None
}

/// A static file server on 127.0.0.1, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Serves `dir` on a port the system picks; python reports the port it was given.
    fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|word| *word != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected server banner: {line:?}"));
        Server { child, port }
    }
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
    let server = Server::start(temp.path());
    let artifacts = Path::new(MANIFEST_DIR).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();

    let run = Command::new("node")
        .arg(Path::new(MANIFEST_DIR).join("tests/browser/check-site.mjs"))
        .arg(format!("http://127.0.0.1:{}/registry/", server.port))
        .arg(&artifacts)
        .env("CHROMIUM", chromium())
        .output()
        .expect("run node");
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
    assert_eq!(seen["searchStatus"], "1 expert matches.");
    assert_eq!(seen["typedResults"], json!(["@mailcraft/email-composer"]));

    // The expert page opened from the results.
    assert_eq!(seen["expertTitle"], "@acme/researcher");
    assert_eq!(
        seen["expertHeadings"],
        json!([
            "Run it",
            "Environment variables it requires",
            "Versions",
            "Skills",
            "Delegates",
            "Used by",
            "Definition 1.2.3",
            "Verify it"
        ])
    );
    assert_eq!(
        seen["command"],
        "npx perstack run @acme/researcher@1.2.3 \"...\""
    );
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

    // Without JavaScript the search page still lists every scope.
    assert_eq!(
        seen["scopesWithoutScript"],
        json!(["@acme", "@mailcraft", "@perstack", "without a scope"])
    );
    assert_eq!(
        seen["noScriptNotice"],
        "Search runs in your browser and needs JavaScript. Every scope is listed below."
    );

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
    ] {
        let bytes = std::fs::read(artifacts.join(format!("{shot}.png"))).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot} is not a PNG");
    }
}
