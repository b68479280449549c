//! Everything the command line prints: diagnostics in three formats, progress and summaries.
//!
//! Data goes to stdout and messages to stderr. `--format json` and `--format github` are
//! machine-readable and go to stdout; their shapes are defined here and nowhere else.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use serde::Serialize;

use perstack_registry::common::progress::Progress;
use std::path::Path;

use perstack_registry::authoring::publish::PublishReport;
use perstack_registry::authoring::review::Change;
use perstack_registry::build::plan::Plan;
use perstack_registry::client::resolve::Resolved;
use perstack_registry::common::diagnostic::{Diagnostic, Position, Severity};

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line:column: error: message`, one per line, on stderr.
    Human,
    /// One JSON document on stdout: `{"valid", "errors", "warnings", "diagnostics": [...]}`.
    Json,
    /// GitHub Actions workflow commands (`::error file=...,line=...::message`) on stdout.
    Github,
}

/// How the client commands (`resolve`, `fetch`, `lock`, `mirror`, `verify`, `keygen`) print
/// their result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientFormat {
    /// Short lines for people.
    Human,
    /// One JSON document on stdout; the shapes are the `*Json` types of this module.
    Json,
}

/// `keygen --format json`.
#[derive(Serialize)]
pub struct KeygenJson<'a> {
    pub public: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
}

/// `resolve --format json`.
#[derive(Serialize)]
pub struct ResolveJson {
    pub key: String,
    pub name: String,
    pub version: String,
    pub blake3: String,
    pub size: u64,
    pub path: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&Resolved> for ResolveJson {
    fn from(resolved: &Resolved) -> ResolveJson {
        ResolveJson {
            key: resolved.key(),
            name: resolved.name.to_string(),
            version: resolved.version.clone(),
            blake3: resolved.blake3.to_hex(),
            size: resolved.size,
            path: resolved.path.clone(),
            status: resolved.status.as_str(),
            reason: resolved.reason.clone(),
        }
    }
}

/// Prints one JSON document on stdout.
pub fn print_json(value: &impl Serialize) {
    let mut stdout = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut stdout, value);
    let _ = writeln!(stdout);
}

#[derive(Serialize)]
struct JsonReport<'a> {
    valid: bool,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
    /// Only for `check --base`: what the change does that is allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a [Change]>,
}

/// Prints diagnostics in the chosen format. With `quiet`, human output keeps only errors.
pub fn print_diagnostics(diagnostics: &[Diagnostic], format: Format, quiet: bool) {
    print_report(diagnostics, None, format, quiet);
}

/// Prints the review of a change: its problems and, as notes (`::notice` for GitHub), what it
/// does that is allowed.
pub fn print_review(diagnostics: &[Diagnostic], changes: &[Change], format: Format, quiet: bool) {
    print_report(diagnostics, Some(changes), format, quiet);
}

fn print_report(
    diagnostics: &[Diagnostic],
    changes: Option<&[Change]>,
    format: Format,
    quiet: bool,
) {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match format {
        Format::Human => {
            let mut stderr = std::io::stderr().lock();
            for diagnostic in diagnostics {
                if !quiet || diagnostic.severity == Severity::Error {
                    let _ = writeln!(stderr, "{diagnostic}");
                }
            }
            for change in changes.unwrap_or_default().iter().filter(|_| !quiet) {
                let _ = writeln!(stderr, "{}: note: {}", place(change), change.message);
            }
        }
        Format::Json => {
            let report = JsonReport {
                valid: errors == 0,
                errors,
                warnings: diagnostics.len() - errors,
                diagnostics,
                changes,
            };
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &report);
            let _ = writeln!(stdout);
        }
        Format::Github => {
            let mut stdout = std::io::stdout().lock();
            for diagnostic in diagnostics {
                let _ = writeln!(stdout, "{}", github_annotation(diagnostic));
            }
            for change in changes.unwrap_or_default() {
                let _ = writeln!(
                    stdout,
                    "::notice {}::{}",
                    github_place(&change.file, change.position),
                    escape_data(&change.message)
                );
            }
        }
    }
}

/// A GitHub Actions annotation, escaped as the runner expects.
pub fn github_annotation(diagnostic: &Diagnostic) -> String {
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!(
        "::{command} {}::{}",
        github_place(&diagnostic.file, diagnostic.position),
        escape_data(&diagnostic.message)
    )
}

fn github_place(file: &Path, position: Option<Position>) -> String {
    let mut properties = format!("file={}", escape_property(&file.to_string_lossy()));
    if let Some(position) = position {
        properties.push_str(&format!(",line={},col={}", position.line, position.column));
    }
    properties
}

fn place(change: &Change) -> String {
    match change.position {
        Some(p) => format!("{}:{}:{}", change.file.display(), p.line, p.column),
        None => change.file.display().to_string(),
    }
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The files `publish` wrote, as `b3sum` prints them (`<hash>  <path>`); for a dry run, each
/// with the text it would hold.
pub fn print_published(report: &PublishReport) {
    let mut stdout = std::io::stdout().lock();
    for file in &report.files {
        let _ = writeln!(stdout, "{}  {}", file.blake3, file.path.display());
        if let Some(content) = &file.content {
            let _ = writeln!(stdout, "{content}");
        }
    }
}

/// A deploy plan as one path per line, in upload order.
pub fn print_plan_lines(plan: &Plan) {
    let mut stdout = std::io::stdout().lock();
    for file in &plan.files {
        let _ = writeln!(stdout, "{}", file.path);
    }
}

/// A one-line message on stderr, unless quiet.
pub fn status(quiet: bool, message: &str) {
    if !quiet {
        eprintln!("{message}");
    }
}

/// Progress on one self-rewriting stderr line, shown only when stderr is a terminal.
pub struct TerminalProgress {
    enabled: bool,
    last: Mutex<String>,
}

impl TerminalProgress {
    pub fn new(quiet: bool) -> TerminalProgress {
        TerminalProgress {
            enabled: !quiet && std::io::stderr().is_terminal(),
            last: Mutex::new(String::new()),
        }
    }

    /// Erases the progress line before the summary is printed.
    pub fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Progress for TerminalProgress {
    fn stage(&self, name: &str, done: usize, total: usize) {
        if !self.enabled {
            return;
        }
        let line = if total > 1 {
            format!("{name} {done}/{total}")
        } else {
            format!("{name}...")
        };
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if *last != line {
            eprint!("\r\x1b[2K{line}");
            *last = line;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_annotations_escape_their_fields() {
        let diagnostic = Diagnostic::error("x", Path::new("a,b:c.toml"), "50% done\nnext")
            .at(Some(Position { line: 3, column: 7 }));
        assert_eq!(
            github_annotation(&diagnostic),
            "::error file=a%2Cb%3Ac.toml,line=3,col=7::50%25 done%0Anext"
        );
    }
}
