//! A TOML file being checked: its path, its text, and span-aware access to its values.
//!
//! The registry reports every problem with a line and column, so files are parsed with
//! `toml`'s spanned document API rather than straight into structs; checks walk the spanned
//! tree and turn a byte span into a [`Position`] only when they report something.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::common::diagnostic::{Diagnostic, LineIndex, Position};

pub type Table<'i> = DeTable<'i>;
pub type Value<'i> = DeValue<'i>;

/// The text of one file, and where problems in it are reported.
pub struct TomlFile<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    /// Built on the first problem reported, so a valid file never pays for it.
    lines: std::sync::OnceLock<LineIndex>,
}

impl<'a> TomlFile<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> TomlFile<'a> {
        TomlFile {
            path,
            text,
            lines: std::sync::OnceLock::new(),
        }
    }

    /// The line and column of byte `offset`.
    pub fn position(&self, offset: usize) -> Position {
        self.lines
            .get_or_init(|| LineIndex::new(self.text))
            .position(self.text, offset)
    }

    pub fn error(&self, code: &'static str, span: Range<usize>, message: String) -> Diagnostic {
        Diagnostic::error(code, self.path, message).at(Some(self.position(span.start)))
    }

    pub fn warning(&self, code: &'static str, span: Range<usize>, message: String) -> Diagnostic {
        Diagnostic::warning(code, self.path, message).at(Some(self.position(span.start)))
    }

    /// Parses the whole document, reporting every syntax error the parser recovers from.
    pub fn parse(&self, problems: &mut Vec<Diagnostic>) -> Option<Spanned<Table<'a>>> {
        let (table, errors) = DeTable::parse_recoverable(self.text);
        if errors.is_empty() {
            return Some(table);
        }
        for error in errors {
            let span = error.span().unwrap_or(0..0);
            let message = error.message().trim_end().to_owned();
            problems.push(self.error("toml-syntax", span, format!("invalid TOML: {message}")));
        }
        None
    }
}

/// Walks a parsed file, pushing a diagnostic for every value that is not of the expected
/// shape. Modules add their own rules in their own `impl Checker` blocks.
pub struct Checker<'a, 's> {
    pub src: &'a TomlFile<'s>,
    pub problems: &'a mut Vec<Diagnostic>,
}

impl<'i> Checker<'_, 'i> {
    pub fn error(&mut self, code: &'static str, span: Range<usize>, message: String) {
        let diagnostic = self.src.error(code, span, message);
        self.problems.push(diagnostic);
    }

    pub fn unknown_key(&mut self, owner: &str, key: &str, span: Range<usize>) {
        self.error(
            "unknown-field",
            span,
            format!("unknown field `{key}` in {owner}"),
        );
    }

    pub fn wrong_type(&mut self, what: &str, expected: &str, value: &Spanned<Value<'i>>) {
        self.error(
            "wrong-type",
            value.span(),
            format!(
                "`{what}` must be {expected}, not {}",
                type_name(value.get_ref())
            ),
        );
    }

    pub fn string<'v>(&mut self, what: &str, value: &'v Spanned<Value<'i>>) -> Option<&'v str> {
        match value.get_ref() {
            Value::String(text) => Some(text.as_ref()),
            _ => {
                self.wrong_type(what, "a string", value);
                None
            }
        }
    }

    pub fn non_empty_string<'v>(
        &mut self,
        what: &str,
        value: &'v Spanned<Value<'i>>,
    ) -> Option<&'v str> {
        let text = self.string(what, value)?;
        if text.trim().is_empty() {
            self.error("empty", value.span(), format!("`{what}` must not be empty"));
        }
        Some(text)
    }

    pub fn length(&mut self, what: &str, text: &str, span: Range<usize>, max: usize) {
        let chars = text.chars().count();
        if text.trim().is_empty() {
            self.error("empty", span, format!("`{what}` must not be empty"));
        } else if chars > max {
            self.error(
                "too-long",
                span,
                format!("`{what}` is {chars} characters long; the limit is {max}"),
            );
        }
    }

    pub fn table<'v>(
        &mut self,
        what: &str,
        value: &'v Spanned<Value<'i>>,
    ) -> Option<&'v Table<'i>> {
        match value.get_ref() {
            Value::Table(table) => Some(table),
            _ => {
                self.wrong_type(what, "a table", value);
                None
            }
        }
    }

    pub fn array<'v>(
        &mut self,
        what: &str,
        value: &'v Spanned<Value<'i>>,
    ) -> Option<&'v [Spanned<Value<'i>>]> {
        match value.get_ref() {
            Value::Array(items) => Some(&items[..]),
            _ => {
                self.wrong_type(what, "an array", value);
                None
            }
        }
    }

    pub fn string_array<'v>(
        &mut self,
        what: &str,
        value: &'v Spanned<Value<'i>>,
    ) -> Vec<(&'v str, Range<usize>)> {
        let mut strings = Vec::new();
        for item in self.array(what, value).unwrap_or_default() {
            match item.get_ref() {
                Value::String(text) => strings.push((text.as_ref(), item.span())),
                other => self.error(
                    "wrong-type",
                    item.span(),
                    format!("`{what}` must hold strings, not {}", type_name(other)),
                ),
            }
        }
        strings
    }

    pub fn integer(&mut self, what: &str, value: &Spanned<Value<'i>>) -> Option<i64> {
        match value.get_ref() {
            Value::Integer(int) => {
                let parsed = i64::from_str_radix(int.as_str(), int.radix()).ok();
                if parsed.is_none() {
                    self.error(
                        "wrong-type",
                        value.span(),
                        format!("`{what}` is out of range"),
                    );
                }
                parsed
            }
            _ => {
                self.wrong_type(what, "an integer", value);
                None
            }
        }
    }
}

/// Checks an untrusted byte string for the encoding rules every registry file follows:
/// UTF-8, no byte-order mark, no NUL byte.
pub fn check_text<'b>(
    path: &Path,
    bytes: &'b [u8],
    problems: &mut Vec<Diagnostic>,
) -> Option<&'b str> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        problems.push(
            Diagnostic::error(
                "byte-order-mark",
                path,
                "file starts with a UTF-8 byte-order mark; save it without one",
            )
            .at(Some(Position { line: 1, column: 1 })),
        );
        return None;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let valid = std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or_default();
            problems.push(
                Diagnostic::error("not-utf8", path, "file is not valid UTF-8")
                    .at(Some(Position::at(valid, valid.len()))),
            );
            return None;
        }
    };
    if let Some(offset) = text.find('\0') {
        problems.push(
            Diagnostic::error("nul-byte", path, "file holds a NUL byte")
                .at(Some(Position::at(text, offset))),
        );
        return None;
    }
    Some(text)
}

/// A short English name for a value's type, for messages.
pub fn type_name(value: &Value<'_>) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}
