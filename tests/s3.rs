//! The object-store deploy, run for real: the steps of `workflows/deploy-s3.yml` (read from the
//! workflow itself, so the test runs what users run) upload a registry with the AWS CLI to an
//! S3-compatible server (moto, in server mode), twice: a first deploy, then one more version.
//! Then Perstack's percent-encoded API keys, the content types and cache headers the workflow
//! sets, and every client (`resolve`, `fetch`, `mirror`) are checked against the bucket's HTTP
//! endpoint, as a CDN in front of it would serve it.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestRegistry, copy_tree, run_in, tree};

const BUCKET: &str = "registry";

/// A moto S3 server on a free port, with one bucket anyone may read (as a bucket behind a CDN
/// is, or one the CDN reads with its own identity).
struct S3Server {
    endpoint: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl S3Server {
    fn start() -> S3Server {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("moto.log");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("moto_server is required by this test: pip install 'moto[server]' (bash .ci/run does)");
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            log,
            _dir: dir,
        };
        let started = Instant::now();
        while ureq::get(&server.endpoint).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server.aws(&["s3", "mb", &format!("s3://{BUCKET}")]);
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{BUCKET}/*"}}]}}"#
        );
        server.aws(&[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            BUCKET,
            "--policy",
            &policy,
        ]);
        server
    }

    fn env(&self, command: &mut Command) {
        command
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("BUCKET", format!("s3://{BUCKET}"));
    }

    fn aws(&self, args: &[&str]) {
        let mut command = Command::new("aws");
        command.args(args);
        self.env(&mut command);
        let output = command
            .output()
            .expect("the AWS CLI is required by this test: pip install awscli (bash .ci/run does)");
        assert!(output.status.success(), "aws {args:?}: {output:?}");
    }

    /// The bucket's HTTP endpoint, as a registry URL.
    fn registry_url(&self) -> String {
        format!("{}/{BUCKET}/", self.endpoint)
    }

    /// The object keys the server was asked to store, in order.
    fn uploads(&self) -> Vec<String> {
        let log = fs::read_to_string(&self.log).unwrap();
        let prefix = format!("\"PUT /{BUCKET}/");
        log.lines()
            .filter_map(|line| {
                let start = line.find(&prefix)? + prefix.len();
                let end = start + line[start..].find(' ')?;
                let key = &line[start..end];
                Some(
                    percent_encoding::percent_decode_str(key)
                        .decode_utf8()
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `run:` script of the step named `name` in `workflow`, dedented.
fn step_script(workflow: &str, name: &str) -> String {
    let lines: Vec<&str> = workflow.lines().collect();
    let step = lines
        .iter()
        .position(|line| line.trim() == format!("- name: {name}"))
        .unwrap_or_else(|| panic!("deploy-s3.yml has no step \"{name}\""));
    let run = step
        + lines[step..]
            .iter()
            .position(|line| line.trim_start().starts_with("run:"))
            .unwrap();
    let key_indent = lines[run].len() - lines[run].trim_start().len();
    let inline = lines[run].trim_start()["run:".len()..].trim();
    if inline != "|" {
        return format!("{inline}\n");
    }
    let body: Vec<&str> = lines[run + 1..]
        .iter()
        .take_while(|line| {
            line.trim().is_empty() || line.len() - line.trim_start().len() > key_indent
        })
        .copied()
        .collect();
    let indent = body
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap();
    body.iter()
        .map(|line| format!("{}\n", line.get(indent..).unwrap_or("")))
        .collect()
}

/// Runs the workflow's fetch, build and upload steps in a fresh checkout of `registry`, as the
/// deploy job does on every push.
fn deploy(server: &S3Server, registry: &TestRegistry) {
    let workflow =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/deploy-s3.yml"))
            .unwrap();
    let checkout = tempfile::tempdir().unwrap();
    copy_tree(&registry.data(), &checkout.path().join("registry-data"));
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_perstack-registry"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for step in [
        "Fetch the deployed registry (without blobs)",
        "Build against the deployed registry",
        "Upload new files in plan order, the root last",
    ] {
        // As GitHub Actions runs a `run:` script: bash with -e and pipefail.
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
            .arg(step_script(&workflow, step))
            .current_dir(checkout.path())
            .env("PATH", &path);
        server.env(&mut command);
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "step \"{step}\" failed\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// GET `url`: status, the headers named, and the body.
fn get(url: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent.get(url).call().unwrap();
    let headers = ["content-type", "cache-control"]
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), value.to_owned()))
        })
        .collect();
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .read_to_end(&mut body)
        .unwrap();
    (response.status().as_u16(), headers, body)
}

/// The key as the Perstack runtime sends it: percent-encoded as a whole.
fn encode(key: &str) -> String {
    key.replace('@', "%40").replace('/', "%2F")
}

#[test]
#[ignore = "needs moto_server and the AWS CLI (PyPI): bash .ci/run installs them and runs ignored tests"]
fn the_s3_workflow_deploys_a_registry_every_client_reads() {
    let server = S3Server::start();
    let registry = TestRegistry::valid();
    deploy(&server, &registry);
    let base = server.registry_url();

    // What the workflow stored: every file of the build, with its type and cache rule.
    let built = registry.root().join("built");
    run_in(
        registry.root(),
        &["build", "--quiet", "--out", built.to_str().unwrap()],
    )
    .expect_code(0);
    let (status, headers, body) = get(&format!("{base}v1/root.json"));
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=60, must-revalidate"
    );
    let root: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(root["serial"], 1);
    let blob = fs::read(registry.data().join("tic-tac-toe/1.0.0.toml")).unwrap();
    let hash = blake3::hash(&blob).to_hex().to_string();
    let (status, headers, body) = get(&format!("{base}v1/blobs/{}/{hash}.toml", &hash[..2]));
    assert_eq!((status, body), (200, blob));
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let (status, headers, _) = get(&format!("{base}index.html"));
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");

    // Perstack's requests, keys percent-encoded as a whole: a bare name, name@version,
    // name@tag and the version list.
    for (key, file) in [
        ("@acme/researcher", "@acme/researcher/index.html"),
        ("@acme/researcher@1.1.0", "@acme/researcher@1.1.0"),
        ("tic-tac-toe@stable", "tic-tac-toe@stable"),
    ] {
        let (status, headers, body) =
            get(&format!("{base}api/registry/v1/experts/{}", encode(key)));
        assert_eq!(status, 200, "{key}");
        assert_eq!(headers["content-type"], "application/json", "{key}");
        let expected = fs::read(built.join("api/registry/v1/experts").join(file)).unwrap();
        assert_eq!(body, expected, "{key}");
    }
    let (status, _, body) = get(&format!(
        "{base}api/registry/v1/experts/{}/versions",
        encode("@acme/researcher")
    ));
    assert_eq!(status, 200);
    let versions: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(versions["meta"]["total"], 2);

    // Every client reads the bucket.
    let cache = registry.root().join("cache");
    let cache = cache.to_str().unwrap();
    let resolve = run_in(
        registry.root(),
        &[
            "resolve",
            "@acme/researcher",
            "--registry",
            &base,
            "--cache",
            cache,
        ],
    );
    resolve.expect_code(0);
    assert!(resolve.stdout().contains("1.1.0"), "{}", resolve.stdout());
    run_in(
        registry.root(),
        &[
            "fetch",
            "tic-tac-toe@stable",
            "--registry",
            &base,
            "--cache",
            cache,
        ],
    )
    .expect_code(0);
    let mirror = registry.root().join("mirror");
    run_in(
        registry.root(),
        &["mirror", &base, mirror.to_str().unwrap()],
    )
    .expect_code(0);
    run_in(registry.root(), &["verify", mirror.to_str().unwrap()]).expect_code(0);

    // The publish log is in the bucket, its checkpoint revalidated and its tiles cached
    // forever, and the mirror holds the same log as the build.
    let (status, headers, body) = get(&format!("{base}v1/log/checkpoint"));
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=60, must-revalidate"
    );
    assert_eq!(body, fs::read(built.join("v1/log/checkpoint")).unwrap());
    let log_of = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        tree(dir)
            .into_iter()
            .filter(|(path, _)| path.starts_with("v1/log/"))
            .collect()
    };
    let built_log = log_of(&built);
    assert!(built_log.len() >= 3, "{:?}", built_log.keys());
    for path in built_log.keys().filter(|p| p.starts_with("v1/log/tile/")) {
        let (status, headers, body) = get(&format!("{base}{path}"));
        assert_eq!((status, &body), (200, &built_log[path]), "{path}");
        assert_eq!(
            headers["content-type"], "application/octet-stream",
            "{path}"
        );
        assert_eq!(
            headers["cache-control"], "public, max-age=31536000, immutable",
            "{path}"
        );
    }
    // Hint files are JSON, revalidated like the checkpoint (a publish rewrites them).
    for path in built_log
        .keys()
        .filter(|p| p.starts_with("v1/log/experts/"))
    {
        let (status, headers, body) = get(&format!("{base}{path}"));
        assert_eq!((status, &body), (200, &built_log[path]), "{path}");
        assert_eq!(headers["content-type"], "application/json", "{path}");
        assert_eq!(
            headers["cache-control"], "public, max-age=60, must-revalidate",
            "{path}"
        );
    }
    assert_eq!(log_of(&mirror), built_log);

    // The website manifest's documents are immutable JSON, and a mirror made from the bucket
    // with --with-site holds the website the build wrote, every file checked against them.
    let manifest: Vec<String> = tree(&built)
        .into_keys()
        .filter(|path| path.starts_with("v1/site/"))
        .collect();
    assert!(!manifest.is_empty());
    for path in &manifest {
        let (status, headers, body) = get(&format!("{base}{path}"));
        assert_eq!(
            (status, body),
            (200, fs::read(built.join(path)).unwrap()),
            "{path}"
        );
        assert_eq!(headers["content-type"], "application/json", "{path}");
        assert_eq!(
            headers["cache-control"], "public, max-age=31536000, immutable",
            "{path}"
        );
    }
    let complete = registry.root().join("complete");
    run_in(
        registry.root(),
        &["mirror", &base, complete.to_str().unwrap(), "--with-site"],
    )
    .expect_code(0);
    assert_eq!(
        fs::read(complete.join("index.html")).unwrap(),
        fs::read(built.join("index.html")).unwrap()
    );
    let verify = run_in(registry.root(), &["verify", complete.to_str().unwrap()]);
    verify.expect_code(0);
    assert!(
        verify.stderr().contains("its website's"),
        "{}",
        verify.stderr()
    );

    // One more version: the second deploy uploads only what changed, the root last, and
    // clients see it.
    let first_uploads = server.uploads().len();
    registry.version("tic-tac-toe", "1.1.0", "");
    deploy(&server, &registry);
    let uploads = server.uploads()[first_uploads..].to_vec();
    assert_eq!(
        uploads.last().map(String::as_str),
        Some("v1/root.json"),
        "{uploads:#?}"
    );
    let new_blob = fs::read(registry.data().join("tic-tac-toe/1.1.0.toml")).unwrap();
    let new_hash = blake3::hash(&new_blob).to_hex().to_string();
    let new_blob_key = format!("v1/blobs/{}/{new_hash}.toml", &new_hash[..2]);
    assert!(uploads.contains(&new_blob_key), "{uploads:#?}");
    assert!(
        !uploads
            .iter()
            .any(|key| key.starts_with("v1/blobs/") && *key != new_blob_key),
        "an old blob was uploaded again: {uploads:#?}"
    );
    let (_, _, body) = get(&format!("{base}v1/root.json"));
    let root: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(root["serial"], 2);
    let (status, _, body) = get(&format!(
        "{base}api/registry/v1/experts/{}",
        encode("tic-tac-toe@1.1.0")
    ));
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"version\": \"1.1.0\""));
    let resolve = run_in(
        registry.root(),
        &[
            "resolve",
            "tic-tac-toe",
            "--registry",
            &base,
            "--cache",
            cache,
        ],
    );
    resolve.expect_code(0);
    assert!(resolve.stdout().contains("1.1.0"), "{}", resolve.stdout());
    run_in(
        registry.root(),
        &["mirror", &base, mirror.to_str().unwrap()],
    )
    .expect_code(0);
    let mirrored = tree(&mirror);
    assert!(mirrored.contains_key(&new_blob_key));

    // The log grew by the new version's event: its new tiles and then the checkpoint were
    // uploaded before the root, and the mirror followed it.
    let position = |key: &str| uploads.iter().position(|k| k == key);
    let checkpoint = position("v1/log/checkpoint").expect("the checkpoint was uploaded");
    assert!(
        uploads
            .iter()
            .enumerate()
            .filter(|(_, key)| key.starts_with("v1/log/tile/"))
            .all(|(i, _)| i < checkpoint),
        "{uploads:#?}"
    );
    assert!(checkpoint < position("v1/root.json").unwrap());
    // Only the changed expert's hint, after the new tiles and before the checkpoint; a client
    // that requires an inclusion proof gets one from the bucket.
    let hints: Vec<&String> = uploads
        .iter()
        .filter(|key| key.starts_with("v1/log/experts/"))
        .collect();
    assert_eq!(hints, ["v1/log/experts/tic-tac-toe.json"], "{uploads:#?}");
    let hint = position("v1/log/experts/tic-tac-toe.json").unwrap();
    assert!(hint < checkpoint, "{uploads:#?}");
    assert!(
        uploads
            .iter()
            .enumerate()
            .filter(|(_, key)| key.starts_with("v1/log/tile/"))
            .all(|(i, _)| i < hint),
        "{uploads:#?}"
    );
    run_in(
        registry.root(),
        &[
            "resolve",
            "tic-tac-toe@1.1.0",
            "--registry",
            &base,
            "--cache",
            cache,
            "--require-log",
        ],
    )
    .expect_code(0);
    let (_, _, body) = get(&format!("{base}v1/log/checkpoint"));
    assert_eq!(mirrored["v1/log/checkpoint"], body);
    let size = root["log"]["size"].as_u64().unwrap();
    assert!(
        mirrored.contains_key(&format!("v1/log/tile/entries/000.p/{size}")),
        "{:?}",
        mirrored
            .keys()
            .filter(|k| k.starts_with("v1/log/"))
            .collect::<Vec<_>>()
    );
}
