//! What a static host answers to one request: the Perstack API under `/api/` (files, a
//! directory's `index.html`, the hosted API's JSON errors), the website elsewhere (files, a
//! redirect that adds a directory's slash, the `404.html` page), and the headers of `_headers`.

use std::path::Path;

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::json;

use super::headers::Rules;
use super::lookup::{self, Found, RequestPath};

/// The site's page for paths that hold nothing.
const NOT_FOUND_PAGE: &str = "404.html";
const JSON: &str = "application/json";
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

/// The served directory and its `_headers` rules.
#[derive(Debug)]
pub struct Site {
    /// Canonical, so that every path found below it is inside it.
    pub root: std::path::PathBuf,
    pub rules: Rules,
}

/// A response, before it goes on the wire. For `HEAD` the body is dropped there.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Site {
    /// Answers a request for the raw (still percent-encoded) `path` and `query` of its target.
    pub fn respond(&self, method: &Method, path: &str, query: Option<&str>) -> Reply {
        let request = RequestPath::parse(path);
        let is_api = match &request {
            Ok(request) => request.is_api(),
            Err(_) => path == "/api" || path.starts_with("/api/"),
        };
        let decoded = request
            .as_ref()
            .ok()
            .map(|request| request.decoded.as_str());
        let answer = Answer {
            site: self,
            decoded,
            is_api,
        };
        if method != Method::GET && method != Method::HEAD {
            let mut reply = answer.error(
                StatusCode::METHOD_NOT_ALLOWED,
                "this registry is static: only GET and HEAD are allowed".to_owned(),
            );
            reply
                .headers
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return reply;
        }
        let request = match &request {
            Ok(request) => request,
            Err(why) => {
                return answer.error(StatusCode::BAD_REQUEST, format!("{path}: {why}"));
            }
        };
        if request.is_private() {
            return answer.not_found();
        }
        match (request.find(&self.root), is_api) {
            (Found::File(file), _) if !request.has_trailing_slash() => answer.file(&file),
            (Found::Dir(dir), true) => match lookup::index_file(&dir) {
                Some(index) => answer.file(&index),
                None => answer.not_found(),
            },
            (Found::Dir(_), false) if !request.has_trailing_slash() => {
                let location = match query {
                    Some(query) => format!("{path}/?{query}"),
                    None => format!("{path}/"),
                };
                answer.redirect(&location)
            }
            (Found::Dir(dir), false) => match lookup::index_file(&dir) {
                Some(index) => answer.file(&index),
                None => answer.not_found(),
            },
            _ => answer.not_found(),
        }
    }
}

/// The answer to one request, which knows where it was asked.
struct Answer<'a> {
    site: &'a Site,
    /// The decoded request path, when it could be decoded: what `_headers` patterns match.
    decoded: Option<&'a str>,
    is_api: bool,
}

impl Answer<'_> {
    /// A reply with the `_headers` rules for the request path, and `content_type` unless a
    /// rule sets one. Under `/api/` everything is JSON unless a rule says otherwise.
    fn reply(&self, status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Reply {
        let mut headers = HeaderMap::new();
        for (name, value) in self
            .decoded
            .map(|path| self.site.rules.headers_for(path))
            .unwrap_or_default()
        {
            headers.insert(name, value);
        }
        let content_type = if self.is_api { JSON } else { content_type };
        headers
            .entry(header::CONTENT_TYPE)
            .or_insert(HeaderValue::from_static(content_type));
        Reply {
            status,
            headers,
            body,
        }
    }

    fn file(&self, path: &Path) -> Reply {
        match std::fs::read(path) {
            Ok(bytes) => self.reply(StatusCode::OK, content_type(path), bytes),
            Err(_) => self.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}: the file cannot be read", self.decoded.unwrap_or("")),
            ),
        }
    }

    fn redirect(&self, location: &str) -> Reply {
        let mut reply = self.reply(StatusCode::MOVED_PERMANENTLY, PLAIN_TEXT, Vec::new());
        if let Ok(location) = HeaderValue::from_bytes(location.as_bytes()) {
            reply.headers.insert(header::LOCATION, location);
        }
        reply
    }

    /// The API's `not-found.json` under `/api/` (a JSON error naming the path if there is
    /// none), the site's `404.html` elsewhere (plain text if there is none).
    fn not_found(&self) -> Reply {
        let page = if self.is_api {
            crate::format::api::NOT_FOUND_PATH
        } else {
            NOT_FOUND_PAGE
        };
        if let Found::File(path) = lookup::find(&self.site.root, page.split('/'))
            && let Ok(bytes) = std::fs::read(&path)
        {
            return self.reply(StatusCode::NOT_FOUND, content_type(&path), bytes);
        }
        let reason = format!("{} was not found", self.decoded.unwrap_or("the path"));
        self.error(StatusCode::NOT_FOUND, reason)
    }

    /// An error in the hosted Perstack API's shape under `/api/`, plain text elsewhere.
    fn error(&self, status: StatusCode, reason: String) -> Reply {
        let phrase = status.canonical_reason().unwrap_or("Error");
        if self.is_api {
            let body = json!({ "code": status.as_u16(), "error": phrase, "reason": reason });
            self.reply(status, JSON, format!("{body}\n").into_bytes())
        } else {
            let body = format!("{} {phrase}: {reason}\n", status.as_u16());
            self.reply(status, PLAIN_TEXT, body.into_bytes())
        }
    }
}

/// The Content-Type of a file by its extension, for the kinds of file a registry holds.
fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or("");
    match extension {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => JSON,
        "txt" | "toml" => PLAIN_TEXT,
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type(Path::new("a/index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("v1/blobs/ab.toml")), PLAIN_TEXT);
        assert_eq!(
            content_type(Path::new("experts/@acme/x@1.0.0")),
            "application/octet-stream"
        );
    }

    #[test]
    fn the_api_error_has_the_hosted_shape_and_names_the_path() {
        let root = tempfile::tempdir().unwrap();
        let site = Site {
            root: root.path().canonicalize().unwrap(),
            rules: Rules::default(),
        };
        let reply = site.respond(&Method::GET, "/api/registry/v1/experts/%40acme%2Fx", None);
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.headers[header::CONTENT_TYPE], JSON);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body,
            json!({
                "code": 404,
                "error": "Not Found",
                "reason": "/api/registry/v1/experts/@acme/x was not found"
            })
        );
    }
}
