//! HTTP servers on 127.0.0.1 for the client tests: a small instrumented server that counts
//! requests, answers conditional requests and injects faults, and Python's plain static server
//! for what an ordinary static host does.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A fault the test server injects.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Serve these bytes instead of the file.
    Body(Vec<u8>),
    /// Answer with this status this many times, then serve normally.
    Status(u16, usize),
    /// Redirect to this absolute URL.
    Redirect(String),
    /// Serve these bytes, already gzip-compressed, with `Content-Encoding: gzip`.
    Gzip(Vec<u8>),
}

#[derive(Default)]
struct State {
    /// (path, status answered)
    requests: Vec<(String, u16)>,
    /// (path, bytes of the body) of every file served in full, for tests that measure what a
    /// client transfers.
    served: Vec<(String, usize)>,
    faults: BTreeMap<String, Fault>,
}

/// Serves a directory, recording every request path (percent-decoded, without the leading
/// `/`). ETags are the BLAKE3 of the bytes, and `If-None-Match` gets a 304.
pub struct TestServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn serve(dir: &Path) -> TestServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let thread = {
            let (server, state, dir) = (server.clone(), state.clone(), dir.to_path_buf());
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    respond(request, &dir, &state);
                }
            })
        };
        TestServer {
            url: format!("http://127.0.0.1:{port}/"),
            state,
            server,
            thread: Some(thread),
        }
    }

    pub fn fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(path.to_owned(), fault);
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Every path requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// How many times `path` was requested.
    pub fn count(&self, path: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.requests.iter().filter(|(p, _)| p == path).count()
    }

    /// The statuses answered to requests for `path`, in order.
    pub fn statuses(&self, path: &str) -> Vec<u16> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, status)| *status)
            .collect()
    }

    /// Every file served in full since the last reset, with its body's size, in order.
    pub fn served(&self) -> Vec<(String, usize)> {
        self.state.lock().unwrap().served.clone()
    }

    /// The bytes of every body served in full since the last reset.
    pub fn bytes_served(&self) -> usize {
        self.served().iter().map(|(_, bytes)| bytes).sum()
    }

    pub fn reset_requests(&self) {
        let mut state = self.state.lock().unwrap();
        state.requests.clear();
        state.served.clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn respond(request: tiny_http::Request, dir: &Path, state: &Mutex<State>) {
    let raw = request.url().split('?').next().unwrap_or("").to_owned();
    let path = percent_encoding::percent_decode_str(raw.trim_start_matches('/'))
        .decode_utf8()
        .unwrap()
        .into_owned();
    let record = |status: u16| state.lock().unwrap().requests.push((path.clone(), status));
    let fault = {
        let mut state = state.lock().unwrap();
        let fault = state.faults.get(&path).cloned();
        if let Some(Fault::Status(code, remaining)) = &fault {
            if *remaining <= 1 {
                state.faults.remove(&path);
            } else {
                state
                    .faults
                    .insert(path.clone(), Fault::Status(*code, remaining - 1));
            }
        }
        fault
    };
    let header = |name: &str, value: &str| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
    };
    let bytes = match fault {
        Some(Fault::Status(code, _)) => {
            record(code);
            let _ = request.respond(tiny_http::Response::empty(code));
            return;
        }
        Some(Fault::Redirect(to)) => {
            record(302);
            let _ = request
                .respond(tiny_http::Response::empty(302).with_header(header("Location", &to)));
            return;
        }
        Some(Fault::Body(bytes)) => Some(bytes),
        Some(Fault::Gzip(bytes)) => {
            record(200);
            let _ = request.respond(
                tiny_http::Response::from_data(bytes)
                    .with_header(header("Content-Encoding", "gzip")),
            );
            return;
        }
        None => {
            let file = dir.join(&path);
            file.is_file().then(|| fs::read(file).unwrap())
        }
    };
    let Some(bytes) = bytes else {
        record(404);
        let _ = request.respond(tiny_http::Response::empty(404));
        return;
    };
    let etag = format!("\"{}\"", blake3::hash(&bytes).to_hex());
    let matches = request
        .headers()
        .iter()
        .any(|h| h.field.equiv("If-None-Match") && h.value.as_str() == etag);
    if matches {
        record(304);
        let _ = request.respond(tiny_http::Response::empty(304).with_header(header("ETag", &etag)));
        return;
    }
    record(200);
    state
        .lock()
        .unwrap()
        .served
        .push((path.clone(), bytes.len()));
    let _ =
        request.respond(tiny_http::Response::from_data(bytes).with_header(header("ETag", &etag)));
}

/// `python3 -m http.server` serving `dir`: what a plain static host does with a request.
pub struct PythonServer {
    pub url: String,
    child: Child,
}

impl PythonServer {
    /// Starts the server. python3 is on every machine the tests run on; its absence is a
    /// failure, never a skip.
    pub fn serve(dir: &Path) -> PythonServer {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("python3 is required by this test: {err}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port: u16 = line
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected http.server banner: {line}"));
        PythonServer {
            url: format!("http://127.0.0.1:{port}/"),
            child,
        }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain GET with no client logic of ours: status and body.
pub fn http_get(url: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().expect("request");
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_vec().unwrap())
}

/// A plain GET that follows redirects, as the runtime's `fetch` does: status, Content-Type and
/// body.
pub fn http_get_typed(url: &str) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.body_mut().read_to_vec().unwrap(),
    )
}

/// A path below a temp dir, as a string argument.
pub fn arg(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// How nginx is configured for a test.
#[derive(Clone, Copy)]
pub enum NginxConfig {
    /// Nothing but the document root: nginx "as it is", as a user first tries it.
    Plain,
    /// The server block README recommends (its ```nginx block, read from README.md), so the
    /// documented configuration is the one tested.
    Readme,
}

/// nginx serving `dir`: what a production static host does with a request.
pub struct NginxServer {
    pub url: String,
    child: Child,
    _conf: tempfile::TempDir,
}

/// The first ```nginx block of README.md.
fn readme_nginx_block() -> String {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let start = readme
        .find("```nginx\n")
        .expect("README has an nginx block")
        + "```nginx\n".len();
    let end = start + readme[start..].find("```").expect("the nginx block ends");
    readme[start..end].to_owned()
}

impl NginxServer {
    /// Starts nginx with the README's configuration. The tests that need nginx are marked
    /// `#[ignore = "needs nginx ..."]`, so `cargo test` lists them as ignored instead of passing
    /// them silently; `bash .ci/run` installs nginx and runs them with `--include-ignored`, and
    /// there a missing nginx is a failure.
    pub fn serve(dir: &Path) -> NginxServer {
        NginxServer::serve_with(dir, NginxConfig::Readme)
    }

    pub fn serve_with(dir: &Path, config: NginxConfig) -> NginxServer {
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .expect(
                "nginx is required by this test: apt-get install nginx-light (bash .ci/run does)",
            );
        let conf = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let state = conf.path().display();
        let locations = match config {
            NginxConfig::Plain => String::new(),
            NginxConfig::Readme => readme_nginx_block(),
        };
        // nginx-light has no mime.types of its own here; the README block sets what matters.
        let config = format!(
            "daemon off;\nmaster_process off;\nuser root;\npid {state}/nginx.pid;\nerror_log {state}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  types {{ text/html html; text/css css; text/javascript js; application/json json; image/svg+xml svg; }}\n  client_body_temp_path {state}/body;\n  proxy_temp_path {state}/proxy;\n  fastcgi_temp_path {state}/fastcgi;\n  uwsgi_temp_path {state}/uwsgi;\n  scgi_temp_path {state}/scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    root {};\n{locations}\n  }}\n}}\n",
            dir.display()
        );
        let conf_file = conf.path().join("nginx.conf");
        fs::write(&conf_file, config).unwrap();
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf_file)
            .arg("-p")
            .arg(conf.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        // Bounded wait for the port to open.
        let ready = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(
            ready,
            "nginx did not start: {}",
            fs::read_to_string(conf.path().join("error.log")).unwrap_or_default()
        );
        NginxServer {
            url: format!("http://127.0.0.1:{port}/"),
            child,
            _conf: conf,
        }
    }
}

impl Drop for NginxServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
