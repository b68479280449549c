//! The `_headers` file: the response headers a Netlify- or Cloudflare-Pages-style host adds to
//! each path, read so that `serve` answers with the headers the deployed registry has.
//!
//! The syntax is the part of those hosts' format that the build writes (`crate::format::headers::headers_file`):
//! an unindented line is a URL path pattern, exact or ending in `*` (any rest of the path);
//! the indented `Name: value` lines below it are its headers; `#` starts a comment. Every rule
//! whose pattern matches a path applies, in file order, and when several set the same header
//! their values are joined with `, `, as those hosts do. Anything else (full URLs,
//! placeholders, a `*` inside a path, detached headers) is refused rather than half-understood.

use std::path::{Path, PathBuf};

use hyper::header::{HeaderName, HeaderValue};

/// The parsed rules of one `_headers` file, in file order.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    pattern: Pattern,
    headers: Vec<(HeaderName, String)>,
}

#[derive(Debug)]
enum Pattern {
    Exact(String),
    /// A pattern ending in `*`, kept without it.
    Prefix(String),
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match self {
            Pattern::Exact(exact) => path == exact,
            Pattern::Prefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }
}

/// Every problem of a malformed `_headers` file, each with its line.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.lines())]
pub struct HeadersError {
    pub path: PathBuf,
    /// `(line, message)`, lines counted from 1.
    pub problems: Vec<(usize, String)>,
}

impl HeadersError {
    fn lines(&self) -> String {
        let path = self.path.display();
        self.problems
            .iter()
            .map(|(line, message)| format!("{path}:{line}: {message}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Rules {
    /// Parses the text of the `_headers` file at `path` (named in errors only).
    pub fn parse(text: &str, path: &Path) -> Result<Rules, HeadersError> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut problems = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indented = line.starts_with([' ', '\t']);
            let parsed = if indented {
                match rules.last_mut() {
                    Some(rule) => parse_header(trimmed).map(|header| rule.headers.push(header)),
                    None => Err("a header line must follow a URL path pattern".to_owned()),
                }
            } else {
                parse_pattern(trimmed).map(|pattern| {
                    rules.push(Rule {
                        pattern,
                        headers: Vec::new(),
                    });
                })
            };
            if let Err(message) = parsed {
                problems.push((number, message));
            }
        }
        if problems.is_empty() {
            Ok(Rules { rules })
        } else {
            Err(HeadersError {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// The headers for `path` (decoded, starting with `/`): those of every matching rule, in
    /// the order they first appear, with the values of a header set more than once joined.
    pub fn headers_for(&self, path: &str) -> Vec<(HeaderName, HeaderValue)> {
        let mut joined: Vec<(HeaderName, String)> = Vec::new();
        let matching = self.rules.iter().filter(|rule| rule.pattern.matches(path));
        for (name, value) in matching.flat_map(|rule| &rule.headers) {
            match joined.iter_mut().find(|(seen, _)| seen == name) {
                Some((_, values)) => {
                    values.push_str(", ");
                    values.push_str(value);
                }
                None => joined.push((name.clone(), value.clone())),
            }
        }
        joined
            .into_iter()
            .filter_map(|(name, value)| Some((name, HeaderValue::from_str(&value).ok()?)))
            .collect()
    }
}

fn parse_pattern(line: &str) -> Result<Pattern, String> {
    if !line.starts_with('/') {
        return Err(format!(
            "expected a URL path starting with `/` or an indented `Name: value` line, found `{line}`"
        ));
    }
    if line.contains(char::is_whitespace) {
        return Err(format!("a URL path pattern has no spaces: `{line}`"));
    }
    if line.split('/').any(|segment| segment.starts_with(':')) {
        return Err(format!("placeholders are not supported: `{line}`"));
    }
    let prefix = line.strip_suffix('*');
    if prefix.unwrap_or(line).contains('*') {
        return Err(format!(
            "`*` is supported only at the end of a pattern: `{line}`"
        ));
    }
    Ok(match prefix {
        Some(prefix) => Pattern::Prefix(prefix.to_owned()),
        None => Pattern::Exact(line.to_owned()),
    })
}

fn parse_header(line: &str) -> Result<(HeaderName, String), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!("expected `Name: value`, found `{line}`"));
    };
    let (name, value) = (name.trim(), value.trim());
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    HeaderValue::from_str(value)
        .map_err(|_| format!("the value of {name} is not a valid header value"))?;
    Ok((name, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Rules, HeadersError> {
        Rules::parse(text, Path::new("dist/_headers"))
    }

    fn headers(rules: &Rules, path: &str) -> Vec<(String, String)> {
        rules
            .headers_for(path)
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn the_build_s_own_file_parses() {
        let rules = parse(&crate::format::headers::headers_file()).unwrap();
        let api = headers(&rules, "/api/registry/v1/experts/@acme/researcher@1.0.0");
        assert!(api.contains(&pair("content-type", "application/json")));
        assert!(
            api.iter()
                .any(|(name, _)| name == "content-security-policy")
        );
    }

    #[test]
    fn every_matching_rule_applies_in_file_order_and_repeated_headers_are_joined() {
        let rules = parse(
            "# caching\n/assets/*\n  Cache-Control: immutable\n  X-A: 1\n\n/*\n\tX-A: 2\n/assets/app.css\n  X-B: exact\n/other/*\n  X-C: no\n",
        )
        .unwrap();
        assert_eq!(
            headers(&rules, "/assets/app.css"),
            [
                pair("cache-control", "immutable"),
                pair("x-a", "1, 2"),
                pair("x-b", "exact")
            ]
        );
        assert_eq!(headers(&rules, "/assets"), [pair("x-a", "2")]);
        assert_eq!(headers(&rules, "/other"), [pair("x-a", "2")]);
    }

    #[test]
    fn an_exact_pattern_matches_only_its_path() {
        let rules = parse("/\n  X-Home: yes\n").unwrap();
        assert_eq!(headers(&rules, "/"), [pair("x-home", "yes")]);
        assert!(headers(&rules, "/index.html").is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let err = parse(
            "  X-Orphan: 1\n/ok\n  no colon\n  Bad Name: x\nhttps://example.com/*\n/a/*/b\n/:splat\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = err.problems.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [1, 3, 4, 5, 6, 7]);
        let text = err.to_string();
        assert!(
            text.starts_with("dist/_headers:1: a header line must follow a URL path pattern\n"),
            "{text}"
        );
        assert!(text.contains("dist/_headers:3: expected `Name: value`, found `no colon`"));
    }
}
