//! `serve`: the real binary serving a registry made by hand in a temporary directory, asked by
//! a real HTTP client (ureq) over loopback, in plain http and with `--tls`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

const BINARY: &str = env!("CARGO_BIN_EXE_perstack-registry");
const EXPERTS: &str = "/api/registry/v1/experts";
const VERSION_DOC: &str = "{\"data\":{\"expert\":{\"key\":\"@acme/researcher@1.0.0\"}}}\n";
const BARE_NAME_DOC: &str = "{\"data\":{\"expert\":{\"key\":\"@acme/researcher\"}}}\n";
const VERSIONS_DOC: &str = "{\"data\":{\"versions\":[]}}\n";
const NOT_FOUND_DOC: &str = "{\"code\":404,\"error\":\"Not Found\",\"reason\":\"static\"}\n";
const NOT_FOUND_PAGE: &str = "<!doctype html><title>Not found</title>\n";
const SECRET: &str = "outside the registry";

/// A registry as `build` lays it out, plus what must never be served: the build's private
/// state, `_headers` itself, and symlinks to a directory outside it.
struct Fixture {
    registry: TempDir,
    outside: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let registry = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let experts = "api/registry/v1/experts";
        for (path, content) in [
            ("v1/root.json", "{\"format\":1}\n"),
            (
                "_headers",
                perstack_registry::format::headers::headers_file().as_str(),
            ),
            (&format!("{experts}/@acme/researcher@1.0.0"), VERSION_DOC),
            (
                &format!("{experts}/@acme/researcher/index.html"),
                BARE_NAME_DOC,
            ),
            (
                &format!("{experts}/@acme/researcher/versions"),
                VERSIONS_DOC,
            ),
            ("api/registry/v1/not-found.json", NOT_FOUND_DOC),
            ("index.html", "<!doctype html><title>Home</title>\n"),
            ("404.html", NOT_FOUND_PAGE),
            (
                "experts/@acme/researcher/index.html",
                "<!doctype html><title>researcher</title>\n",
            ),
            (".perstack-build/plan.json", "{\"files\":[]}\n"),
        ] {
            let path = registry.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        fs::write(outside.path().join("secret.txt"), SECRET).unwrap();
        fs::write(outside.path().join("x@1.0.0"), SECRET).unwrap();
        let link = |target: &Path, link: &str| {
            std::os::unix::fs::symlink(target, registry.path().join(link)).unwrap();
        };
        link(&outside.path().join("secret.txt"), "leak.txt");
        link(outside.path(), "outside");
        link(outside.path(), &format!("{experts}/@evil"));
        Fixture { registry, outside }
    }

    fn dir(&self) -> &Path {
        self.registry.path()
    }
}

/// A running `serve`, killed when dropped.
struct Served {
    child: Child,
    url: String,
    /// The lines printed on stdout at start.
    lines: Vec<String>,
    stderr: PathBuf,
    _cache: TempDir,
}

impl Served {
    /// Starts `serve DIR --listen 127.0.0.1:0 ARGS...` and waits for its start lines (four
    /// with `--tls`, one without).
    fn start(dir: &Path, args: &[&str]) -> Served {
        let cache = tempfile::tempdir().unwrap();
        let stderr = cache.path().join("stderr");
        let mut child = Command::new(BINARY)
            .arg("serve")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("XDG_CACHE_HOME", cache.path())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let expected = if args.contains(&"--tls") { 4 } else { 1 };
        let (send, receive) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        while lines.len() < expected {
            match receive.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => lines.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "serve printed {lines:?}, then stopped; stderr: {}",
                        fs::read_to_string(&stderr).unwrap_or_default()
                    );
                }
            }
        }
        let url = lines[0].rsplit(' ').next().unwrap().to_owned();
        Served {
            child,
            url,
            lines,
            stderr,
            _cache: cache,
        }
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap()
    }

    /// Waits for the server to write `text` to stderr: it logs a request after answering it.
    fn wait_for_stderr(&self, text: &str) {
        for _ in 0..100 {
            if self.stderr().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no `{text}` in stderr: {}", self.stderr());
    }

    fn port(&self) -> &str {
        self.url.rsplit(':').next().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns every status as a response, follows no redirect and uses no
/// proxy; with `ca`, it trusts that certificate and nothing else.
fn client(ca: Option<&[u8]>) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)));
    if let Some(pem) = ca {
        let certificate = Certificate::from_pem(pem).unwrap();
        config = config.tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![certificate])))
                .build(),
        );
    }
    config.build().into()
}

/// What a response is made of, for assertions.
struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.unwrap();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().unwrap(),
    }
}

fn get(served: &Served, path: &str) -> Reply {
    reply(client(None).get(format!("{}{path}", served.url)).call())
}

#[test]
fn encoded_keys_reach_their_files_and_a_bare_name_its_index_without_a_redirect() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    for (key, document) in [
        ("%40acme%2Fresearcher%401.0.0", VERSION_DOC),
        ("%40acme%2Fresearcher", BARE_NAME_DOC),
        ("%40acme%2Fresearcher/versions", VERSIONS_DOC),
        ("%40acme%2Fresearcher%2Fversions", VERSIONS_DOC),
    ] {
        let reply = get(&served, &format!("{EXPERTS}/{key}?ignored=1"));
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, document),
            "{key}"
        );
        assert_eq!(reply.header("content-type"), "application/json", "{key}");
        assert_eq!(
            reply.header("cache-control"),
            "public, max-age=60, must-revalidate"
        );
        assert_eq!(reply.header("access-control-allow-origin"), "*");
        assert!(reply.headers.get("location").is_none());
    }
}

#[test]
fn what_the_api_does_not_have_is_a_json_404() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    for path in [
        format!("{EXPERTS}/%40acme%2Fresearcher%409.9.9"),
        format!("{EXPERTS}/"),
        format!("{EXPERTS}/?take=1"),
        format!("{EXPERTS}/%40acme"),
        format!("{EXPERTS}/%40acme%2Fresearcher%401.0.0/"),
        "/api/other".to_owned(),
    ] {
        let reply = get(&served, &path);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (404, NOT_FOUND_DOC),
            "{path}"
        );
        assert_eq!(reply.header("content-type"), "application/json", "{path}");
        assert_eq!(reply.header("access-control-allow-origin"), "*");
    }
}

#[test]
fn without_not_found_json_the_404_is_the_hosted_api_s_error_naming_the_path() {
    let fixture = Fixture::new();
    fs::remove_file(fixture.dir().join("api/registry/v1/not-found.json")).unwrap();
    let served = Served::start(fixture.dir(), &[]);
    let reply = get(&served, &format!("{EXPERTS}/%40acme%2Fresearcher%409.9.9"));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("content-type"), "application/json");
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "code": 404,
            "error": "Not Found",
            "reason": "/api/registry/v1/experts/@acme/researcher@9.9.9 was not found"
        })
    );
}

#[test]
fn pages_carry_the_site_headers_and_a_directory_gets_its_slash_by_redirect() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    let home = get(&served, "/");
    assert_eq!(home.status, 200);
    assert_eq!(home.header("content-type"), "text/html; charset=utf-8");
    assert!(
        home.header("content-security-policy")
            .starts_with("default-src 'none'")
    );
    assert_eq!(
        home.header("cache-control"),
        "public, max-age=60, must-revalidate"
    );

    let moved = get(&served, "/experts/%40acme/researcher");
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), "/experts/%40acme/researcher/");
    let with_query = get(&served, "/experts/@acme/researcher?tab=versions");
    assert_eq!(
        with_query.header("location"),
        "/experts/@acme/researcher/?tab=versions"
    );

    let page = get(&served, "/experts/@acme/researcher/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>researcher</title>"));
    assert!(page.headers.contains_key("content-security-policy"));
}

#[test]
fn a_missing_page_is_the_404_page_with_status_404() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    for path in ["/nothing-here", "/experts/@acme/nobody/", "/index.html/"] {
        let reply = get(&served, path);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (404, NOT_FOUND_PAGE),
            "{path}"
        );
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    }
}

#[test]
fn private_files_traversal_and_symlinks_are_never_served() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    for path in [
        "/.perstack-build/plan.json",
        "/%2Eperstack-build/plan.json",
        "/_headers",
        "/leak.txt",
        "/outside/secret.txt",
        "/outside/",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/experts/%2e%2e%2F%2e%2e%2Fv1/root.json",
        "/experts/..%5C..%5Cv1/root.json",
        "/experts/%00",
        "/%ff",
    ] {
        let reply = get(&served, path);
        assert!(
            matches!(reply.status, 400 | 404),
            "{path}: {}",
            reply.status
        );
        assert!(!reply.body.contains(SECRET) && !reply.body.contains("plan"));
    }
    let outside_key = get(&served, &format!("{EXPERTS}/%40evil%2Fx%401.0.0"));
    assert_eq!(
        (outside_key.status, outside_key.body.as_str()),
        (404, NOT_FOUND_DOC)
    );
    let traversal = get(&served, "/api/%2e%2e/v1/root.json");
    assert_eq!(traversal.status, 400);
    assert_eq!(traversal.header("content-type"), "application/json");
    assert!(fixture.outside.path().join("secret.txt").exists());
}

#[test]
fn head_has_the_same_headers_and_no_body() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    let url = format!("{}{EXPERTS}/%40acme%2Fresearcher%401.0.0", served.url);
    let head = reply(client(None).head(&url).call());
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(head.header("content-length"), VERSION_DOC.len().to_string());
    assert_eq!(head.header("content-type"), "application/json");
    let missing = reply(client(None).head(format!("{}/nothing", served.url)).call());
    assert_eq!((missing.status, missing.body.as_str()), (404, ""));
}

#[test]
fn other_methods_are_refused_with_405_and_allow() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    let api = reply(
        client(None)
            .post(format!("{}{EXPERTS}/%40acme%2Fresearcher", served.url))
            .send("{}"),
    );
    assert_eq!(api.status, 405);
    assert_eq!(api.header("allow"), "GET, HEAD");
    assert_eq!(api.header("content-type"), "application/json");
    let body: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(body["code"], 405);
    assert_eq!(body["error"], "Method Not Allowed");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .starts_with("this registry is static: ")
    );
    let page = reply(client(None).delete(format!("{}/", served.url)).call());
    assert_eq!(page.status, 405);
    assert_eq!(page.header("allow"), "GET, HEAD");
}

#[test]
fn plain_http_prints_its_url_says_how_to_get_https_and_logs_requests() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &[]);
    assert_eq!(
        served.lines,
        [format!(
            "serving {} at http://127.0.0.1:{}",
            fixture.dir().display(),
            served.port()
        )]
    );
    get(&served, &format!("{EXPERTS}/%40acme%2Fresearcher?x=1"));
    get(&served, "/nothing");
    served.wait_for_stderr("requires an https perstackApiBaseUrl; add --tls");
    served.wait_for_stderr(&format!("GET {EXPERTS}/%40acme%2Fresearcher?x=1 200\n"));
    served.wait_for_stderr("GET /nothing 404\n");

    let quiet = Served::start(fixture.dir(), &["--quiet"]);
    get(&quiet, "/");
    assert_eq!(quiet.stderr(), "");
}

/// The path a start line `prefix PATH` names.
fn named_path(served: &Served, prefix: &str) -> PathBuf {
    let line = served
        .lines
        .iter()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in {:?}", served.lines));
    PathBuf::from(line)
}

#[test]
fn https_is_trusted_through_the_printed_ca_and_the_certificates_are_reused() {
    let fixture = Fixture::new();
    let tls = tempfile::tempdir().unwrap();
    let tls_dir = tls.path().join("certificates");
    let args = ["--tls", "--tls-dir", tls_dir.to_str().unwrap()];
    let served = Served::start(fixture.dir(), &args);
    let url = format!("https://127.0.0.1:{}", served.port());
    assert_eq!(
        served.lines[..2],
        [
            format!("serving {} at {url}", fixture.dir().display()),
            format!("perstackApiBaseUrl = \"{url}\""),
        ]
    );
    let ca = named_path(&served, "certificate: ");
    assert_eq!(named_path(&served, "export NODE_EXTRA_CA_CERTS="), ca);
    assert!(ca.starts_with(&tls_dir) && ca.is_file());
    let pem = fs::read(&ca).unwrap();

    let key = format!("{url}{EXPERTS}/%40acme%2Fresearcher%401.0.0");
    let trusted = reply(client(Some(&pem)).get(&key).call());
    assert_eq!((trusted.status, trusted.body.as_str()), (200, VERSION_DOC));
    assert!(
        client(None).get(&key).call().is_err(),
        "a client that does not trust the local CA is refused"
    );
    served.wait_for_stderr("TLS handshake with 127.0.0.1:");

    let kept: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&tls_dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    assert_eq!(kept.len(), 4);
    drop(served);
    let again = Served::start(fixture.dir(), &args);
    for (path, bytes) in &kept {
        assert_eq!(&fs::read(path).unwrap(), bytes, "{}", path.display());
    }
    let url = format!(
        "https://127.0.0.1:{}{EXPERTS}/%40acme%2Fresearcher",
        again.port()
    );
    assert_eq!(reply(client(Some(&pem)).get(&url).call()).status, 200);
    assert!(!again.stderr().contains("note:"), "{}", again.stderr());
}

#[test]
fn the_certificates_default_to_the_cache_directory() {
    let fixture = Fixture::new();
    let served = Served::start(fixture.dir(), &["--tls"]);
    let expected = served
        ._cache
        .path()
        .join("perstack-registry/serve-tls/ca.pem");
    assert_eq!(named_path(&served, "certificate: "), expected);
    assert!(expected.is_file());
}

/// Runs `serve ARGS...` expecting it to fail at once; returns its stderr.
fn fails_to_start(args: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let mut command = Command::new(BINARY);
    command
        .arg("serve")
        .args(args)
        .env("XDG_CACHE_HOME", cache.path());
    let output = command.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    stderr
}

#[test]
fn a_missing_directory_or_one_that_is_not_a_registry_fails_with_status_2() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("dist");
    let stderr = fails_to_start(&[missing.to_str().unwrap()]);
    assert!(
        stderr.starts_with(&format!("error: cannot serve {}: ", missing.display())),
        "{stderr}"
    );
    let stderr = fails_to_start(&[empty.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "error: cannot serve {}: not a built registry (v1/root.json is missing); run perstack-registry build first\n",
            empty.path().display()
        )
    );
}

#[test]
fn an_address_in_use_fails_with_status_2() {
    let fixture = Fixture::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let stderr = fails_to_start(&[fixture.dir().to_str().unwrap(), "--listen", &address]);
    assert!(
        stderr.starts_with(&format!("error: cannot listen on {address}: ")),
        "{stderr}"
    );
}

#[test]
fn a_malformed_headers_file_fails_naming_the_file_and_line() {
    let fixture = Fixture::new();
    let headers = fixture.dir().join("_headers");
    fs::write(
        &headers,
        "/api/*\n  Content-Type: application/json\n  no colon\n",
    )
    .unwrap();
    let stderr = fails_to_start(&[fixture.dir().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "error: malformed _headers:\n{}:3: expected `Name: value`, found `no colon`\n",
            headers.display()
        )
    );
}

#[test]
fn the_certificates_are_never_kept_inside_the_served_directory() {
    let fixture = Fixture::new();
    let inside = fixture.dir().join(".tls");
    let stderr = fails_to_start(&[
        fixture.dir().to_str().unwrap(),
        "--tls",
        "--tls-dir",
        inside.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("is inside the served directory"),
        "{stderr}"
    );
    assert!(!inside.exists());
}

/// A client that sends half a request and then nothing (or never finishes a TLS handshake)
/// is disconnected after the server's 10 s limit, while other clients are served meanwhile.
#[test]
fn a_client_that_trickles_its_request_is_disconnected() {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    let fixture = Fixture::new();
    for args in [&[][..], &["--tls"][..]] {
        let served = Served::start(fixture.dir(), args);
        let mut slow = TcpStream::connect(format!("127.0.0.1:{}", served.port())).unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // Half a request line for plain HTTP; for TLS, not even a ClientHello.
        if args.is_empty() {
            slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        }
        let started = std::time::Instant::now();
        if args.is_empty() {
            assert_eq!(get(&served, "/").status, 200, "others are served meanwhile");
        }
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(8) && waited < Duration::from_secs(25),
            "{args:?}: disconnected after {waited:?}"
        );
    }
}
