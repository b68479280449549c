//! Everything the command line prints: diagnostics in three formats, progress and summaries.
//!
//! Data goes to stdout and messages to stderr. `--format json` and `--format github` are
//! machine-readable and go to stdout; their shapes are defined here and nowhere else.
//!
//! Writing to stdout can fail (a closed pipe, a full disk): every function that writes there
//! returns [`StdoutError`], and flushes before it returns so the failure is seen while the
//! command can still report it. Messages on stderr are best effort.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use perstack_registry::authoring::publish::PublishReport;
use perstack_registry::authoring::review::Change;
use perstack_registry::client::resolve::Resolved;
use perstack_registry::common::diagnostic::{Diagnostic, Diagnostics, Position, Severity};
use perstack_registry::common::progress::Progress;

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

/// How the commands that print a result (`publish`, `resolve`, `mirror`, `verify`, `keygen`)
/// print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Short lines for people.
    Human,
    /// One JSON document on stdout; the shapes are the `*Json` types of this module.
    Json,
}

/// The problems a command reports print as its result does.
impl From<ReportFormat> for Format {
    fn from(format: ReportFormat) -> Format {
        match format {
            ReportFormat::Human => Format::Human,
            ReportFormat::Json => Format::Json,
        }
    }
}

/// Writing to stdout failed.
#[derive(Debug)]
pub struct StdoutError(pub io::Error);

impl From<io::Error> for StdoutError {
    fn from(err: io::Error) -> StdoutError {
        StdoutError(err)
    }
}

impl From<serde_json::Error> for StdoutError {
    fn from(err: serde_json::Error) -> StdoutError {
        StdoutError(err.into())
    }
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
pub fn print_json(value: &impl Serialize) -> Result<(), StdoutError> {
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(stdout.flush()?)
}

/// Prints lines on stdout.
pub fn print_lines(lines: impl IntoIterator<Item = impl Display>) -> Result<(), StdoutError> {
    let mut stdout = io::stdout().lock();
    for line in lines {
        writeln!(stdout, "{line}")?;
    }
    Ok(stdout.flush()?)
}

/// Lines printed on stdout one at a time, for a list too long to hold.
pub struct Lines(io::BufWriter<io::StdoutLock<'static>>);

impl Lines {
    pub fn new() -> Lines {
        Lines(io::BufWriter::new(io::stdout().lock()))
    }

    pub fn line(&mut self, line: impl Display) -> Result<(), StdoutError> {
        Ok(writeln!(self.0, "{line}")?)
    }

    /// Bytes as they are (a file streamed through), with no line end added.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), StdoutError> {
        Ok(self.0.write_all(bytes)?)
    }

    pub fn finish(mut self) -> Result<(), StdoutError> {
        Ok(self.0.flush()?)
    }
}

/// Prints bytes on stdout as they are.
pub fn print_bytes(bytes: &[u8]) -> Result<(), StdoutError> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes)?;
    Ok(stdout.flush()?)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    valid: bool,
    errors: usize,
    warnings: usize,
    diagnostics: &'a Diagnostics,
    /// Only for `check --base`: what the change does that is allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a [Change]>,
}

/// Prints diagnostics in the chosen format. With `quiet`, human output keeps only errors.
pub fn print_diagnostics(
    diagnostics: &Diagnostics,
    format: Format,
    quiet: bool,
) -> Result<(), StdoutError> {
    print_report(diagnostics, None, format, quiet)
}

/// Prints the review of a change: its problems and, as notes (`::notice` for GitHub), what it
/// does that is allowed.
pub fn print_review(
    diagnostics: &Diagnostics,
    changes: &[Change],
    format: Format,
    quiet: bool,
) -> Result<(), StdoutError> {
    print_report(diagnostics, Some(changes), format, quiet)
}

fn print_report(
    diagnostics: &Diagnostics,
    changes: Option<&[Change]>,
    format: Format,
    quiet: bool,
) -> Result<(), StdoutError> {
    match format {
        Format::Human => {
            let shown = if quiet {
                Severity::Error
            } else {
                Severity::Warning
            };
            let mut stderr = io::stderr().lock();
            for diagnostic in diagnostics.at_least(shown) {
                let _ = writeln!(stderr, "{}", terminal_safe(&diagnostic.to_string()));
            }
            for change in changes.unwrap_or_default().iter().filter(|_| !quiet) {
                let line = format!("{}: note: {}", place(change), change.message);
                let _ = writeln!(stderr, "{}", terminal_safe(&line));
            }
            Ok(())
        }
        Format::Json => print_json(&JsonReport {
            valid: !diagnostics.has_errors(),
            errors: diagnostics.count(Severity::Error),
            warnings: diagnostics.count(Severity::Warning),
            diagnostics,
            changes,
        }),
        Format::Github => {
            let annotations = diagnostics.iter().map(github_annotation);
            let notices = changes.unwrap_or_default().iter().map(|change| {
                format!(
                    "::notice {}::{}",
                    github_place(&change.file, change.position),
                    escape_data(&change.message)
                )
            });
            print_lines(annotations.chain(notices))
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
pub fn print_published(report: &PublishReport) -> Result<(), StdoutError> {
    let mut stdout = io::stdout().lock();
    for file in &report.files {
        writeln!(stdout, "{}  {}", file.blake3, file.path.display())?;
        if let Some(content) = &file.content {
            writeln!(stdout, "{content}")?;
        }
    }
    Ok(stdout.flush()?)
}

/// A one-line message on stderr, unless quiet.
pub fn status(quiet: bool, message: &str) {
    if !quiet {
        eprintln!("{}", terminal_safe(message));
    }
}

/// `text` with every control character but newline and tab, and every invisible character
/// that reorders text (bidirectional overrides and isolates), written as a `\u{..}` escape.
/// Messages quote what a registry or a request said (a deprecation reason, a key id, a path),
/// and such text must not be able to move the cursor, rewrite the screen or disguise itself on
/// the terminal of whoever reads it.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            safe.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            safe.push(c);
        }
    }
    std::borrow::Cow::Owned(safe)
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
