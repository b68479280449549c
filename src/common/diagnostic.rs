//! Problems found in registry data, with the place they were found, and the class of a failed
//! command.
//!
//! Every rule in the crate reports problems instead of returning early, so one run lists every
//! problem (a pull request author wants the whole list at once). A diagnostic always names a
//! file and, where the parser knows it, a line and column. [`Diagnostics`] puts them in report
//! order and counts them, for every report that does either.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a problem is: errors make the data invalid, warnings are worth reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A 1-based line and column (the column counts characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where each line of a text starts, so the positions of many problems in one file cost a
/// binary search each instead of a scan from the start of the file each: a file with a hundred
/// thousand problems must not take quadratic time to report them.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        LineIndex { starts }
    }

    /// The position of byte `offset` in `source`, the text this index was made from: the same
    /// as [`Position::at`].
    pub fn position(&self, source: &str, offset: usize) -> Position {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line - 1];
        Position {
            line,
            column: source[line_start..offset].chars().count() + 1,
        }
    }
}

impl Position {
    /// The position of byte `offset` in `source`.
    pub fn at(source: &str, offset: usize) -> Position {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// One problem: where, how bad, a stable machine-readable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A short stable identifier of the rule, e.g. `symlink` or `version-changed`.
    pub code: &'static str,
    pub file: PathBuf,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.to_path_buf(),
            position: None,
            message: message.into(),
        }
    }

    pub fn warning(code: &'static str, file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, message)
        }
    }

    pub fn at(mut self, position: Option<Position>) -> Diagnostic {
        self.position = position;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(position) = self.position {
            write!(f, ":{}:{}", position.line, position.column)?;
        }
        write!(f, ": {}: {}", self.severity, self.message)
    }
}

/// Problems as a report holds them: [`Diagnostics::sorted`] puts them in report order, and every
/// report counts them here. Serialized as the list of them.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

/// Whether any of `problems` is an error: for checks that collect diagnostics in a plain
/// vector as they go.
pub fn has_errors(problems: &[Diagnostic]) -> bool {
    error_count(problems) > 0
}

/// How many of `problems` are errors.
pub fn error_count(problems: &[Diagnostic]) -> usize {
    problems
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.items)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.iter().filter(|d| d.severity == severity).count()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// The problems as severe as `severity` or more: only errors for [`Severity::Error`],
    /// everything for [`Severity::Warning`].
    pub fn at_least(&self, severity: Severity) -> impl Iterator<Item = &Diagnostic> {
        // `Severity` orders the most severe first.
        self.iter().filter(move |d| d.severity <= severity)
    }

    /// Sorts by file, then position, then message, and drops duplicates, so the report does
    /// not depend on the order in which threads or the file system produced the problems.
    ///
    /// At most [`MAX_PER_FILE`] problems are kept per file, followed by one that counts the
    /// rest: a file with thirty thousand mistakes should say so in a screenful, not in
    /// megabytes. The count is an error if any problem it stands for is one.
    pub fn sorted(mut self) -> Diagnostics {
        self.items.sort_by(|a, b| {
            (&a.file, a.position, a.severity, &a.message)
                .cmp(&(&b.file, b.position, b.severity, &b.message))
        });
        self.items.dedup();
        let mut kept: Vec<Diagnostic> = Vec::with_capacity(self.items.len());
        let mut hidden: Option<(usize, Severity)> = None;
        let mut shown_in_file = 0;
        for diagnostic in self.items {
            let same_file = kept.last().is_some_and(|last| last.file == diagnostic.file);
            if !same_file {
                flush_hidden(&mut kept, &mut hidden);
                shown_in_file = 0;
            }
            if shown_in_file < MAX_PER_FILE {
                shown_in_file += 1;
                kept.push(diagnostic);
            } else {
                let (count, severity) = hidden.get_or_insert((0, Severity::Warning));
                *count += 1;
                *severity = (*severity).min(diagnostic.severity);
            }
        }
        flush_hidden(&mut kept, &mut hidden);
        Diagnostics { items: kept }
    }
}

/// How many problems a report shows for one file before it counts the rest.
pub const MAX_PER_FILE: usize = 100;

/// Appends, after the last problem shown for a file, the count of the ones not shown.
fn flush_hidden(kept: &mut Vec<Diagnostic>, hidden: &mut Option<(usize, Severity)>) {
    let (Some((count, severity)), Some(last)) = (hidden.take(), kept.last()) else {
        return;
    };
    kept.push(Diagnostic {
        severity,
        code: "more-problems",
        file: last.file.clone(),
        position: None,
        message: format!(
            "{count} more problem(s) in this file are not shown; fix the ones above and check again"
        ),
    });
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(items: Vec<Diagnostic>) -> Diagnostics {
        Diagnostics { items }
    }
}

/// What a failed command is about, which decides its exit status (README "Commands"). The
/// library's error types each say which class they are in one method, and the binary maps the
/// class to the status in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The data is at fault: it breaks a rule, the change or the registry is refused, or what it
    /// names does not exist or does not resolve (exit 1).
    Data,
    /// The invocation or its environment: a usage mistake, or an I/O, git or network failure
    /// (exit 2).
    Environment,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let source = "a = 1\nné = 2\n";
        assert_eq!(Position::at(source, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::at(source, 6), Position { line: 2, column: 1 });
        // "né " is 4 bytes but 3 characters.
        assert_eq!(Position::at(source, 10), Position { line: 2, column: 4 });
        let index = LineIndex::new(source);
        for offset in 0..=source.len() + 2 {
            assert_eq!(
                index.position(source, offset),
                Position::at(source, offset),
                "{offset}"
            );
        }
    }

    #[test]
    fn diagnostics_sort_into_report_order_and_count_by_severity() {
        let b = Path::new("b.toml");
        let problems: Diagnostics = vec![
            Diagnostic::warning("w", b, "later"),
            Diagnostic::error("e", b, "first").at(Some(Position { line: 1, column: 1 })),
            Diagnostic::error("e", Path::new("a.toml"), "earliest"),
            Diagnostic::warning("w", b, "later"),
        ]
        .into();
        let sorted = problems.sorted();
        let messages: Vec<&str> = sorted.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, ["earliest", "later", "first"]);
        assert_eq!(
            (
                sorted.count(Severity::Error),
                sorted.count(Severity::Warning)
            ),
            (2, 1)
        );
        assert!(sorted.has_errors());
        assert_eq!(sorted.at_least(Severity::Error).count(), 2);
        assert_eq!(sorted.at_least(Severity::Warning).count(), 3);
        let warnings: Diagnostics = vec![Diagnostic::warning("w", b, "only")].into();
        assert!(!warnings.has_errors());
    }
}
