//! TOML syntax highlighting for the definition shown on each expert page.
//!
//! The lexer splits text into classified tokens; [`html`] writes them as `<span>`s, escaping
//! every token's text with the same function the templates' auto-escaping uses, so an untrusted
//! definition can hold any text without ever becoming HTML. The tokens are written here, not
//! looped over in the template, because a template loop per token is slow (bench/RESULTS.md).
//! Joining the tokens gives back the input exactly, whatever the input, so nothing a
//! reader should see is lost or altered.

use serde::Serialize;

/// What a token is, which decides its colour; `Plain` is whitespace and anything unrecognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    #[serde(rename = "")]
    Plain,
    #[serde(rename = "c")]
    Comment,
    #[serde(rename = "h")]
    Header,
    #[serde(rename = "k")]
    Key,
    #[serde(rename = "s")]
    String,
    #[serde(rename = "n")]
    Number,
    #[serde(rename = "b")]
    Boolean,
    #[serde(rename = "p")]
    Punctuation,
}

impl Kind {
    /// The CSS class suffix (`t-<suffix>`), or `None` for plain text.
    fn class(self) -> Option<&'static str> {
        match self {
            Kind::Plain => None,
            Kind::Comment => Some("c"),
            Kind::Header => Some("h"),
            Kind::Key => Some("k"),
            Kind::String => Some("s"),
            Kind::Number => Some("n"),
            Kind::Boolean => Some("b"),
            Kind::Punctuation => Some("p"),
        }
    }
}

/// The highlighted definition as HTML: each token of a kind in `<span class="t-KIND">`, every
/// text escaped.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for token in tokens(text) {
        match token.kind.class() {
            Some(class) => {
                out.push_str("<span class=\"t-");
                out.push_str(class);
                out.push_str("\">");
                escape_html(token.text, &mut out);
                out.push_str("</span>");
            }
            None => escape_html(token.text, &mut out),
        }
    }
    out
}

/// A run of text of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
}

/// Splits TOML text into tokens. Adjacent tokens of the same kind are merged, which keeps the
/// page small.
pub fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        out: Vec::new(),
        expect_key: true,
    };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    out: Vec<Token<'a>>,
    /// At the start of a line or inside an inline table after `{` or `,`: a bare word is a key.
    expect_key: bool,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn push(&mut self, kind: Kind, len: usize) {
        let end = (self.pos + len).min(self.text.len());
        let text = &self.text[self.pos..end];
        self.pos = end;
        if text.is_empty() {
            return;
        }
        match self.out.last_mut() {
            Some(last) if last.kind == kind => {
                let start = self.pos - text.len() - last.text.len();
                last.text = &self.text[start..self.pos];
            }
            _ => self.out.push(Token { kind, text }),
        }
    }

    fn run(&mut self) {
        // Inline tables hold keys; arrays inside them hold values.
        let mut brackets: Vec<char> = Vec::new();
        while let Some(c) = self.rest().chars().next() {
            let rest = self.rest();
            match c {
                '\n' => {
                    self.expect_key = brackets.is_empty();
                    self.push(Kind::Plain, 1);
                }
                ' ' | '\t' | '\r' => {
                    let len = rest.len() - rest.trim_start_matches([' ', '\t', '\r']).len();
                    self.push(Kind::Plain, len);
                }
                '#' => self.push(Kind::Comment, rest.find('\n').unwrap_or(rest.len())),
                '[' if self.expect_key && brackets.is_empty() => {
                    self.push(Kind::Header, header_len(rest));
                    self.expect_key = false;
                }
                '"' | '\'' => {
                    let len = string_len(rest);
                    let kind = if self.expect_key {
                        Kind::Key
                    } else {
                        Kind::String
                    };
                    self.push(kind, len);
                }
                '=' => {
                    self.expect_key = false;
                    self.push(Kind::Punctuation, 1);
                }
                '{' | '[' => {
                    brackets.push(c);
                    self.expect_key = c == '{';
                    self.push(Kind::Punctuation, 1);
                }
                '}' | ']' => {
                    brackets.pop();
                    self.expect_key = false;
                    self.push(Kind::Punctuation, 1);
                }
                ',' => {
                    self.expect_key = brackets.last() == Some(&'{');
                    self.push(Kind::Punctuation, 1);
                }
                '.' if self.expect_key => self.push(Kind::Punctuation, 1),
                _ => {
                    let len = word_len(rest);
                    if len == 0 {
                        self.push(Kind::Plain, c.len_utf8());
                        continue;
                    }
                    let word = &rest[..len];
                    let kind = if self.expect_key {
                        Kind::Key
                    } else if word == "true" || word == "false" {
                        Kind::Boolean
                    } else if word.starts_with(|c: char| c.is_ascii_digit() || "+-".contains(c))
                        || ["inf", "nan"].contains(&word)
                    {
                        Kind::Number
                    } else {
                        Kind::Plain
                    };
                    self.push(kind, len);
                }
            }
        }
    }
}

/// A bare key or value word: letters, digits and the characters of numbers and dates.
fn word_len(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || "_-+.:".contains(c)))
        .unwrap_or(text.len())
}

/// `[table]` or `[[array]]` up to the closing bracket outside quotes, or the end of the line.
fn header_len(text: &str) -> usize {
    let close = if text.starts_with("[[") { "]]" } else { "]" };
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with(['"', '\'']) {
            i += string_len(rest);
        } else if rest.starts_with(close) {
            return i + close.len();
        } else if rest.starts_with('\n') {
            return i;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    text.len()
}

/// The length of the string starting at `text` (which begins with a quote), including its
/// quotes; an unterminated string runs to the end of its line (or of the text, if multi-line).
fn string_len(text: &str) -> usize {
    let quote = if text.starts_with('"') { '"' } else { '\'' };
    let triple: String = std::iter::repeat_n(quote, 3).collect();
    let escapes = quote == '"';
    if let Some(body) = text.strip_prefix(triple.as_str()) {
        let mut i = 0;
        while i < body.len() {
            let rest = &body[i..];
            if escapes && rest.starts_with('\\') {
                i += 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
            } else if rest.starts_with(triple.as_str()) {
                // Up to two more quotes may close the string as part of its content.
                let extra = rest[3..].chars().take_while(|c| *c == quote).count().min(2);
                return 3 + i + 3 + extra;
            } else {
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        return text.len();
    }
    let mut i = 1;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().unwrap_or(quote);
        if escapes && c == '\\' {
            i += 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
        } else if c == quote {
            return i + 1;
        } else if c == '\n' {
            return i;
        } else {
            i += c.len_utf8();
        }
    }
    text.len()
}

/// Appends `text` to `out` escaped for HTML element content and quoted attributes: the one
/// escaping of the site, used by the templates' auto-escaping and for every highlighted token.
pub fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_wraps_each_kind_in_a_span_and_escapes_every_text() {
        assert_eq!(
            html("# <b>\nk = \"</span>&'\"\n"),
            "<span class=\"t-c\"># &lt;b&gt;</span>\n<span class=\"t-k\">k</span> \
             <span class=\"t-p\">=</span> <span class=\"t-s\">&quot;&lt;/span&gt;&amp;&#39;&quot;</span>\n"
        );
    }

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        tokens(text).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn classifies_headers_keys_values_and_comments() {
        use Kind::*;
        let text =
            "[experts.\"@a/b\"] # the expert\nversion = \"1.0.0\"\nlazyInit = true\nn = [1, 2]\n";
        assert_eq!(
            kinds(text),
            [
                (Header, "[experts.\"@a/b\"]"),
                (Plain, " "),
                (Comment, "# the expert"),
                (Plain, "\n"),
                (Key, "version"),
                (Plain, " "),
                (Punctuation, "="),
                (Plain, " "),
                (String, "\"1.0.0\""),
                (Plain, "\n"),
                (Key, "lazyInit"),
                (Plain, " "),
                (Punctuation, "="),
                (Plain, " "),
                (Boolean, "true"),
                (Plain, "\n"),
                (Key, "n"),
                (Plain, " "),
                (Punctuation, "="),
                (Plain, " "),
                (Punctuation, "["),
                (Number, "1"),
                (Punctuation, ","),
                (Plain, " "),
                (Number, "2"),
                (Punctuation, "]"),
                (Plain, "\n"),
            ]
        );
    }

    #[test]
    fn multi_line_strings_are_one_token_and_hide_headers_and_comments() {
        let text = "instruction = \"\"\"\n[not a header]\n# not a comment \\\"\"\" still\n\"\"\"\nx = '''a''''\n";
        let found = kinds(text);
        assert!(found.contains(&(
            Kind::String,
            "\"\"\"\n[not a header]\n# not a comment \\\"\"\" still\n\"\"\""
        )));
        assert!(found.contains(&(Kind::String, "'''a''''")));
        assert!(!found.iter().any(|(k, _)| *k == Kind::Header));
    }

    #[test]
    fn inline_tables_hold_keys_and_array_tables_are_headers() {
        let found = kinds("t = { a = 1, \"b\" = [2] }\n[[list]]\n");
        assert!(found.contains(&(Kind::Key, "a")));
        assert!(found.contains(&(Kind::Key, "\"b\"")));
        assert!(found.contains(&(Kind::Header, "[[list]]")));
    }

    #[test]
    fn joining_the_tokens_gives_back_any_input() {
        let inputs = [
            "",
            "a",
            "[unterminated\n\"open\nkey = '''never closed",
            "x = \"\\",
            "é = \"ü\" # ✓\r\n[\"ß\".'t']\n",
            "]]]}}},,,===\n\t \"\"\"\"\"\"",
            "<script>alert(1)</script> = \"</pre>\"",
        ];
        for input in inputs {
            let joined: String = tokens(input).iter().map(|t| t.text).collect();
            assert_eq!(joined, input);
        }
    }
}
