//! The publish log (docs/format.md, "Publish log"): what builds append, that every log extends
//! the one before, that a tampered or rewritten log is refused by builds and mirrors, that a
//! mirror that saw one fork refuses another, and that the same history gives the same bytes.
//!
//! The log is read back here with an RFC 6962 and C2SP implementation written from the
//! specifications inside this file (SHA-256 leaf and node hashes, the MTH and SUBPROOF
//! definitions of RFC 6962 section 2.1, the tile paths and entry bundles of tlog-tiles, the
//! signed-note key hash), not with the one that writes the log.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{TestRegistry, run_in, tree};
use data_encoding::BASE64;
use perstack_registry::format::tlog::merkle;
use perstack_registry::format::tlog::tiles::{TileReader, TileStore};
use sha2::{Digest, Sha256};

type H = [u8; 32];

fn sha256(parts: &[&[u8]]) -> H {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn leaf(entry: &[u8]) -> H {
    sha256(&[&[0], entry])
}

fn node(left: &H, right: &H) -> H {
    sha256(&[&[1], left, right])
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 2.1: MTH(D[n]).
fn mth(entries: &[Vec<u8>]) -> H {
    match entries.len() {
        0 => sha256(&[]),
        1 => leaf(&entries[0]),
        n => {
            let k = split(n);
            node(&mth(&entries[..k]), &mth(&entries[k..]))
        }
    }
}

/// RFC 6962 2.1.2: SUBPROOF(m, D[n], b).
fn subproof(m: usize, entries: &[Vec<u8>], complete: bool) -> Vec<H> {
    let n = entries.len();
    if m == n {
        return if complete { vec![] } else { vec![mth(entries)] };
    }
    let k = split(n);
    if m <= k {
        let mut proof = subproof(m, &entries[..k], complete);
        proof.push(mth(&entries[k..]));
        proof
    } else {
        let mut proof = subproof(m - k, &entries[k..], false);
        proof.push(mth(&entries[..k]));
        proof
    }
}

/// tlog-tiles: `N` in groups of three digits, all but the last prefixed with `x`.
fn tile_index(n: u64) -> String {
    let digits = format!("{n}");
    let padded = format!("{}{digits}", "0".repeat((3 - digits.len() % 3) % 3));
    let groups: Vec<String> = padded
        .as_bytes()
        .chunks(3)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let (last, rest) = groups.split_last().unwrap();
    let mut path: String = rest.iter().map(|g| format!("x{g}/")).collect();
    path.push_str(last);
    path
}

fn tile(level: &str, n: u64, width: u64) -> String {
    if width == 256 {
        format!("v1/log/tile/{level}/{}", tile_index(n))
    } else {
        format!("v1/log/tile/{level}/{}.p/{width}", tile_index(n))
    }
}

fn root_of(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(out.join("v1/root.json")).unwrap()).unwrap()
}

/// The log's entries, read from the entry bundles a log of the root's size has.
fn entries(out: &Path) -> Vec<Vec<u8>> {
    let size = root_of(out)["log"]["size"].as_u64().unwrap();
    let mut all = Vec::new();
    let mut n = 0;
    while n * 256 < size {
        let width = (size - n * 256).min(256);
        let bytes = fs::read(out.join(tile("entries", n, width))).unwrap();
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            all.push(rest[2..2 + len].to_vec());
            rest = &rest[2 + len..];
        }
        n += 1;
    }
    assert_eq!(all.len() as u64, size);
    all
}

fn lines(entries: &[Vec<u8>]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8(e.clone()).unwrap())
        .collect()
}

/// Checks the log in `out` against the root from the entries alone: the tree hash, the
/// checkpoint's text, and every hash tile a log of that size has.
fn check_log(out: &Path) -> (u64, H) {
    let root = root_of(out);
    let all = entries(out);
    let hash = mth(&all);
    assert_eq!(
        root["log"]["hash"].as_str().unwrap(),
        data_encoding::HEXLOWER.encode(&hash)
    );
    let checkpoint = fs::read(out.join("v1/log/checkpoint")).unwrap();
    assert_eq!(
        root["log"]["checkpoint"]["blake3"].as_str().unwrap(),
        blake3::hash(&checkpoint).to_hex().as_str()
    );
    let text = String::from_utf8(checkpoint).unwrap();
    let origin = root["log"]["origin"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "{origin}\n{}\n{}\n",
            all.len(),
            BASE64.encode(&hash)
        )),
        "{text}"
    );
    // Level 0 holds the leaf hashes; level 1 the hashes of 256-entry subtrees.
    let leaves: Vec<H> = all.iter().map(|e| leaf(e)).collect();
    for (n, chunk) in leaves.chunks(256).enumerate() {
        let expected: Vec<u8> = chunk.concat();
        let path = tile("0", n as u64, chunk.len() as u64);
        assert_eq!(fs::read(out.join(&path)).unwrap(), expected, "{path}");
    }
    let level1: Vec<H> = all.chunks_exact(256).map(mth).collect();
    for (n, chunk) in level1.chunks(256).enumerate() {
        let path = tile("1", n as u64, chunk.len() as u64);
        assert_eq!(fs::read(out.join(&path)).unwrap(), chunk.concat(), "{path}");
    }
    check_hints(out, &all);
    (all.len() as u64, hash)
}

/// Every expert with publish entries has a hint file listing each of its versions' entry
/// index, in SemVer order, and nothing else; and no other hint file exists.
fn check_hints(out: &Path, all: &[Vec<u8>]) {
    let mut want: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (index, entry) in all.iter().enumerate() {
        let event: serde_json::Value = serde_json::from_slice(entry).unwrap();
        if event["event"] == "publish" {
            want.entry(event["name"].as_str().unwrap().to_owned())
                .or_default()
                .insert(event["version"].as_str().unwrap().to_owned(), index as u64);
        }
    }
    let mut found = BTreeMap::new();
    for (path, bytes) in tree(out)
        .into_iter()
        .filter(|(p, _)| p.starts_with("v1/log/experts/"))
    {
        let name = path["v1/log/experts/".len()..path.len() - ".json".len()].to_owned();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with("}\n"), "{path}");
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["name"], name.as_str(), "{path}");
        let versions: Vec<(String, u64)> = doc["publish"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(v, i)| (v.clone(), i.as_u64().unwrap()))
            .collect();
        let mut sorted = versions.clone();
        sorted.sort_by(|a, b| {
            semver::Version::parse(&a.0)
                .unwrap()
                .cmp_precedence(&semver::Version::parse(&b.0).unwrap())
        });
        assert_eq!(versions, sorted, "{path}: versions in SemVer order");
        found.insert(name, versions.into_iter().collect::<BTreeMap<_, _>>());
    }
    assert_eq!(found, want);
}

/// The registry's tiles, for the proofs the program computes from them.
struct Dir<'a>(&'a Path);

impl TileStore for Dir<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(fs::read(self.0.join("v1/log").join(path)).ok())
    }
}

fn build(registry: &TestRegistry) {
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
}

/// `build --quiet --no-site` with more arguments (another data or output directory, a
/// previous registry), run in the registry's folder; it must succeed.
fn build_with(registry: &TestRegistry, more: &[&str]) {
    let mut args = vec!["build", "--quiet", "--no-site"];
    args.extend_from_slice(more);
    run_in(registry.root(), &args).expect_code(0);
}

/// The entries a step appended.
fn appended(before: usize, out: &Path) -> Vec<String> {
    lines(&entries(out)[before..])
}

#[test]
fn every_build_appends_exactly_its_events_and_each_log_extends_the_last() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    assert_eq!(
        lines(&entries(&out)),
        [
            format!(
                r#"{{"event":"publish","name":"@acme/researcher","version":"1.0.0","blake3":"{}","size":{}}}"#,
                blake3::hash(common::version_file("@acme/researcher", "1.0.0", "delegates = [\"@acme/searcher\"]\n").as_bytes()).to_hex(),
                common::version_file("@acme/researcher", "1.0.0", "delegates = [\"@acme/searcher\"]\n").len()
            ),
            format!(
                r#"{{"event":"publish","name":"@acme/researcher","version":"1.1.0","blake3":"{}","size":{}}}"#,
                blake3::hash(common::version_file("@acme/researcher", "1.1.0", "delegates = [\"@acme/searcher@1.0.0\", \"tic-tac-toe@stable\"]\n").as_bytes()).to_hex(),
                common::version_file("@acme/researcher", "1.1.0", "delegates = [\"@acme/searcher@1.0.0\", \"tic-tac-toe@stable\"]\n").len()
            ),
            r#"{"event":"status","name":"@acme/researcher","version":"1.0.0","status":"deprecated","reason":"Use 1.1.0"}"#.to_owned(),
            format!(
                r#"{{"event":"publish","name":"@acme/searcher","version":"1.0.0","blake3":"{}","size":{}}}"#,
                blake3::hash(common::version_file("@acme/searcher", "1.0.0", "").as_bytes()).to_hex(),
                common::version_file("@acme/searcher", "1.0.0", "").len()
            ),
            format!(
                r#"{{"event":"publish","name":"tic-tac-toe","version":"1.0.0","blake3":"{}","size":{}}}"#,
                blake3::hash(common::version_file("tic-tac-toe", "1.0.0", "").as_bytes()).to_hex(),
                common::version_file("tic-tac-toe", "1.0.0", "").len()
            ),
            r#"{"event":"tag","name":"tic-tac-toe","tag":"stable","version":"1.0.0"}"#.to_owned(),
        ]
    );
    assert_eq!(
        root_of(&out)["log"]["origin"],
        "perstack-registry/perstack-registry"
    );

    // Each step: what the data changes, and the entries the build must append.
    type Step = Box<dyn Fn(&TestRegistry)>;
    let steps: Vec<(Step, Vec<&str>)> = vec![
        (Box::new(|_| {}), vec![]),
        (
            Box::new(|r| {
                r.file(
                    "tic-tac-toe/expert.toml",
                    "[tags]\nstable = \"1.0.0\"\nbeta = \"1.1.0\"\n\n[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"old\"\n",
                );
                r.version("tic-tac-toe", "1.1.0", "");
            }),
            vec![
                "publish tic-tac-toe 1.1.0",
                r#"{"event":"status","name":"tic-tac-toe","version":"1.0.0","status":"deprecated","reason":"old"}"#,
                r#"{"event":"tag","name":"tic-tac-toe","tag":"beta","version":"1.1.0"}"#,
            ],
        ),
        (
            Box::new(|r| {
                r.file(
                    "tic-tac-toe/expert.toml",
                    "[tags]\nstable = \"1.1.0\"\n\n[retired-tags]\nbeta = \"done\"\n\n[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"broken\"\n",
                );
            }),
            vec![
                r#"{"event":"status","name":"tic-tac-toe","version":"1.0.0","status":"disabled","reason":"broken"}"#,
                r#"{"event":"untag","name":"tic-tac-toe","tag":"beta"}"#,
                r#"{"event":"tag","name":"tic-tac-toe","tag":"stable","version":"1.1.0"}"#,
            ],
        ),
        (
            // Enough new experts to fill a tile and start a second.
            Box::new(|r| {
                for i in 0..300 {
                    r.version(&format!("@many/e{i:03}"), "1.0.0", "");
                }
            }),
            vec![],
        ),
        (
            Box::new(|r| {
                r.version("@acme/zeta", "0.1.0", "");
                r.version("@acme/alpha", "2.0.0", "");
                r.version("@acme/alpha", "1.0.0", "");
            }),
            vec![
                "publish @acme/alpha 1.0.0",
                "publish @acme/alpha 2.0.0",
                "publish @acme/zeta 0.1.0",
            ],
        ),
    ];
    let (mut size, mut hash) = check_log(&out);
    for (step, (change, expected)) in steps.iter().enumerate() {
        change(&registry);
        let old_entries = entries(&out);
        build(&registry);
        let (new_size, new_hash) = check_log(&out);
        let new_entries = entries(&out);
        // Append-only: the old entries are the first entries of the new log.
        assert_eq!(
            new_entries[..old_entries.len()],
            old_entries[..],
            "step {step}"
        );
        if !expected.is_empty() {
            let got = appended(old_entries.len(), &out);
            let got: Vec<String> = got
                .iter()
                .map(|line| {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    if v["event"] == "publish" {
                        format!(
                            "publish {} {}",
                            v["name"].as_str().unwrap(),
                            v["version"].as_str().unwrap()
                        )
                    } else {
                        line.clone()
                    }
                })
                .collect();
            assert_eq!(got, *expected, "step {step}");
        } else if step == 0 {
            assert_eq!(
                new_size, size,
                "a build that changes nothing appends nothing"
            );
        } else {
            assert_eq!(new_size - size, 300, "step {step}");
        }
        // The consistency proof the program computes from the tiles is RFC 6962's, and it
        // verifies.
        let reader = TileReader {
            store: &Dir(&out),
            size: new_size,
        };
        if size > 0 && size < new_size {
            let proof = merkle::consistency_proof(&reader, size, new_size).unwrap();
            assert_eq!(
                proof,
                subproof(size as usize, &new_entries, true),
                "step {step}"
            );
            merkle::verify_consistency(size, new_size, &hash, &new_hash, &proof).unwrap();
            // And an inclusion proof of the last entry.
            let last = new_size - 1;
            let proof = merkle::inclusion_proof(&reader, last, new_size).unwrap();
            merkle::verify_inclusion(
                &leaf(&new_entries[last as usize]),
                last,
                new_size,
                &proof,
                &new_hash,
            )
            .unwrap();
        }
        (size, hash) = (new_size, new_hash);
    }
    assert!(out.join("v1/log/tile/0/000").exists());
    assert!(out.join("v1/log/tile/entries/000").exists());
    assert!(out.join("v1/log/tile/1/000.p/1").exists());
    run_in(registry.root(), &["verify", out.to_str().unwrap()]).expect_code(0);
}

/// Runs a signed build (the same key and clock each time).
fn signed_build(registry: &TestRegistry, out: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args([
            "build",
            "--quiet",
            "--no-site",
            "--out",
            out.to_str().unwrap(),
            "--sign-key-env",
            "KEY",
        ])
        .env("KEY", format!("ed25519-secret:{}", "07".repeat(32)))
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .current_dir(registry.root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn the_same_history_gives_the_same_log_and_a_signed_checkpoint_verifies() {
    let histories: Vec<BTreeMap<String, Vec<u8>>> = (0..2)
        .map(|_| {
            let registry = TestRegistry::valid();
            registry.file(
                "registry.toml",
                "[site]\nurl = \"https://example.com/registry/\"\n",
            );
            let out = registry.out();
            signed_build(&registry, &out);
            registry.version("tic-tac-toe", "1.1.0", "");
            signed_build(&registry, &out);
            tree(&out)
                .into_iter()
                .filter(|(path, _)| path.starts_with("v1/log/") || path == "v1/root.json")
                .collect()
        })
        .collect();
    assert_eq!(histories[0], histories[1]);

    // The checkpoint is a signed note by the root's key, named by the origin.
    let note = String::from_utf8(histories[0]["v1/log/checkpoint"].clone()).unwrap();
    let (text, signatures) = note.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    assert!(text.starts_with("example.com/registry\n7\n"), "{text}");
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let root: serde_json::Value = serde_json::from_slice(&histories[0]["v1/root.json"]).unwrap();
    assert_eq!(
        root["keys"][0],
        format!(
            "ed25519:{}",
            data_encoding::HEXLOWER.encode(public.as_bytes())
        )
    );
    let line = signatures.strip_suffix('\n').unwrap();
    let blob = BASE64
        .decode(
            line.strip_prefix("\u{2014} example.com/registry ")
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
    let key_hash = sha256(&[b"example.com/registry\n\x01", public.as_bytes()]);
    assert_eq!(blob[..4], key_hash[..4]);
    let signature = ed25519_dalek::Signature::from_slice(&blob[4..]).unwrap();
    public.verify_strict(text.as_bytes(), &signature).unwrap();
}

#[test]
fn a_tampered_tile_or_a_rewritten_entry_is_refused_by_the_build() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    let size = root_of(&out)["log"]["size"].as_u64().unwrap();
    registry.version("tic-tac-toe", "1.1.0", "");

    for (path, what) in [
        (tile("0", 0, size), "a tile was rewritten or damaged"),
        (tile("entries", 0, size), "an entry was rewritten"),
    ] {
        let file = out.join(&path);
        let original = fs::read(&file).unwrap();
        let mut tampered = original.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        fs::write(&file, &tampered).unwrap();
        let run = registry.run(&["build", "--quiet", "--no-site"]);
        assert_ne!(run.code(), 0, "{path} was accepted");
        assert!(run.stderr().contains(what), "{}", run.stderr());
        assert!(run.stderr().contains("v1/log"), "{}", run.stderr());
        assert_eq!(root_of(&out)["log"]["size"], size, "nothing was published");
        fs::write(&file, &original).unwrap();
    }

    // A build against an older copy that would write other entries where this directory's
    // root already published some is refused, naming the file.
    let old = registry.root().join("old");
    common::copy_tree(&out, &old);
    build(&registry);
    registry.remove("tic-tac-toe/1.1.0.toml");
    registry.version("tic-tac-toe", "1.2.0", "");
    let run = registry.run(&[
        "build",
        "--quiet",
        "--no-site",
        "--previous",
        old.to_str().unwrap(),
    ]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("would rewrite a published tile"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains(&tile("entries", 0, size + 1)),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_mirror_that_saw_one_fork_refuses_the_other() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    let fork = registry.root().join("fork");
    common::copy_tree(&out, &fork);
    let fork_data = registry.root().join("fork-data");
    common::copy_tree(&registry.data(), &fork_data);

    registry.version("tic-tac-toe", "1.1.0", "");
    build(&registry);
    fs::write(
        fork_data.join("tic-tac-toe/1.2.0.toml"),
        common::version_file("tic-tac-toe", "1.2.0", ""),
    )
    .unwrap();
    build_with(
        &registry,
        &[
            "--data",
            fork_data.to_str().unwrap(),
            "--out",
            fork.to_str().unwrap(),
        ],
    );
    let size = root_of(&out)["log"]["size"].as_u64().unwrap();
    assert_eq!(root_of(&fork)["log"]["size"], size);

    let mirror = registry.root().join("mirror");
    run_in(
        registry.root(),
        &["mirror", out.to_str().unwrap(), mirror.to_str().unwrap()],
    )
    .expect_code(0);
    let before = tree(&mirror);
    let run = run_in(
        registry.root(),
        &["mirror", fork.to_str().unwrap(), mirror.to_str().unwrap()],
    );
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("split view"), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains(&format!("publish log of {size} entries")),
        "{}",
        run.stderr()
    );
    assert_eq!(
        tree(&mirror).get("v1/root.json"),
        before.get("v1/root.json")
    );

    // A source whose entry bundle was tampered with is refused too, from nothing.
    let bundle = fork.join(tile("entries", 0, size));
    let mut bytes = fs::read(&bundle).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    fs::write(&bundle, bytes).unwrap();
    let run = run_in(
        registry.root(),
        &[
            "mirror",
            fork.to_str().unwrap(),
            registry.root().join("fresh").to_str().unwrap(),
        ],
    );
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr().contains("tree hash the root pins"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_build_against_a_registry_elsewhere_copies_the_whole_log_and_plans_only_the_new_tiles() {
    let registry = TestRegistry::valid();
    for i in 0..260 {
        registry.version(&format!("@many/e{i:03}"), "1.0.0", "");
    }
    let deployed = registry.root().join("deployed");
    build_with(&registry, &["--out", deployed.to_str().unwrap()]);
    registry.version("tic-tac-toe", "1.1.0", "");
    let fresh = registry.root().join("fresh");
    build_with(
        &registry,
        &[
            "--out",
            fresh.to_str().unwrap(),
            "--previous",
            deployed.to_str().unwrap(),
        ],
    );
    let (size, _) = check_log(&fresh);
    // Every tile of the deployed log is in the new output (a host replaced whole needs them).
    for (path, bytes) in tree(&deployed)
        .into_iter()
        .filter(|(p, _)| p.starts_with("v1/log/tile/"))
    {
        let full = !path.contains(".p/");
        if full {
            assert_eq!(fs::read(fresh.join(&path)).unwrap(), bytes, "{path}");
        }
    }
    // And so is every expert's hint file, the changed one with its new version.
    let hints = |dir: &Path| -> Vec<String> {
        tree(dir)
            .into_keys()
            .filter(|p| p.starts_with("v1/log/experts/"))
            .collect()
    };
    assert_eq!(hints(&fresh), hints(&deployed));
    assert_eq!(hints(&fresh).len(), 263);
    let plan = run_in(registry.root(), &["plan", "--out", fresh.to_str().unwrap()]).stdout();
    let planned: Vec<&str> = plan.lines().filter(|l| l.starts_with("v1/log/")).collect();
    assert_eq!(
        planned,
        [
            tile("0", 1, size - 256).as_str(),
            tile("entries", 1, size - 256).as_str(),
            "v1/log/experts/tic-tac-toe.json",
            "v1/log/checkpoint",
        ]
    );
}

#[test]
fn verify_checks_the_log_against_the_registry() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    let verify = |dir: &Path| run_in(registry.root(), &["verify", dir.to_str().unwrap()]);
    verify(&out).expect_code(0);
    let older = registry.root().join("older");
    common::copy_tree(&out, &older);

    // A tampered tile.
    let size = root_of(&out)["log"]["size"].as_u64().unwrap();
    let tampered = registry.root().join("tampered");
    common::copy_tree(&out, &tampered);
    let path = tampered.join(tile("0", 0, size));
    let mut bytes = fs::read(&path).unwrap();
    bytes[0] ^= 1;
    fs::write(&path, bytes).unwrap();
    let run = verify(&tampered);
    run.expect_code(1);
    assert!(
        run.stderr().contains(&format!(
            "{}: error: differs from the tile the log's entries give",
            tile("0", 0, size)
        )),
        "{}",
        run.stderr()
    );

    // A registry serving a version its log does not hold: the old log under the new root.
    registry.version("tic-tac-toe", "1.1.0", "");
    build(&registry);
    let mut root = root_of(&out);
    root["log"] = root_of(&older)["log"].clone();
    fs::write(
        out.join("v1/root.json"),
        serde_json::to_string_pretty(&root).unwrap() + "\n",
    )
    .unwrap();
    fs::remove_dir_all(out.join("v1/log")).unwrap();
    common::copy_tree(&older.join("v1/log"), &out.join("v1/log"));
    let run = verify(&out);
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("tic-tac-toe 1.1.0 is served, but the log never published it"),
        "{}",
        run.stderr()
    );

    // A missing checkpoint.
    fs::remove_file(older.join("v1/log/checkpoint")).unwrap();
    let run = verify(&older);
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("v1/log/checkpoint: error: missing, but the root pins it"),
        "{}",
        run.stderr()
    );
}

#[test]
fn resolve_keeps_the_latest_checkpoint_and_refuses_a_log_not_consistent_with_it() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    let served = registry.root().join("served");
    let cache = registry.root().join("cache");
    let resolve = |name: &str| {
        run_in(
            registry.root(),
            &[
                "resolve",
                name,
                "--registry",
                served.to_str().unwrap(),
                "--cache",
                cache.to_str().unwrap(),
            ],
        )
    };
    common::copy_tree(&out, &served);
    resolve("tic-tac-toe").expect_code(0);
    let fork = registry.root().join("fork");
    common::copy_tree(&out, &fork);

    // The log grows over two publishes: each is consistent with what was seen.
    for version in ["1.1.0", "1.2.0"] {
        registry.version("tic-tac-toe", version, "");
        build(&registry);
        fs::remove_dir_all(&served).unwrap();
        common::copy_tree(&out, &served);
        let run = resolve("tic-tac-toe");
        run.expect_code(0);
        assert!(run.stdout().contains(version), "{}", run.stdout());
    }
    let size = root_of(&out)["log"]["size"].as_u64().unwrap();
    let state: serde_json::Value = serde_json::from_slice(
        &fs::read(
            fs::read_dir(&cache)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
                .join(".perstack-client/state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(state["log"]["size"], size);

    // Another history of the same length and serial, served at the same place.
    let fork_data = registry.root().join("fork-data");
    common::copy_tree(&registry.data(), &fork_data);
    fs::remove_file(fork_data.join("tic-tac-toe/1.1.0.toml")).unwrap();
    fs::remove_file(fork_data.join("tic-tac-toe/1.2.0.toml")).unwrap();
    for version in ["2.0.0", "2.1.0"] {
        fs::write(
            fork_data.join(format!("tic-tac-toe/{version}.toml")),
            common::version_file("tic-tac-toe", version, ""),
        )
        .unwrap();
        build_with(
            &registry,
            &[
                "--data",
                fork_data.to_str().unwrap(),
                "--out",
                fork.to_str().unwrap(),
            ],
        );
    }
    assert_eq!(root_of(&fork)["log"]["size"], size);
    fs::remove_dir_all(&served).unwrap();
    common::copy_tree(&fork, &served);
    let run = resolve("tic-tac-toe");
    run.expect_code(1);
    assert!(run.stderr().contains("split view"), "{}", run.stderr());
    assert!(
        run.stderr().contains(&format!(
            "the publish log of {size} entries (origin perstack-registry/perstack-registry) is not consistent with the log of {size} entries"
        )),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains(served.to_str().unwrap()),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_origin_comes_from_the_log_setting_once_and_never_changes() {
    let registry = TestRegistry::valid();
    registry.file("registry.toml", "[log]\norigin = \"registry example\"\n");
    let run = registry.run(&["build", "--quiet", "--no-site"]);
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("registry.toml:2:10: error: origin \"registry example\" is not a log origin"),
        "{}",
        run.stderr()
    );

    registry.file("registry.toml", "[log]\norigin = \"acme.example/log\"\n");
    build(&registry);
    let out = registry.out();
    assert_eq!(root_of(&out)["log"]["origin"], "acme.example/log");
    assert!(
        fs::read_to_string(out.join("v1/log/checkpoint"))
            .unwrap()
            .starts_with("acme.example/log\n6\n")
    );

    // Unset, the origin stays; changed, the build refuses.
    registry.file(
        "registry.toml",
        "[site]\nurl = \"https://other.example/\"\n",
    );
    registry.version("tic-tac-toe", "1.1.0", "");
    build(&registry);
    assert_eq!(root_of(&out)["log"]["origin"], "acme.example/log");
    registry.file("registry.toml", "[log]\norigin = \"other.example\"\n");
    let run = registry.run(&["build", "--quiet", "--no-site"]);
    run.expect_code(1);
    assert!(
        run.stderr().contains(
            "[log] origin is \"other.example\", but the publish log started with the origin \"acme.example/log\""
        ),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_mirror_follows_the_log_fetching_only_the_checkpoint_and_the_new_entries() {
    use common::server::TestServer;

    let registry = TestRegistry::valid();
    for i in 0..252 {
        registry.version(&format!("@many/e{i:03}"), "1.0.0", "");
    }
    build(&registry);
    let out = registry.out();
    assert_eq!(root_of(&out)["log"]["size"], 258);
    let server = TestServer::serve(&out);
    let mirror = registry.root().join("mirror");
    run_in(
        registry.root(),
        &["mirror", &server.url, mirror.to_str().unwrap(), "--quiet"],
    )
    .expect_code(0);
    // Entry bundles are fetched, hash tiles never: the mirror rebuilds them.
    assert!(
        !server
            .requests()
            .iter()
            .any(|p| p.starts_with("v1/log/tile/0/") || p.starts_with("v1/log/tile/1/")),
        "{:?}",
        server.requests()
    );

    registry.version("tic-tac-toe", "1.1.0", "");
    build(&registry);
    server.reset_requests();
    run_in(
        registry.root(),
        &["mirror", &server.url, mirror.to_str().unwrap(), "--quiet"],
    )
    .expect_code(0);
    let log_served: Vec<(String, usize)> = server
        .served()
        .into_iter()
        .filter(|(path, _)| path.starts_with("v1/log/"))
        .collect();
    let size_of = |path: &str| fs::metadata(out.join(path)).unwrap().len() as usize;
    let expected: Vec<(String, usize)> = ["v1/log/checkpoint".to_owned(), tile("entries", 1, 3)]
        .into_iter()
        .map(|path| {
            let bytes = size_of(&path);
            (path, bytes)
        })
        .collect();
    let mut log_served_sorted = log_served.clone();
    log_served_sorted.sort();
    assert_eq!(log_served_sorted, expected);
    // The whole transfer: the root, the changed bins, index document and blob, and the log's
    // checkpoint and newest bundle (the bundle holds 3 entries of about 150 bytes).
    let total: usize = server.served().iter().map(|(_, bytes)| bytes).sum();
    assert_eq!(total, server.bytes_served());
    assert!(
        log_served.iter().map(|(_, b)| b).sum::<usize>() < 1024,
        "{log_served:?}"
    );
    // The mirror's log is the source's, tile for tile.
    let log_of = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        tree(dir)
            .into_iter()
            .filter(|(path, _)| path.starts_with("v1/log/"))
            .collect()
    };
    let source_log = log_of(&out);
    let mirrored = log_of(&mirror);
    for (path, bytes) in &mirrored {
        assert_eq!(source_log.get(path), Some(bytes), "{path}");
    }
    for path in [
        "v1/log/checkpoint".to_owned(),
        tile("0", 0, 256),
        tile("entries", 0, 256),
        tile("0", 1, 3),
        tile("entries", 1, 3),
        tile("1", 0, 1),
    ] {
        assert!(mirrored.contains_key(&path), "{path}");
    }
    run_in(registry.root(), &["verify", mirror.to_str().unwrap()]).expect_code(0);
}

/// `resolve`, `fetch` (or `lock`) with `--require-log`, against `registry` through `cache`.
fn require_log(root: &Path, command: &str, key: &str, registry: &str, cache: &Path) -> common::Run {
    run_in(
        root,
        &[
            command,
            key,
            "--registry",
            registry,
            "--cache",
            cache.to_str().unwrap(),
            "--require-log",
            "--quiet",
        ],
    )
}

#[test]
fn require_log_proves_each_version_published_over_http_and_from_a_directory() {
    use common::server::TestServer;

    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    let cache = registry.root().join("cache");
    let dir = out.to_str().unwrap();
    let run = require_log(registry.root(), "resolve", "tic-tac-toe", dir, &cache);
    run.expect_code(0);
    assert!(
        run.stdout().starts_with("tic-tac-toe@1.0.0 "),
        "{}",
        run.stdout()
    );

    // More publishes, across the first entry bundle's end: every version still proves.
    for i in 0..255 {
        registry.version(&format!("@many/e{i:03}"), "1.0.0", "");
    }
    build(&registry);
    registry.version("tic-tac-toe", "1.1.0", "");
    registry.version("@acme/searcher", "1.1.0", "");
    build(&registry);
    let (size, _) = check_log(&out);
    assert_eq!(size, 263);
    let server = TestServer::serve(&out);
    for key in [
        "tic-tac-toe@1.0.0",
        "tic-tac-toe",
        "@acme/researcher@1.0.0",
        "@acme/searcher",
        "@many/e254",
    ] {
        require_log(registry.root(), "resolve", key, dir, &cache).expect_code(0);
        let http_cache = registry.root().join("http-cache");
        server.reset_requests();
        let run = require_log(registry.root(), "resolve", key, &server.url, &http_cache);
        run.expect_code(0);
        // Each file of the proof is read once: the hint and the tiles. No entry bundle: the
        // entry is the one the index document implies, and the proof shows the log holds it.
        let log_reads: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|p| p.starts_with("v1/log/"))
            .collect();
        let mut once = log_reads.clone();
        once.sort();
        once.dedup();
        assert_eq!(once.len(), log_reads.len(), "{log_reads:?}");
        let name = key
            .rsplit_once('@')
            .filter(|(n, _)| !n.is_empty())
            .map_or(key, |(n, _)| n);
        assert!(
            log_reads.contains(&format!("v1/log/experts/{name}.json")),
            "{log_reads:?}"
        );
        assert!(
            !log_reads
                .iter()
                .any(|p| p.starts_with("v1/log/tile/entries/")),
            "{log_reads:?}"
        );
    }
    let fetched = registry.root().join("fetched.toml");
    run_in(
        registry.root(),
        &[
            "fetch",
            "tic-tac-toe@1.1.0",
            "--registry",
            &server.url,
            "--cache",
            cache.to_str().unwrap(),
            "--require-log",
            "--quiet",
            "--output",
            fetched.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert_eq!(
        fs::read_to_string(&fetched).unwrap(),
        common::version_file("tic-tac-toe", "1.1.0", "")
    );

    // lock proves every version it pins.
    server.reset_requests();
    let toml = registry.root().join("perstack.toml");
    fs::write(
        &toml,
        "[experts.\"mine\"]\ninstruction = \"x\"\ndelegates = [\"@acme/researcher\"]\n",
    )
    .unwrap();
    run_in(
        registry.root(),
        &[
            "lock",
            toml.to_str().unwrap(),
            "--registry",
            &server.url,
            "--cache",
            cache.to_str().unwrap(),
            "--require-log",
            "--quiet",
        ],
    )
    .expect_code(0);
    let locked = fs::read_to_string(registry.root().join("perstack-registry.lock")).unwrap();
    assert!(locked.contains("tic-tac-toe@"), "{locked}");
    for name in ["@acme/researcher", "@acme/searcher", "tic-tac-toe"] {
        assert_eq!(
            server.count(&format!("v1/log/experts/{name}.json")),
            1,
            "{name}"
        );
    }

    // Without the flag, no hint, bundle or tile is read (a fresh cache: no consistency proof).
    server.reset_requests();
    let plain_cache = registry.root().join("plain-cache");
    for command in ["resolve", "fetch"] {
        run_in(
            registry.root(),
            &[
                command,
                "tic-tac-toe",
                "--registry",
                &server.url,
                "--cache",
                plain_cache.to_str().unwrap(),
                "--quiet",
            ],
        )
        .expect_code(0);
    }
    assert!(
        !server.requests().iter().any(|p| p.starts_with("v1/log/")),
        "{:?}",
        server.requests()
    );
}

#[test]
fn require_log_refuses_what_the_log_does_not_prove() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    // Entries: 0, 1 @acme/researcher 1.0.0 and 1.1.0, 2 its status, 3 @acme/searcher 1.0.0,
    // 4 tic-tac-toe 1.0.0, 5 its tag.
    let hint = "v1/log/experts/tic-tac-toe.json";
    let copy = |name: &str| {
        let dir = registry.root().join(name);
        common::copy_tree(&out, &dir);
        dir
    };
    let resolve = |dir: &Path| {
        let cache = dir.with_extension("cache");
        require_log(
            registry.root(),
            "resolve",
            "tic-tac-toe",
            dir.to_str().unwrap(),
            &cache,
        )
    };
    resolve(&out).expect_code(0);

    // A hint that points at another expert's publish entry.
    let wrong = copy("wrong-index");
    fs::write(
        wrong.join(hint),
        "{\n  \"name\": \"tic-tac-toe\",\n  \"publish\": {\n    \"1.0.0\": 3\n  }\n}\n",
    )
    .unwrap();
    let run = resolve(&wrong);
    run.expect_code(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("cannot prove that tic-tac-toe 1.0.0 was published"),
        "{stderr}"
    );
    assert!(
        stderr.contains("entry 3 (where v1/log/experts/tic-tac-toe.json places it)"),
        "{stderr}"
    );
    assert!(stderr.contains(&tile("entries", 0, 6)), "{stderr}");

    // A hint past the log's end, one without the version, and none at all.
    for (name, text, why) in [
        (
            "past-end",
            "{\"name\":\"tic-tac-toe\",\"publish\":{\"1.0.0\":6}}",
            "past the 6 entries the root pins",
        ),
        (
            "no-version",
            "{\"name\":\"tic-tac-toe\",\"publish\":{}}",
            "lists no publish entry for this version",
        ),
        (
            "other-name",
            "{\"name\":\"tic-tac-toes\",\"publish\":{\"1.0.0\":4}}",
            "not of tic-tac-toe",
        ),
    ] {
        let dir = copy(name);
        fs::write(dir.join(hint), text).unwrap();
        let run = resolve(&dir);
        run.expect_code(1);
        assert!(run.stderr().contains(why), "{name}: {}", run.stderr());
        assert!(
            run.stderr().contains(&format!("{name}/{hint}")),
            "{name}: {}",
            run.stderr()
        );
    }
    let missing = copy("missing");
    fs::remove_file(missing.join(hint)).unwrap();
    let run = resolve(&missing);
    run.expect_code(1);
    assert!(run.stderr().contains("hint file"), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("missing/v1/log/experts/tic-tac-toe.json"),
        "{}",
        run.stderr()
    );

    // An entry rewritten (here: the version's size) in its bundle.
    let bundle = copy("bundle");
    let path = bundle.join(tile("entries", 0, 6));
    let mut bytes = fs::read(&path).unwrap();
    let size = common::version_file("tic-tac-toe", "1.0.0", "").len();
    let (old, new) = (
        format!("\"size\":{size}}}"),
        format!("\"size\":{}}}", size + 1),
    );
    assert_eq!(old.len(), new.len());
    let at = bytes
        .windows(old.len())
        .position(|w| w == old.as_bytes())
        .unwrap();
    bytes[at..at + old.len()].copy_from_slice(new.as_bytes());
    fs::write(&path, &bytes).unwrap();
    // The bundle alone does not decide: the tree commits to the entry, so the proof holds
    // (verify reports the damaged bundle).
    resolve(&bundle).expect_code(0);
    run_in(registry.root(), &["verify", bundle.to_str().unwrap()]).expect_code(1);
    // With a tile damaged too, the proof fails, and the message says the entry differs.
    let tile0 = bundle.join(tile("0", 0, 6));
    let mut hashes = fs::read(&tile0).unwrap();
    hashes[0] ^= 1;
    fs::write(&tile0, hashes).unwrap();
    let run = resolve(&bundle);
    run.expect_code(1);
    assert!(
        run.stderr().contains(&format!(
            "bundle/{}: --require-log: cannot prove that tic-tac-toe 1.0.0 was published: entry 4 (where v1/log/experts/tic-tac-toe.json places it) is not its publish as the index document gives it",
            tile("entries", 0, 6)
        )),
        "{}",
        run.stderr()
    );

    // A hash tile rewritten: the entry is right, the proof fails.
    let tiles = copy("tiles");
    let path = tiles.join(tile("0", 0, 6));
    let mut bytes = fs::read(&path).unwrap();
    bytes[0] ^= 1;
    fs::write(&path, bytes).unwrap();
    let run = resolve(&tiles);
    run.expect_code(1);
    assert!(
        run.stderr().contains(
            "the inclusion proof of its publish entry, entry 4, in the log of 6 entries the root pins fails"
        ),
        "{}",
        run.stderr()
    );

    // A registry whose root pins no log: accepted without the flag, refused with it.
    let unlogged = copy("unlogged");
    let mut root = root_of(&unlogged);
    root.as_object_mut().unwrap().remove("log");
    fs::write(
        unlogged.join("v1/root.json"),
        serde_json::to_vec_pretty(&root).unwrap(),
    )
    .unwrap();
    let run = resolve(&unlogged);
    run.expect_code(1);
    assert!(
        run.stderr().contains("the root pins no publish log"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("unlogged/v1/root.json"),
        "{}",
        run.stderr()
    );
    run_in(
        registry.root(),
        &[
            "resolve",
            "tic-tac-toe",
            "--registry",
            unlogged.to_str().unwrap(),
            "--cache",
            registry
                .root()
                .join("unlogged-plain.cache")
                .to_str()
                .unwrap(),
        ],
    )
    .expect_code(0);

    // verify finds the hints that disagree with the log.
    let run = run_in(registry.root(), &["verify", wrong.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stderr().contains(
            "disagrees with the log on tic-tac-toe: 1.0.0 at 3, but its publish entry is 4"
        ),
        "{}",
        run.stderr()
    );
    let run = run_in(registry.root(), &["verify", missing.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("v1/log/experts/tic-tac-toe.json"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_mirror_serves_require_log_clients_and_keeps_its_hints_with_its_log() {
    use common::server::TestServer;

    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    let source = TestServer::serve(&out);
    let mirror = registry.root().join("mirror");
    let archive = registry.root().join("mirror.tar");
    let cache = registry.root().join("cache");
    let mirrored = TestServer::serve(&mirror);
    for version in ["1.1.0", "1.2.0"] {
        registry.version("tic-tac-toe", version, "");
        build(&registry);
        for dest in [&mirror, &archive] {
            run_in(
                registry.root(),
                &["mirror", &source.url, dest.to_str().unwrap(), "--quiet"],
            )
            .expect_code(0);
        }
        check_log(&mirror);
        let run = require_log(
            registry.root(),
            "resolve",
            "tic-tac-toe",
            &mirrored.url,
            &cache,
        );
        run.expect_code(0);
        assert!(
            run.stdout().starts_with(&format!("tic-tac-toe@{version} ")),
            "{}",
            run.stdout()
        );
        require_log(
            registry.root(),
            "resolve",
            "@acme/researcher@1.0.0",
            &mirrored.url,
            &cache,
        )
        .expect_code(0);
        require_log(
            registry.root(),
            "resolve",
            &format!("tic-tac-toe@{version}"),
            archive.to_str().unwrap(),
            &registry.root().join("archive-cache"),
        )
        .expect_code(0);
    }
    // The mirror's hints are the source's, byte for byte.
    for (path, bytes) in tree(&out)
        .into_iter()
        .filter(|(p, _)| p.starts_with("v1/log/experts/"))
    {
        assert_eq!(fs::read(mirror.join(&path)).unwrap(), bytes, "{path}");
    }
    run_in(registry.root(), &["verify", mirror.to_str().unwrap()]).expect_code(0);
    run_in(registry.root(), &["verify", archive.to_str().unwrap()]).expect_code(0);

    // A mirror made before hints existed gets them at its next run, from its own copy.
    fs::remove_dir_all(mirror.join("v1/log/experts")).unwrap();
    source.reset_requests();
    run_in(
        registry.root(),
        &["mirror", &source.url, mirror.to_str().unwrap(), "--quiet"],
    )
    .expect_code(0);
    assert!(
        !source
            .requests()
            .iter()
            .any(|p| p.starts_with("v1/log/tile/")),
        "{:?}",
        source.requests()
    );
    check_log(&mirror);
}

#[test]
fn a_build_over_a_registry_without_hints_writes_every_expert_s_once() {
    let registry = TestRegistry::valid();
    build(&registry);
    let out = registry.out();
    // As a build before hints existed left it.
    fs::remove_dir_all(out.join("v1/log/experts")).unwrap();
    registry.version("tic-tac-toe", "1.1.0", "");
    build(&registry);
    check_log(&out);
    let plan = run_in(registry.root(), &["plan", "--out", out.to_str().unwrap()]).stdout();
    for name in ["@acme/researcher", "@acme/searcher", "tic-tac-toe"] {
        assert!(
            plan.contains(&format!("v1/log/experts/{name}.json")),
            "{plan}"
        );
    }
    // Then only the experts with new events.
    registry.version("@acme/searcher", "1.1.0", "");
    build(&registry);
    check_log(&out);
    let plan = run_in(registry.root(), &["plan", "--out", out.to_str().unwrap()]).stdout();
    let hints: Vec<&str> = plan
        .lines()
        .filter(|l| l.starts_with("v1/log/experts/"))
        .collect();
    assert_eq!(hints, ["v1/log/experts/@acme/searcher.json"]);
}

/// The build's spool of log files in the output's state directory (src/build/spool.rs).
fn spool(out: &Path) -> std::path::PathBuf {
    out.join(".perstack-build/log-spool")
}

#[test]
fn a_log_spanning_full_tiles_is_written_whole_and_a_killed_or_refused_build_leaves_it_valid() {
    let registry = TestRegistry::valid();
    for i in 0..400 {
        registry.version(&format!("@many/e{i:03}"), "1.0.0", "");
        registry.version(&format!("@many/e{i:03}"), "1.1.0", "");
    }
    build(&registry);
    let out = registry.out();
    // The genesis batch fills three level-0 tiles and bundles and starts a fourth; level 1
    // holds their three hashes. `check_log` recomputes every one from the entries.
    let (size, _) = check_log(&out);
    assert_eq!(size, 806);
    for path in [
        "tile/0/002",
        "tile/entries/002",
        "tile/0/003.p/38",
        "tile/1/000.p/3",
    ] {
        assert!(out.join("v1/log").join(path).is_file(), "{path}");
    }
    assert!(!spool(&out).exists(), "the spool outlived the build");

    // A second batch, again across full tiles.
    for i in 400..700 {
        registry.version(&format!("@many/e{i:03}"), "1.0.0", "");
    }
    let before = tree(&out);
    let first_root = fs::read(out.join("v1/root.json")).unwrap();

    // Refused after its files were spooled: nothing written, and the spool removed.
    registry.file("registry.toml", "[log]\norigin = \"other.example\"\n");
    let run = registry.run(&["build", "--quiet", "--no-site"]);
    run.expect_code(1);
    assert!(run.stderr().contains("[log] origin is"), "{}", run.stderr());
    assert_eq!(tree(&out), before, "a refused build changed the output");
    assert!(!spool(&out).exists(), "a refused build left its spool");
    fs::remove_file(registry.data().join("registry.toml")).unwrap();

    // The same build without the kills, for comparison.
    let unbroken = tempfile::tempdir().unwrap();
    common::copy_tree(&out, unbroken.path());
    build_with(&registry, &["--out", unbroken.path().to_str().unwrap()]);

    // Killed at its 250th write again and again, each build resuming the one killed before
    // it, so the kills fall on blobs, documents, and the log's tiles and hints copied from
    // the spool: each time the root is the previous one and every file of its log is intact.
    let log_files = |out: &Path| {
        tree(out)
            .keys()
            .filter(|path| path.starts_with("v1/log/"))
            .count()
    };
    let published_log_files = log_files(&out);
    assert_eq!(published_log_files, 413);
    let mut killed_in_the_log = false;
    while !common::run_until_crash(
        registry.root(),
        &["build", "--quiet", "--no-site", "--no-cache"],
        250,
    )
    .success()
    {
        assert!(spool(&out).exists(), "killed before spooling");
        assert_eq!(fs::read(out.join("v1/root.json")).unwrap(), first_root);
        let now = tree(&out);
        for (path, bytes) in before.iter().filter(|(p, _)| p.starts_with("v1/log/")) {
            assert_eq!(now.get(path), Some(bytes), "{path}");
        }
        killed_in_the_log |= log_files(&out) > published_log_files;
    }
    assert!(killed_in_the_log, "no kill fell while the log was written");
    assert!(!spool(&out).exists(), "the spool outlived the build");
    assert_eq!(check_log(&out).0, 806 + 300);
    assert_eq!(tree(&out), tree(unbroken.path()));
}
