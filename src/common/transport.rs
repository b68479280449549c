//! Where a registry is read from: a directory, a `file://` URL, an `http(s)://` base URL or a
//! registry archive (a `.tar` file, see `archive`).
//!
//! Every command that reads a registry (`build --previous`, `resolve`, `fetch`, `lock`,
//! `mirror`, `verify`) goes through [`Source`], which returns the bytes at a path relative to
//! the registry root. HTTP requests have timeouts, are retried a bounded number of times with
//! exponential backoff on network errors and 5xx answers, can be made conditional (ETag) for the
//! documents that change, and never follow a redirect to another host: that would let whoever
//! controls a redirect choose where the registry really comes from.

use std::cell::Cell;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ureq::http::Uri;
use url::{Position, Url};

use crate::common::archive::{Archive, ArchiveError};
use crate::common::fsutil::{self, IoError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts per request, counting the first one.
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_REDIRECTS: u32 = 5;
/// The largest document or blob accepted; a format-1 snapshot of a very large registry is the
/// biggest.
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// A registry to read from.
#[derive(Debug, Clone)]
pub enum Source {
    Dir(PathBuf),
    Http(Arc<HttpSource>),
    Archive(Arc<ArchiveSource>),
}

/// A registry archive, indexed when it is first read (parsing a location does no I/O beyond
/// telling a directory from a file) and refused whole, every time, if it is not a sound one.
#[derive(Debug)]
pub struct ArchiveSource {
    path: PathBuf,
    opened: std::sync::OnceLock<Result<Archive, ArchiveError>>,
}

impl ArchiveSource {
    /// The indexed archive, or why it cannot be read.
    pub fn open(&self) -> Result<&Archive, ArchiveError> {
        self.opened
            .get_or_init(|| Archive::open(&self.path))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// An HTTP(S) base URL and the agent that talks to it.
#[derive(Debug)]
pub struct HttpSource {
    /// The base URL, always ending with `/`.
    base: String,
    agent: ureq::Agent,
}

/// The answer to a conditional request.
#[derive(Debug)]
pub enum Conditional {
    /// The server has no such file.
    Missing,
    /// The copy the caller holds (named by its ETag) is current.
    NotModified,
    Fetched {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error(
        "{url}: the server redirects to another host ({from} -> {to}); refusing to follow it (use the final URL as the registry if you trust it)"
    )]
    CrossHostRedirect {
        url: String,
        from: String,
        to: String,
    },
    #[error("{path}: not a path inside a registry")]
    BadPath { path: String },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(
        "{location}: larger than the {limit} bytes the registry's metadata allows for it; refusing to read more"
    )]
    TooLarge { location: String, limit: u64 },
}

/// A registry location that could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("\"{text}\" is not a registry location: {reason}")]
pub struct SourceError {
    pub text: String,
    pub reason: String,
}

impl FromStr for Source {
    type Err = SourceError;

    /// `http://` and `https://` are base URLs; a path or `file://` URL that ends in `.tar` and
    /// is not a directory is a registry archive; other `file://` URLs and paths are
    /// directories. URLs are read by the `url` crate, as a browser reads them, and a base URL is
    /// kept as that parser writes it back, so every request goes where the parser says.
    fn from_str(text: &str) -> Result<Source, SourceError> {
        let error = |reason: &str| SourceError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.starts_with("http://") || text.starts_with("https://") {
            let url = Url::parse(text).map_err(|err| match err {
                url::ParseError::EmptyHost => error("the URL has no host"),
                other => error(&other.to_string()),
            })?;
            if url.query().is_some() {
                return Err(error("a base URL cannot have a query"));
            }
            if url.fragment().is_some() {
                return Err(error("a base URL cannot have a fragment"));
            }
            let mut base = String::from(url);
            if !base.ends_with('/') {
                base.push('/');
            }
            return Ok(Source::Http(Arc::new(HttpSource::new(base))));
        }
        if text.starts_with("file://") {
            let bad_escape = Cell::new(false);
            let note = |violation| {
                if violation == url::SyntaxViolation::PercentDecode {
                    bad_escape.set(true);
                }
            };
            let url = Url::options()
                .syntax_violation_callback(Some(&note))
                .parse(text)
                .map_err(|err| error(&err.to_string()))?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(error(
                    "a file:// URL names a directory: write '?' and '#' in it as %3F and %23",
                ));
            }
            // `file://localhost/srv` is `/srv`; any other host is not this machine.
            let path = url.to_file_path().map_err(|()| {
                error("a file:// URL needs an absolute path (file:///srv/registry)")
            })?;
            if bad_escape.get() || path.to_str().is_none() {
                return Err(error("the path holds an invalid percent-encoded sequence"));
            }
            return Ok(Source::local(path));
        }
        if text.is_empty() {
            return Err(error("it is empty"));
        }
        Ok(Source::local(PathBuf::from(text)))
    }
}

/// Whether `path` names a registry archive rather than a directory: it ends in `.tar` and is
/// not a directory.
pub fn is_archive_path(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|extension| extension == "tar") && !path.is_dir()
}

impl Source {
    pub fn dir(path: impl Into<PathBuf>) -> Source {
        Source::Dir(path.into())
    }

    /// A directory, or the registry archive at `path` (see [`is_archive_path`]).
    pub fn local(path: PathBuf) -> Source {
        if is_archive_path(&path) {
            Source::Archive(Arc::new(ArchiveSource {
                path,
                opened: std::sync::OnceLock::new(),
            }))
        } else {
            Source::Dir(path)
        }
    }

    /// The relative paths of the files below `prefix` (a directory path relative to the root,
    /// without a trailing `/`; empty for the whole registry), in byte order, or `None` where
    /// they cannot be listed (over HTTP). Symbolic links are listed as files and never
    /// followed.
    pub fn list(&self, prefix: &str) -> Result<Option<Vec<String>>, FetchError> {
        if !prefix.is_empty() {
            check_relative(prefix)?;
        }
        match self {
            Source::Http(_) => Ok(None),
            Source::Archive(archive) => {
                let below = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                };
                Ok(Some(
                    archive
                        .open()?
                        .files()
                        .filter(|path| path.starts_with(&below))
                        .map(str::to_owned)
                        .collect(),
                ))
            }
            Source::Dir(dir) => {
                let mut files = Vec::new();
                let top = dir.join(prefix);
                if std::fs::symlink_metadata(&top).is_err() {
                    return Ok(Some(files));
                }
                for entry in walkdir::WalkDir::new(&top).follow_links(false) {
                    let entry = entry.map_err(|err| fsutil::walk_error(err, &top))?;
                    if entry.file_type().is_dir() {
                        continue;
                    }
                    if let Some(relative) = entry
                        .path()
                        .strip_prefix(dir)
                        .ok()
                        .and_then(|relative| relative.to_str())
                    {
                        files.push(relative.replace(std::path::MAIN_SEPARATOR, "/"));
                    }
                }
                files.sort();
                Ok(Some(files))
            }
        }
    }

    /// Where `relative` lives, for messages: a file path or a URL.
    pub fn location(&self, relative: &str) -> String {
        match self {
            Source::Dir(dir) => dir.join(relative).display().to_string(),
            Source::Http(http) => http.url(relative),
            Source::Archive(archive) => format!("{}!/{relative}", archive.path.display()),
        }
    }

    /// The registry itself, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Dir(dir) => dir.display().to_string(),
            Source::Http(http) => http.base.clone(),
            Source::Archive(archive) => archive.path.display().to_string(),
        }
    }

    /// A name for this source that is safe as a directory name and distinct per source: a
    /// readable part and a short hash of the whole location.
    pub fn id(&self) -> String {
        let full = match self {
            Source::Dir(dir) => {
                let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                format!("file://{}", absolute.display())
            }
            Source::Http(http) => http.base.clone(),
            Source::Archive(archive) => {
                let path = &archive.path;
                let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                format!("file://{}", absolute.display())
            }
        };
        let readable: String = full
            .split_once("://")
            .map_or(full.as_str(), |(_, rest)| rest)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let readable = readable.trim_matches('_');
        let readable: String = readable.chars().take(80).collect();
        let hash = crate::common::model::Hash::of(full.as_bytes()).to_hex();
        format!("{readable}-{}", &hash[..12])
    }

    /// The bytes at `relative`, or `None` when there is no such file.
    pub fn get(&self, relative: &str) -> Result<Option<Vec<u8>>, FetchError> {
        self.get_at_most(relative, MAX_BODY_BYTES)
    }

    /// The bytes at `relative`, refusing to read more than `limit` of them: a file whose size
    /// signed metadata gives (a version file's `size`) is read no further than that, so a
    /// hostile server cannot make a reader hold more than the registry promised.
    pub fn get_at_most(&self, relative: &str, limit: u64) -> Result<Option<Vec<u8>>, FetchError> {
        match self.fetch(relative, None, limit)? {
            Conditional::Missing => Ok(None),
            Conditional::NotModified => {
                unreachable!("an unconditional request is never answered 304")
            }
            Conditional::Fetched { bytes, .. } => Ok(Some(bytes)),
        }
    }

    /// The bytes at `relative` (no more than `limit`), unless they still carry `etag`.
    /// Directories have no ETags, so they always answer with the bytes.
    pub fn get_if_changed(
        &self,
        relative: &str,
        etag: Option<&str>,
        limit: u64,
    ) -> Result<Conditional, FetchError> {
        self.fetch(relative, etag, limit)
    }

    fn fetch(
        &self,
        relative: &str,
        etag: Option<&str>,
        limit: u64,
    ) -> Result<Conditional, FetchError> {
        check_relative(relative)?;
        match self {
            Source::Dir(dir) => {
                let path = dir.join(relative);
                if std::fs::metadata(&path).is_ok_and(|meta| meta.len() > limit) {
                    return Err(FetchError::TooLarge {
                        location: path.display().to_string(),
                        limit,
                    });
                }
                Ok(match fsutil::read_optional(&path)? {
                    None => Conditional::Missing,
                    Some(bytes) => Conditional::Fetched { bytes, etag: None },
                })
            }
            Source::Http(http) => http.get(relative, etag, limit),
            Source::Archive(archive) => {
                let opened = archive.open()?;
                match opened.size(relative) {
                    None => Ok(Conditional::Missing),
                    Some(size) if size > limit => Err(FetchError::TooLarge {
                        location: opened.location(relative),
                        limit,
                    }),
                    Some(_) => Ok(match opened.read(relative)? {
                        None => Conditional::Missing,
                        Some(bytes) => Conditional::Fetched { bytes, etag: None },
                    }),
                }
            }
        }
    }
}

/// Refuses paths that could leave the registry root: paths come from documents, and a
/// malicious registry must not make a reader touch files outside it.
fn check_relative(relative: &str) -> Result<(), FetchError> {
    let bad = relative.is_empty()
        || relative.starts_with('/')
        || relative.contains('\\')
        || relative
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad {
        return Err(FetchError::BadPath {
            path: relative.to_owned(),
        });
    }
    Ok(())
}

impl HttpSource {
    fn new(base: String) -> HttpSource {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(READ_TIMEOUT))
            .timeout_recv_body(Some(READ_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(crate::common::generator())
            .build()
            .into();
        HttpSource { base, agent }
    }

    fn url(&self, relative: &str) -> String {
        format!("{}{relative}", self.base)
    }

    fn get(
        &self,
        relative: &str,
        etag: Option<&str>,
        limit: u64,
    ) -> Result<Conditional, FetchError> {
        let first = self.url(relative);
        let mut url = first.clone();
        for _ in 0..=MAX_REDIRECTS {
            match self.attempt_with_retries(&url, etag, limit)? {
                Answer::Done(result) => return Ok(result),
                Answer::Redirect(location) => {
                    let next =
                        resolve_redirect(&url, &location).ok_or_else(|| FetchError::Http {
                            url: url.clone(),
                            message: format!("redirect to an invalid location \"{location}\""),
                        })?;
                    check_redirect(&first, &url, &next)?;
                    url = next;
                }
            }
        }
        Err(FetchError::Http {
            url: first,
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// One logical request: retried on network errors and 5xx answers, with a doubling pause.
    fn attempt_with_retries(
        &self,
        url: &str,
        etag: Option<&str>,
        limit: u64,
    ) -> Result<Answer, FetchError> {
        let mut pause = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.attempt(url, etag, limit) {
                Ok(answer) => return Ok(answer),
                Err(Failure::TooLarge) => {
                    return Err(FetchError::TooLarge {
                        location: url.to_owned(),
                        limit,
                    });
                }
                Err(Failure::Final(message)) => {
                    return Err(FetchError::Http {
                        url: url.to_owned(),
                        message,
                    });
                }
                Err(Failure::Retryable(message)) if attempt >= ATTEMPTS => {
                    return Err(FetchError::Http {
                        url: url.to_owned(),
                        message: format!("{message} (gave up after {ATTEMPTS} attempts)"),
                    });
                }
                Err(Failure::Retryable(_)) => {
                    std::thread::sleep(pause);
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }

    fn attempt(&self, url: &str, etag: Option<&str>, limit: u64) -> Result<Answer, Failure> {
        let mut request = self.agent.get(url);
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        let mut response = request.call().map_err(|err| match err {
            ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_) => Failure::Retryable(err.to_string()),
            other => Failure::Final(other.to_string()),
        })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match status {
            200 => {
                let etag = header("etag");
                let bytes = response
                    .body_mut()
                    .with_config()
                    .limit(limit)
                    .read_to_vec()
                    .map_err(|err| match err {
                        ureq::Error::BodyExceedsLimit(_) => Failure::TooLarge,
                        other => Failure::Retryable(other.to_string()),
                    })?;
                Ok(Answer::Done(Conditional::Fetched { bytes, etag }))
            }
            304 if etag.is_some() => Ok(Answer::Done(Conditional::NotModified)),
            404 | 410 => Ok(Answer::Done(Conditional::Missing)),
            301 | 302 | 303 | 307 | 308 => match header("location") {
                Some(location) => Ok(Answer::Redirect(location)),
                None => Err(Failure::Final(format!(
                    "HTTP {status} without a Location header"
                ))),
            },
            429 | 500..=599 => Err(Failure::Retryable(format!("HTTP {status}"))),
            other => Err(Failure::Final(format!("HTTP {other}"))),
        }
    }
}

enum Answer {
    Done(Conditional),
    Redirect(String),
}

enum Failure {
    Retryable(String),
    Final(String),
    /// The body is larger than the limit of the request.
    TooLarge,
}

/// The absolute http(s) URL a `Location` header points at, resolved against the request's URL
/// as a browser resolves it (so `\\host/x` is another host, like `//host/x`). `None` when it is
/// not a URL or not an http(s) one.
///
/// An absolute location is kept as the server wrote it (its path may hold `./` or escapes the
/// server wants back) when ureq's own parser reads the same scheme, host and port from it;
/// otherwise it is written as the `url` crate reads it, so the request goes where it was judged.
fn resolve_redirect(from: &str, location: &str) -> Option<String> {
    let next = Url::parse(from).ok()?.join(location).ok()?;
    if !matches!(next.scheme(), "http" | "https") {
        return None;
    }
    let default_port = |scheme: &str| if scheme == "https" { 443 } else { 80 };
    let read_alike = location.parse::<Uri>().is_ok_and(|uri| {
        uri.scheme_str() == Some(next.scheme())
            && uri
                .host()
                .zip(next.host_str())
                .is_some_and(|(ours, theirs)| ours.eq_ignore_ascii_case(theirs))
            && uri.port_u16().unwrap_or(default_port(next.scheme()))
                == next.port().unwrap_or(default_port(next.scheme()))
    });
    Some(if read_alike {
        location.to_owned()
    } else {
        next.into()
    })
}

/// Refuses a redirect from `from` to `to` (both absolute) that leaves the host (or the port or
/// credentials: the whole authority) or goes from https to http. `first` is the URL asked for.
fn check_redirect(first: &str, from: &str, to: &str) -> Result<(), FetchError> {
    let (from_authority, to_authority) = (authority(from), authority(to));
    let (from_scheme, to_scheme) = (scheme(from), scheme(to));
    // A URL that does not parse has an empty authority, and no redirect from one is followed.
    if from_authority.is_empty()
        || from_authority != to_authority
        || from_scheme == "https" && to_scheme != "https"
    {
        return Err(FetchError::CrossHostRedirect {
            url: first.to_owned(),
            from: format!("{from_scheme}://{from_authority}"),
            to: format!("{to_scheme}://{to_authority}"),
        });
    }
    Ok(())
}

fn scheme(url: &str) -> String {
    Url::parse(url).map_or_else(|_| String::new(), |url| url.scheme().to_owned())
}

/// `[user[:password]@]host[:port]` as the URL parser reads it: the host lowercased and decoded,
/// a default port dropped. Empty when `url` does not parse.
fn authority(url: &str) -> String {
    Url::parse(url).map_or_else(
        |_| String::new(),
        |url| url[Position::BeforeUsername..Position::AfterPort].to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn locations_parse_into_sources() {
        assert!(matches!("dist".parse::<Source>(), Ok(Source::Dir(p)) if p == Path::new("dist")));
        assert!(
            matches!("file:///srv/my%20registry".parse::<Source>(), Ok(Source::Dir(p)) if p == Path::new("/srv/my registry"))
        );
        let Ok(Source::Http(http)) = "https://example.com/registry".parse::<Source>() else {
            panic!("not http");
        };
        assert_eq!(
            http.url("v1/root.json"),
            "https://example.com/registry/v1/root.json"
        );
        assert!("file://relative".parse::<Source>().is_err());
        assert!("https://".parse::<Source>().is_err());
        // A path ending in .tar that is not a directory is an archive, read only when used.
        for archive in ["registry.tar", "file:///srv/no%20such/registry.tar"] {
            assert!(
                matches!(archive.parse::<Source>(), Ok(Source::Archive(_))),
                "{archive}"
            );
        }
        assert!(matches!(
            "registry.tar.gz".parse::<Source>(),
            Ok(Source::Dir(_))
        ));
    }

    #[test]
    fn paths_cannot_leave_the_registry() {
        assert!(check_relative("v1/root.json").is_ok());
        for bad in ["", "/etc/passwd", "v1/../../x", "v1//x", "v1\\x", "./v1"] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_resolve_against_the_request() {
        let from = "http://a.example:8080/reg/v1/root.json";
        assert_eq!(
            resolve_redirect(from, "/other/v1/root.json").unwrap(),
            "http://a.example:8080/other/v1/root.json"
        );
        assert_eq!(
            resolve_redirect(from, "root2.json").unwrap(),
            "http://a.example:8080/reg/v1/root2.json"
        );
        assert_eq!(
            resolve_redirect(from, "//b.example/x").unwrap(),
            "http://b.example/x"
        );
        assert_eq!(authority(from), "a.example:8080");
    }

    #[test]
    fn base_urls_are_kept_as_the_url_parser_reads_them() {
        let base = |text: &str| match text.parse::<Source>() {
            Ok(Source::Http(http)) => http.base.clone(),
            other => panic!("{text}: {other:?}"),
        };
        // A backslash ends the host, as in a browser: this is 127.0.0.1, not a name under
        // example.com, and the requests go there.
        assert_eq!(
            base("https://127.0.0.1\\.example.com/reg"),
            "https://127.0.0.1/.example.com/reg/"
        );
        assert_eq!(
            base("https://Example.COM:443/reg/"),
            "https://example.com/reg/"
        );
        assert_eq!(base("http://0x7f.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(base("http://[::1]:8080/r"), "http://[::1]:8080/r/");
        for (bad, reason) in [
            ("https://", "the URL has no host"),
            ("https://example.com/?x=1", "a base URL cannot have a query"),
            (
                "https://example.com/#top",
                "a base URL cannot have a fragment",
            ),
            ("https://example.com:99999/", "invalid port number"),
        ] {
            let err = bad.parse::<Source>().unwrap_err();
            assert_eq!(err.reason, reason, "{bad}");
        }
    }

    #[test]
    fn file_urls_are_directories() {
        let dir = |text: &str| match text.parse::<Source>() {
            Ok(Source::Dir(dir)) => dir,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(dir("file://localhost/srv/reg"), Path::new("/srv/reg"));
        assert_eq!(dir("file:///srv/r%C3%A9g"), Path::new("/srv/rég"));
        for (bad, reason) in [
            ("file://host/srv", "needs an absolute path"),
            ("file:///srv/a%zz", "invalid percent-encoded sequence"),
            ("file:///srv/a%ff", "invalid percent-encoded sequence"),
            ("file:///srv/a?b", "write '?' and '#'"),
        ] {
            let err = bad.parse::<Source>().unwrap_err();
            assert!(err.reason.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn redirects_resolve_as_a_browser_resolves_them() {
        let from = "https://a.example/reg/v1/root.json";
        // A backslash is a slash in an http(s) URL, so this names another host.
        assert_eq!(
            resolve_redirect(from, "\\\\b.example/x").unwrap(),
            "https://b.example/x"
        );
        assert_eq!(
            resolve_redirect(from, "../v2/root.json").unwrap(),
            "https://a.example/reg/v2/root.json"
        );
        assert_eq!(
            resolve_redirect(from, "HTTPS://A.EXAMPLE:443/x").unwrap(),
            "HTTPS://A.EXAMPLE:443/x"
        );
        assert_eq!(resolve_redirect(from, "file:///etc/passwd"), None);
        assert_eq!(resolve_redirect(from, "ftp://a.example/x"), None);
        assert_eq!(resolve_redirect(from, "https://[::1"), None);
        // Written as the server wrote it when both parsers read the same host from it...
        assert_eq!(
            resolve_redirect(from, "https://a.example/./v1/%72oot.json").unwrap(),
            "https://a.example/./v1/%72oot.json"
        );
        // ...and as the `url` crate reads it when ureq's parser would read another host, or
        // none.
        assert_eq!(
            resolve_redirect(from, "https://127.0.0.%31/x").unwrap(),
            "https://127.0.0.1/x"
        );
        assert_eq!(
            resolve_redirect(from, "https://a.example\\@b.example/x").unwrap(),
            "https://a.example/@b.example/x"
        );
        assert_eq!(authority("https://user@A.Example:443/x"), "user@a.example");
        assert_eq!(authority("http://[::1]:8080/"), "[::1]:8080");
    }

    #[test]
    fn redirects_stay_on_the_host_and_never_downgrade() {
        let follows = |from: &str, location: &str| {
            let to = resolve_redirect(from, location).unwrap();
            check_redirect(from, from, &to).is_ok()
        };
        assert!(follows("http://a.example/x", "/y"));
        assert!(follows("http://a.example/x", "https://a.example/y"));
        assert!(follows("http://a.example:80/x", "http://A.EXAMPLE/y"));
        assert!(follows("http://127.0.0.1/x", "http://0x7f.1/y"));
        // The backslash ends the host: still a.example, with a path that starts /.evil.
        assert!(follows(
            "http://a.example/x",
            "http://a.example\\.evil.com/y"
        ));
        assert!(!follows("https://a.example/x", "http://a.example/y"));
        assert!(!follows(
            "http://a.example/x",
            "http://a.example.evil.com/y"
        ));
        assert!(!follows("http://a.example/x", "http://a.example:8080/y"));
        assert!(!follows("http://a.example/x", "http://user@a.example/y"));
        assert!(!follows("http://a.example/x", "\\\\b.example/y"));
        let Err(FetchError::CrossHostRedirect { url, from, to }) = check_redirect(
            "http://127.0.0.1:8080/v1/root.json",
            "http://127.0.0.1:8080/v1/root.json",
            "https://localhost:8080/v1/root.json",
        ) else {
            panic!("followed");
        };
        assert_eq!(
            (url.as_str(), from.as_str(), to.as_str()),
            (
                "http://127.0.0.1:8080/v1/root.json",
                "http://127.0.0.1:8080",
                "https://localhost:8080"
            )
        );
    }

    #[test]
    fn source_ids_are_safe_directory_names() {
        let id = "https://example.com/reg/".parse::<Source>().unwrap().id();
        assert!(id.starts_with("example.com_reg-"), "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        );
    }
}
