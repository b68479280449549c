//! What the browser tests need: Debian's Chromium and the npm packages in `tests/browser/`
//! (playwright-core, axe-core), which `.ci/run` installs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Chromium the tests drive: `$CHROMIUM`, or Debian's.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run a browser test, if anything.
pub fn missing_tool() -> Option<String> {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
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
