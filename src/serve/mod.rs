//! `serve`: a built registry over HTTP(S) on this machine, answering as the static hosts it
//! is deployed to do, so that it can be tried with the Perstack runtime before it is published.
//!
//! [`lookup`] maps a request path to a file without leaving the directory or following a
//! symlink, [`respond`] decides the answer (the API's JSON errors under `/api/`, the site's
//! redirects and 404 page elsewhere) with the headers of [`headers`] (`_headers`), and [`tls`]
//! keeps the local certificates the runtime needs, since it accepts only an https
//! `perstackApiBaseUrl`. This module binds the address and runs hyper on a single-threaded
//! tokio runtime: registry files are small and read whole, so one thread serves a local user.

pub mod headers;
pub mod lookup;
pub mod respond;
pub mod tls;

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_rustls::TlsAcceptor;

use crate::common::fsutil::IoError;

/// How long a client may take to send a request's headers (or, between requests, to start the
/// next one), and to finish a TLS handshake: a client that trickles bytes cannot hold a
/// connection, and the task serving it, forever.
const SLOW_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
use headers::{HeadersError, Rules};
use respond::Site;

/// What to serve, where, and whether over TLS.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The registry directory `build` wrote.
    pub dir: PathBuf,
    pub listen: SocketAddr,
    /// Serve https with the certificates kept in this directory.
    pub tls_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot serve {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve {0}: not a directory")]
    NotADirectory(PathBuf),
    #[error(
        "cannot serve {0}: not a built registry (v1/root.json is missing); run perstack-registry build first"
    )]
    NotARegistry(PathBuf),
    #[error("malformed _headers:\n{0}")]
    Headers(#[from] HeadersError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(
        "the certificate directory {tls_dir} is inside the served directory {dir}; its private keys must not be served: pass another --tls-dir"
    )]
    TlsDirInside { tls_dir: PathBuf, dir: PathBuf },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the server: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Something that happened while serving, for the request log.
#[derive(Debug)]
pub enum Event {
    /// One request answered: its method, target (path and query, as sent) and status.
    Request {
        method: Method,
        target: String,
        status: StatusCode,
    },
    /// A connection that failed before any request: a TLS handshake with a client that does
    /// not trust the certificate, or plain http sent to the https port.
    Handshake {
        peer: SocketAddr,
        error: std::io::Error,
    },
    /// A connection that could not be accepted (too many open files, for instance).
    Accept(std::io::Error),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Request {
                method,
                target,
                status,
            } => write!(f, "{method} {} {}", printable(target), status.as_u16()),
            Event::Handshake { peer, error } => {
                write!(f, "TLS handshake with {peer} failed: {error}")
            }
            Event::Accept(error) => write!(f, "cannot accept a connection: {error}"),
        }
    }
}

/// A request target as it may be shown on a terminal: anything but printable ASCII escaped.
fn printable(target: &str) -> String {
    target
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() {
                c.to_string()
            } else {
                c.escape_unicode().to_string()
            }
        })
        .collect()
}

/// A checked registry directory with its address bound, ready to [`run`](Server::run).
pub struct Server {
    site: Arc<Site>,
    listener: std::net::TcpListener,
    address: SocketAddr,
    certificates: Option<tls::Certificates>,
}

impl Server {
    /// Checks the directory and its `_headers`, prepares the certificates when serving https,
    /// and binds the address; nothing is served until [`run`](Server::run).
    pub fn bind(options: &ServeOptions) -> Result<Server, ServeError> {
        let root = std::fs::canonicalize(&options.dir).map_err(|source| ServeError::Dir {
            path: options.dir.clone(),
            source,
        })?;
        if !root.is_dir() {
            return Err(ServeError::NotADirectory(options.dir.clone()));
        }
        if !matches!(
            lookup::find(&root, ["v1", "root.json"]),
            lookup::Found::File(_)
        ) {
            return Err(ServeError::NotARegistry(options.dir.clone()));
        }
        let headers_path = options.dir.join(crate::format::headers::HEADERS_PATH);
        let rules = match lookup::find(&root, [crate::format::headers::HEADERS_PATH]) {
            lookup::Found::File(path) => {
                let bytes = crate::common::fsutil::read(&path)?;
                Rules::parse(&String::from_utf8_lossy(&bytes), &headers_path)?
            }
            _ => Rules::default(),
        };
        let certificates = match &options.tls_dir {
            None => None,
            Some(tls_dir) => {
                let resolved = resolve_planned(tls_dir);
                if resolved.starts_with(&root) {
                    return Err(ServeError::TlsDirInside {
                        tls_dir: tls_dir.clone(),
                        dir: options.dir.clone(),
                    });
                }
                Some(tls::load_or_create(tls_dir)?)
            }
        };
        let listen = |source| ServeError::Listen {
            address: options.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(options.listen).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        let address = listener.local_addr().map_err(listen)?;
        Ok(Server {
            site: Arc::new(Site { root, rules }),
            listener,
            address,
            certificates,
        })
    }

    /// The base URL the registry is served at, without a trailing slash. An address that
    /// listens on every interface is reached, and certified, as loopback.
    pub fn url(&self) -> String {
        let scheme = if self.certificates.is_some() {
            "https"
        } else {
            "http"
        };
        let mut address = self.address;
        if address.ip().is_unspecified() {
            address.set_ip(match address.ip() {
                IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("{scheme}://{address}")
    }

    /// The CA certificate a client must trust, when serving https.
    pub fn ca_certificate(&self) -> Option<&Path> {
        self.certificates.as_ref().map(|c| c.ca_path.as_path())
    }

    /// What preparing the certificates made or replaced, for the user.
    pub fn note(&self) -> Option<&str> {
        self.certificates.as_ref().and_then(|c| c.note.as_deref())
    }

    /// Serves until the process is stopped, reporting each request and failure to `log`.
    /// Returns only if the server cannot start.
    pub fn run(self, log: impl Fn(&Event) + Send + Sync + 'static) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ServeError::Runtime)?;
        let acceptor = self
            .certificates
            .map(|certificates| TlsAcceptor::from(certificates.config));
        let log: Arc<dyn Fn(&Event) + Send + Sync> = Arc::new(log);
        runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(self.listener).map_err(ServeError::Runtime)?;
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        log(&Event::Accept(error));
                        // Accepting fails again at once while the cause lasts.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (site, log, acceptor) = (self.site.clone(), log.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        None => serve_connection(TokioIo::new(stream), site, log).await,
                        Some(acceptor) => {
                            let handshake =
                                tokio::time::timeout(SLOW_CLIENT_TIMEOUT, acceptor.accept(stream));
                            match handshake.await {
                                Ok(Ok(stream)) => {
                                    serve_connection(TokioIo::new(stream), site, log).await
                                }
                                Ok(Err(error)) => log(&Event::Handshake { peer, error }),
                                Err(_) => log(&Event::Handshake {
                                    peer,
                                    error: std::io::Error::new(
                                        std::io::ErrorKind::TimedOut,
                                        "the TLS handshake took too long",
                                    ),
                                }),
                            }
                        }
                    }
                });
            }
        })
    }
}

/// Answers the requests of one connection until the client closes it.
async fn serve_connection<I>(io: I, site: Arc<Site>, log: Arc<dyn Fn(&Event) + Send + Sync>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let response = answer(&site, &request);
        log(&Event::Request {
            method: request.method().clone(),
            target: request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().to_string(), |target| target.to_string()),
            status: response.status(),
        });
        async move { Ok::<_, Infallible>(response) }
    });
    // A connection the client drops midway has nothing left to answer.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(SLOW_CLIENT_TIMEOUT)
        .serve_connection(io, service)
        .await;
}

fn answer(site: &Site, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let uri = request.uri();
    let reply = site.respond(request.method(), uri.path(), uri.query());
    let mut headers = reply.headers;
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(reply.body.len()));
    let body = if request.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(reply.body)
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = headers;
    response
}

/// `path` made absolute with its existing part's symlinks resolved, to compare with the
/// canonical served directory before anything is created.
fn resolve_planned(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            return rest
                .iter()
                .rev()
                .fold(canonical, |path, name| path.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}
