//! Signed roots: keygen, signing builds, and clients that refuse unsigned, unknown-key,
//! altered, expired and rolled-back roots, learn keys on first use and follow a rotation.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::server::{Fault, TestServer};
use common::{Run, TestRegistry};
use serde_json::Value;

/// 2001-09-09T01:46:40Z
const EPOCH: i64 = 1_000_000_000;

struct Key {
    public: String,
    secret: String,
}

fn keygen(dir: &Path) -> Key {
    let run = common::run_in(dir, &["keygen", "--format", "json"]);
    run.expect_code(0);
    let json: Value = serde_json::from_str(&run.stdout()).unwrap();
    Key {
        public: json["public"].as_str().unwrap().to_owned(),
        secret: json["secret"].as_str().unwrap().to_owned(),
    }
}

/// Runs the binary with extra environment variables.
fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run { output }
}

/// Builds `registry` signed by `keys` at `now` (seconds since 1970).
fn build_signed(registry: &TestRegistry, keys: &[&Key], now: i64, extra: &[&str]) -> Run {
    let names: Vec<String> = (0..keys.len()).map(|i| format!("KEY_{i}")).collect();
    let mut args = vec!["build", "--quiet"];
    for name in &names {
        args.extend(["--sign-key-env", name.as_str()]);
    }
    args.extend(extra);
    let now = now.to_string();
    let mut env: Vec<(&str, &str)> = names
        .iter()
        .zip(keys)
        .map(|(name, key)| (name.as_str(), key.secret.as_str()))
        .collect();
    env.push(("SOURCE_DATE_EPOCH", &now));
    run_env(registry.root(), &args, &env)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn root_json(registry: &TestRegistry) -> Value {
    serde_json::from_slice(&fs::read(registry.out().join("v1/root.json")).unwrap()).unwrap()
}

/// Resolves `tic-tac-toe` through `server` with the cache `cache` and extra arguments.
fn resolve(registry: &TestRegistry, server: &TestServer, cache: &str, extra: &[&str]) -> Run {
    let cache = registry.root().join(cache);
    let mut args = vec![
        "resolve",
        "tic-tac-toe",
        "--registry",
        &server.url,
        "--cache",
        cache.to_str().unwrap(),
    ];
    args.extend(extra);
    registry.run(&args)
}

#[test]
fn keygen_prints_a_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::run_in(dir.path(), &["keygen"]);
    run.expect_code(0);
    let lines: Vec<String> = run.stdout().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("secret ed25519-secret:") && lines[0].len() == 7 + 15 + 64);
    assert!(lines[1].starts_with("public ed25519:") && lines[1].len() == 7 + 8 + 64);
    let file = dir.path().join("registry.key");
    let run = common::run_in(dir.path(), &["keygen", "--secret-out", "registry.key"]);
    run.expect_code(0);
    assert!(
        fs::read_to_string(&file)
            .unwrap()
            .starts_with("ed25519-secret:")
    );
    assert!(!run.stdout().contains("secret"));
    common::run_in(dir.path(), &["keygen", "--secret-out", "registry.key"]).expect_code(2);
}

#[test]
fn a_signed_root_is_kept_by_a_no_change_build_until_half_its_validity_has_passed() {
    let registry = TestRegistry::valid();
    let key = keygen(registry.root());
    build_signed(&registry, &[&key], EPOCH, &[]).expect_code(0);
    let root = root_json(&registry);
    assert_eq!(root["keys"], serde_json::json!([key.public]));
    assert_eq!(root["expires"], "2001-10-09T01:46:40Z");
    assert_eq!(root["signatures"][0]["keyid"], key.public);
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/root.schema.json"))
            .unwrap(),
    )
    .unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&root));

    let before = fs::read(registry.out().join("v1/root.json")).unwrap();
    let run = build_signed(
        &registry,
        &[&key],
        EPOCH + 14 * 86_400,
        &["--expires-in", "30"],
    );
    run.expect_code(0);
    assert_eq!(
        fs::read(registry.out().join("v1/root.json")).unwrap(),
        before
    );

    build_signed(&registry, &[&key], EPOCH + 16 * 86_400, &[]).expect_code(0);
    let resigned = root_json(&registry);
    assert_eq!(resigned["serial"], 1, "re-signing keeps the serial");
    assert_eq!(resigned["expires"], "2001-10-25T01:46:40Z");
    assert_ne!(resigned["signatures"], root["signatures"]);

    let unsigned = registry.run(&["build"]);
    unsigned.expect_code(0);
    assert!(
        unsigned.stderr().starts_with(
            "dist/v1/root.json: warning: the previous root was signed, but this build writes an unsigned one"
        ),
        "{}",
        unsigned.stderr()
    );

    let other = keygen(registry.root());
    let unlisted = build_signed(&registry, &[&other], EPOCH, &[]);
    unlisted.expect_code(0);
    registry.file(
        "registry.toml",
        format!("[trust]\nkeys = [\"{}\"]\n", key.public),
    );
    let refused = build_signed(&registry, &[&other], EPOCH, &[]);
    refused.expect_code(2);
    assert_eq!(
        refused.stderr(),
        format!(
            "error: cannot sign the root: the signing key {} is not listed in [trust] keys of registry.toml\n",
            other.public
        )
    );
}

#[test]
fn clients_refuse_unsigned_unknown_altered_expired_and_rolled_back_roots() {
    let registry = TestRegistry::valid();
    let key = keygen(registry.root());
    let other = keygen(registry.root());
    registry.run(&["build", "--quiet"]).expect_code(0);
    let server = TestServer::serve(&registry.out());
    let root_url = format!("{}v1/root.json", server.url);

    let unsigned = resolve(&registry, &server, "c1", &["--trust", &key.public]);
    unsigned.expect_code(1);
    assert_eq!(
        unsigned.stderr(),
        format!(
            "error: {root_url}: refused: the root is not signed, but {} is trusted for this registry\n",
            key.public
        )
    );

    build_signed(&registry, &[&key], now(), &[]).expect_code(0);
    resolve(&registry, &server, "c2", &["--trust", &key.public]).expect_code(0);
    let unknown = resolve(&registry, &server, "c3", &["--trust", &other.public]);
    unknown.expect_code(1);
    assert_eq!(
        unknown.stderr(),
        format!(
            "error: {root_url}: refused: the root is signed only by unknown key(s) {}; trusted: {}\n",
            key.public, other.public
        )
    );

    let signed = fs::read_to_string(registry.out().join("v1/root.json")).unwrap();
    let altered = signed.replace("\"experts\": 3", "\"experts\": 4");
    assert_ne!(altered, signed);
    server.fault("v1/root.json", Fault::Body(altered.into_bytes()));
    let wrong = resolve(&registry, &server, "c4", &["--trust", &key.public]);
    wrong.expect_code(1);
    assert_eq!(
        wrong.stderr(),
        format!(
            "error: {root_url}: refused: the signature by {} does not verify: the root was altered or wrongly signed\n",
            key.public
        )
    );
    server.clear_faults();

    // Serial 2, then the serial-1 root again: a rollback.
    let first = signed.clone().into_bytes();
    registry.version("tic-tac-toe", "1.1.0", "");
    build_signed(&registry, &[&key], now(), &[]).expect_code(0);
    resolve(&registry, &server, "c2", &[]).expect_code(0);
    server.fault("v1/root.json", Fault::Body(first));
    let rollback = resolve(&registry, &server, "c2", &[]);
    rollback.expect_code(1);
    assert_eq!(
        rollback.stderr(),
        format!(
            "error: {root_url}: refused: the root has serial 1, lower than serial 2 already seen; someone may be serving an old registry (rollback)\n"
        )
    );
    server.clear_faults();

    build_signed(&registry, &[&key], EPOCH, &["--expires-in", "1"]).expect_code(0);
    let expired = resolve(&registry, &server, "c5", &["--trust", &key.public]);
    expired.expect_code(1);
    assert_eq!(
        expired.stderr(),
        format!(
            "error: {root_url}: refused: the root expired at 2001-09-10T01:46:40Z; the registry may be frozen on an old root by whoever serves it, or its owner has not re-signed it\n"
        )
    );
    let dest = registry.root().join("mirror");
    let mirrored = registry.run(&["mirror", &server.url, dest.to_str().unwrap()]);
    mirrored.expect_code(1);
    assert!(mirrored.stderr().contains("refused: the root expired"));
    assert!(!dest.join("v1/root.json").exists());
}

#[test]
fn keys_are_learnt_on_first_use_and_through_a_rotation() {
    let registry = TestRegistry::valid();
    let old = keygen(registry.root());
    let new = keygen(registry.root());
    build_signed(&registry, &[&old], now(), &[]).expect_code(0);
    let server = TestServer::serve(&registry.out());

    resolve(&registry, &server, "cache", &[]).expect_code(0);
    // Trusted on first use: an unsigned root is refused from now on.
    let signed = fs::read(registry.out().join("v1/root.json")).unwrap();
    let mut unsigned: Value = serde_json::from_slice(&signed).unwrap();
    let object = unsigned.as_object_mut().unwrap();
    for field in ["keys", "expires", "signatures"] {
        object.remove(field);
    }
    server.fault(
        "v1/root.json",
        Fault::Body(serde_json::to_vec_pretty(&unsigned).unwrap()),
    );
    let refused = resolve(&registry, &server, "cache", &[]);
    refused.expect_code(1);
    assert!(refused.stderr().contains("refused: the root is not signed"));
    server.clear_faults();

    // Overlap: both keys listed, both sign; the client learns the new key through the old.
    registry.file(
        "registry.toml",
        format!("[trust]\nkeys = [\"{}\", \"{}\"]\n", old.public, new.public),
    );
    build_signed(&registry, &[&old, &new], now(), &[]).expect_code(0);
    resolve(&registry, &server, "cache", &[]).expect_code(0);
    // Only the new key remains.
    registry.file(
        "registry.toml",
        format!("[trust]\nkeys = [\"{}\"]\n", new.public),
    );
    build_signed(&registry, &[&new], now(), &[]).expect_code(0);
    resolve(&registry, &server, "cache", &[]).expect_code(0);
    // A client pinned to the old key alone, that never saw the overlap, refuses.
    let missed = resolve(&registry, &server, "fresh", &["--trust", &old.public]);
    missed.expect_code(1);
    assert!(
        missed
            .stderr()
            .contains("refused: the root is signed only by unknown key(s)")
    );
    let verify = registry.run(&[
        "verify",
        registry.out().to_str().unwrap(),
        "--trust",
        &new.public,
    ]);
    verify.expect_code(0);
}

#[test]
fn a_partial_mirror_is_unsigned_unless_signed_with_its_own_key() {
    let registry = TestRegistry::valid();
    let upstream = keygen(registry.root());
    let mirror_key = keygen(registry.root());
    build_signed(&registry, &[&upstream], now(), &[]).expect_code(0);
    let out = registry.out();
    let out = out.to_str().unwrap();
    let unsigned = registry.root().join("unsigned");
    let run = registry.run(&[
        "mirror",
        out,
        unsigned.to_str().unwrap(),
        "--scope",
        "@acme",
        "--trust",
        &upstream.public,
    ]);
    run.expect_code(0);
    let refused = registry.run(&[
        "verify",
        unsigned.to_str().unwrap(),
        "--trust",
        &upstream.public,
    ]);
    refused.expect_code(1);
    assert_eq!(
        refused.stderr().lines().next().unwrap(),
        "v1/root.json: error: the root is not signed, but --trust names keys"
    );
    // The source's signed root is kept for auditing, byte for byte.
    assert_eq!(
        fs::read(unsigned.join("v1/upstream-root.json")).unwrap(),
        fs::read(registry.out().join("v1/root.json")).unwrap()
    );

    let signed = registry.root().join("signed");
    run_env(
        registry.root(),
        &[
            "mirror",
            out,
            signed.to_str().unwrap(),
            "--scope",
            "@acme",
            "--sign-key-env",
            "MIRROR_KEY",
        ],
        &[("MIRROR_KEY", &mirror_key.secret)],
    )
    .expect_code(0);
    registry
        .run(&[
            "verify",
            signed.to_str().unwrap(),
            "--trust",
            &mirror_key.public,
        ])
        .expect_code(0);
}

/// `--trust` pins exactly the keys given: a key the client recorded earlier (here, one that
/// leaked) is no longer trusted once the user passes `--trust NEW`, and a root signed by the
/// leaked key alone cannot bring it back.
#[test]
fn a_pinned_key_is_the_whole_trust_and_cuts_a_leaked_key_off() {
    let registry = TestRegistry::valid();
    let leaked = keygen(registry.root());
    let new = keygen(registry.root());
    build_signed(&registry, &[&leaked], now(), &[]).expect_code(0);
    let attacker_root = fs::read(registry.out().join("v1/root.json")).unwrap();
    let server = TestServer::serve(&registry.out());
    // The client learns the old key on first use.
    resolve(&registry, &server, "cache", &[]).expect_code(0);

    // The owner moves to the new key; the attacker keeps serving roots signed by the old one.
    registry.file(
        "registry.toml",
        format!("[trust]\nkeys = [\"{}\"]\n", new.public),
    );
    registry.version("tic-tac-toe", "1.1.0", "");
    build_signed(&registry, &[&new], now(), &[]).expect_code(0);
    server.fault("v1/root.json", Fault::Body(attacker_root.clone()));
    let refused = resolve(&registry, &server, "cache", &["--trust", &new.public]);
    refused.expect_code(1);
    assert!(
        refused
            .stderr()
            .contains("refused: the root is signed only by unknown key(s)"),
        "{}",
        refused.stderr()
    );
    server.clear_faults();
    let accepted = resolve(&registry, &server, "cache", &["--trust", &new.public]);
    accepted.expect_code(0);
    assert!(
        accepted.stdout().contains("tic-tac-toe@1.1.0"),
        "{}",
        accepted.stdout()
    );
    // Pinned again, the leaked key's root stays refused, whatever the state recorded.
    server.fault("v1/root.json", Fault::Body(attacker_root));
    resolve(&registry, &server, "cache", &["--trust", &new.public]).expect_code(1);
}

/// An unsigned registry's client that was once served a root with the highest serial possible
/// is told how to recover instead of being stuck on "rollback" forever.
#[test]
fn a_poisoned_serial_of_an_unsigned_registry_says_how_to_start_over() {
    let registry = TestRegistry::valid();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let server = TestServer::serve(&registry.out());
    let mut poisoned = root_json(&registry);
    poisoned["serial"] = Value::from(u64::MAX);
    server.fault(
        "v1/root.json",
        Fault::Body(serde_json::to_vec_pretty(&poisoned).unwrap()),
    );
    resolve(&registry, &server, "cache", &[]).expect_code(0);
    server.clear_faults();
    let refused = resolve(&registry, &server, "cache", &[]);
    refused.expect_code(1);
    assert!(
        refused.stderr().contains(&format!(
            "lower than serial {} already seen; someone may be serving an old registry (rollback); this registry is unsigned, so its serials prove nothing: if you trust what it serves now, remove the client state (.perstack-client/state.json in the cache or mirror directory) to start over",
            u64::MAX
        )),
        "{}",
        refused.stderr()
    );
    let cache = registry.root().join("cache");
    let state: Vec<_> = walkdir::WalkDir::new(&cache)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.ends_with(".perstack-client/state.json"))
        .collect();
    assert_eq!(state.len(), 1);
    fs::remove_file(&state[0]).unwrap();
    resolve(&registry, &server, "cache", &[]).expect_code(0);
}
