//! Portable mirrors: `mirror SRC registry.tar` writes one reproducible archive, and
//! `mirror registry.tar DEST` and `verify registry.tar` read it with the checks every other
//! source gets; hostile archives are refused whole, writing nothing outside DEST.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::server::TestServer;
use common::{Run, TestRegistry, run_in, tree};

/// The registry part of a tree: what a mirror copies, without any client's state.
fn registry_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(path, _)| {
            path.starts_with("v1/") || path.starts_with("api/") || path == "_headers"
        })
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every entry of an archive as (name, type, mode, uid, gid, mtime, owner names, bytes), read
/// with the `tar` crate's ordinary reader (long names applied), as any other tool would.
#[allow(clippy::type_complexity)]
fn entries(archive: &Path) -> Vec<(String, u8, u32, u64, u64, u64, String, Vec<u8>)> {
    let mut reader = tar::Archive::new(fs::File::open(archive).unwrap());
    reader
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            let owners = format!(
                "{}:{}",
                header.username().unwrap().unwrap_or_default(),
                header.groupname().unwrap().unwrap_or_default()
            );
            (
                entry.path().unwrap().to_str().unwrap().to_owned(),
                header.entry_type().as_byte(),
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mtime().unwrap(),
                owners,
                bytes,
            )
        })
        .collect()
}

/// A registry with an expert whose name makes API paths longer than a tar header holds.
fn registry_with_long_names() -> TestRegistry {
    let registry = TestRegistry::valid();
    let long = format!("@acme/{}", "very-long-expert-name-".repeat(9) + "x");
    registry.version(&long, "1.0.0-rc.1+build.20260101", "");
    registry.run(&["build", "--quiet"]).expect_code(0);
    registry
}

#[test]
fn an_archive_round_trip_gives_what_a_direct_mirror_gives() {
    let registry = registry_with_long_names();
    let server = TestServer::serve(&registry.out());
    let root = registry.root();
    let archive = root.join("carry/registry.tar");
    let run = run_in(root, &["mirror", &server.url, path(&archive)]);
    run.expect_code(0);
    let size = fs::metadata(&archive).unwrap().len();
    assert!(
        run.stderr().ends_with(&format!(
            "4 experts, 5 versions, serial 1; 10 file(s) downloaded, 0 already present; archive of 43 files, {size} bytes\n"
        )),
        "{}",
        run.stderr()
    );
    // The working directory is gone, and nothing but the archive is left beside it.
    let beside: Vec<_> = fs::read_dir(root.join("carry"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["registry.tar"]);

    let direct = root.join("direct");
    run_in(root, &["mirror", &server.url, path(&direct)]).expect_code(0);
    let unpacked = root.join("unpacked");
    run_in(root, &["mirror", path(&archive), path(&unpacked)]).expect_code(0);
    assert_eq!(registry_files(&unpacked), registry_files(&direct));

    // The archive holds exactly the direct mirror's registry, and no client state.
    let archived: BTreeMap<String, Vec<u8>> = entries(&archive)
        .into_iter()
        .map(|(name, .., bytes)| (name, bytes))
        .collect();
    assert_eq!(archived, registry_files(&direct));
    assert!(archived.keys().any(|name| name.len() > 100));

    let verify = run_in(root, &["verify", path(&archive)]);
    verify.expect_code(0);
    assert_eq!(
        verify.stderr(),
        format!(
            "{} is intact: 4 experts, 5 versions, 22 files and 20 Perstack API documents checked\n",
            archive.display()
        )
    );
    // Every client reads an archive like any registry.
    let resolve = run_in(
        root,
        &[
            "resolve",
            "tic-tac-toe@stable",
            "--registry",
            path(&archive),
            "--cache",
            path(&root.join("cache")),
        ],
    );
    resolve.expect_code(0);
    assert!(resolve.stdout().starts_with("tic-tac-toe@1.0.0 "));
}

#[test]
fn the_same_registry_gives_the_same_archive_bytes() {
    let registry = registry_with_long_names();
    let server = TestServer::serve(&registry.out());
    let root = registry.root();
    let first = root.join("first.tar");
    let second = root.join("elsewhere/second.tar");
    run_in(root, &["mirror", path(&registry.out()), path(&first)]).expect_code(0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run_in(root, &["mirror", &server.url, path(&second), "--quiet"]).expect_code(0);
    assert_eq!(fs::read(&first).unwrap(), fs::read(&second).unwrap());
    // Written again over an existing archive: the same bytes, by rename.
    run_in(root, &["mirror", &server.url, path(&first), "--quiet"]).expect_code(0);
    assert_eq!(fs::read(&first).unwrap(), fs::read(&second).unwrap());

    let entries = entries(&first);
    let names: Vec<&String> = entries.iter().map(|e| &e.0).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries are sorted by path");
    for (name, kind, mode, uid, gid, mtime, owners, _) in &entries {
        assert_eq!(
            (*kind, *mode, *uid, *gid, *mtime, owners.as_str()),
            (b'0', 0o644, 0, 0, 0, ":"),
            "{name}"
        );
    }
    // A partial mirror packs as reproducibly.
    let acme = root.join("acme.tar");
    let acme_again = root.join("acme-again.tar");
    for dest in [&acme, &acme_again] {
        run_in(
            root,
            &["mirror", &server.url, path(dest), "--scope", "@acme"],
        )
        .expect_code(0);
    }
    assert_eq!(fs::read(&acme).unwrap(), fs::read(&acme_again).unwrap());
    run_in(root, &["verify", path(&acme)]).expect_code(0);
}

/// One ustar entry written by hand, independently of the `tar` crate: a 512-byte header and
/// the data padded to a block. `size` is what the header claims (the data's length by default).
fn ustar(name: &str, kind: u8, link: &str, data: &[u8], size: Option<u64>) -> Vec<u8> {
    let mut header = [0u8; 512];
    let field = |header: &mut [u8; 512], at: usize, text: &[u8]| {
        header[at..at + text.len()].copy_from_slice(text)
    };
    field(&mut header, 0, name.as_bytes());
    field(&mut header, 100, b"0000644\0");
    field(&mut header, 108, b"0000000\0");
    field(&mut header, 116, b"0000000\0");
    let size = size.unwrap_or(data.len() as u64);
    field(&mut header, 124, format!("{size:011o}\0").as_bytes());
    field(&mut header, 136, b"00000000000\0");
    field(&mut header, 148, b"        ");
    header[156] = kind;
    field(&mut header, 157, link.as_bytes());
    field(&mut header, 257, b"ustar\0");
    field(&mut header, 263, b"00");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    field(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(data);
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    bytes
}

/// The entries of a good archive of `dir` (every registry file, by hand-written ustar), with
/// `extra` raw entries placed first, and the end-of-archive blocks.
fn archive_with(dir: &Path, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes: Vec<u8> = extra.concat();
    for (name, data) in registry_files(dir) {
        bytes.extend(ustar(&name, b'0', "", &data, None));
    }
    bytes.extend([0u8; 1024]);
    bytes
}

fn expect_refused(root: &Path, archive: &Path, expected: &str) {
    let before = tree(root);
    let dest = root.join("deep/dest");
    let _ = fs::remove_dir_all(&dest);
    let mirror = run_in(root, &["mirror", path(archive), path(&dest)]);
    mirror.expect_code(1);
    assert!(
        mirror.stderr().contains(expected) && mirror.stderr().contains(path(archive)),
        "{expected}: {}",
        mirror.stderr()
    );
    assert!(!dest.join("v1/root.json").exists());
    let written: Vec<String> = tree(&dest).into_keys().collect();
    assert!(
        written.iter().all(|p| p.starts_with(".perstack-client/")),
        "{expected}: {written:?}"
    );
    let outside: Vec<String> = tree(root)
        .into_keys()
        .filter(|p| !before.contains_key(p) && !p.starts_with("deep/dest/"))
        .collect();
    assert!(
        outside.is_empty(),
        "{expected}: written outside: {outside:?}"
    );
    let verify = run_in(root, &["verify", path(archive)]);
    verify.expect_code(1);
    assert!(
        verify.stderr().contains(expected),
        "{expected}: {}",
        verify.stderr()
    );
}

#[test]
fn hostile_archives_are_refused_whole_and_nothing_is_written_outside_dest() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let root = registry.root();
    let out = registry.out();
    // The hand-written archive of the registry is a good one: the reader is not tied to the
    // writer.
    let good = root.join("good.tar");
    fs::write(&good, archive_with(&out, &[])).unwrap();
    run_in(root, &["verify", path(&good)]).expect_code(0);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "traversal",
            ustar("../escaped", b'0', "", b"x", None),
            "entry \"../escaped\" is not a path inside the registry",
        ),
        (
            "deep-traversal",
            ustar("v1/../../escaped", b'0', "", b"x", None),
            "entry \"v1/../../escaped\" is not a path inside the registry",
        ),
        (
            "absolute",
            ustar("/tmp/escaped", b'0', "", b"x", None),
            "entry \"/tmp/escaped\" is not a path inside the registry",
        ),
        (
            "symlink",
            ustar("v1/escape", b'2', "/etc", b"", None),
            "entry \"v1/escape\" is a symbolic link",
        ),
        (
            "hardlink",
            ustar("v1/passwd", b'1', "/etc/passwd", b"", None),
            "entry \"v1/passwd\" is a hard link",
        ),
        (
            "device",
            ustar("v1/null", b'3', "", b"", None),
            "entry \"v1/null\" is a device",
        ),
        (
            "duplicate",
            ustar("_headers", b'0', "", b"/*\n", None),
            "entry \"_headers\" appears twice",
        ),
        (
            "file-and-directory",
            ustar("v1/blobs", b'0', "", b"x", None),
            "entry \"v1/blobs\" is a file and also the directory of",
        ),
        (
            "truncated",
            ustar("v1/huge", b'0', "", b"x", Some(1 << 30)),
            "truncated: an entry runs past the end of the archive",
        ),
    ];
    for (label, entry, expected) in cases {
        let archive = root.join(format!("{label}.tar"));
        fs::write(&archive, archive_with(&out, &[entry])).unwrap();
        expect_refused(root, &archive, expected);
    }

    // An entry larger than any registry file may be: the header claims 300 MiB and the
    // archive really is that long (a sparse file, so the test writes almost nothing).
    let oversized = root.join("oversized.tar");
    let claimed = 300 * 1024 * 1024;
    let mut bytes = ustar("v1/oversized", b'0', "", b"", Some(claimed));
    let data_at = bytes.len() as u64;
    let good_entries = archive_with(&out, &[]);
    bytes.truncate(data_at as usize);
    fs::write(&oversized, &bytes).unwrap();
    let file = fs::OpenOptions::new().write(true).open(&oversized).unwrap();
    file.set_len(data_at + claimed).unwrap();
    use std::io::{Seek, SeekFrom, Write};
    let mut file = file;
    file.seek(SeekFrom::Start(data_at + claimed)).unwrap();
    file.write_all(&good_entries).unwrap();
    drop(file);
    expect_refused(
        root,
        &oversized,
        "entry \"v1/oversized\" is 314572800 bytes, more than any registry file may be",
    );

    // A root larger than a root may be is not read past its bound.
    let root_bytes = fs::read(out.join("v1/root.json")).unwrap();
    let mut huge_root = root_bytes.clone();
    huge_root.resize(2 * 1024 * 1024, b' ');
    let bloated = root.join("bloated.tar");
    let mut bytes = ustar("v1/root.json", b'0', "", &huge_root, None);
    for (name, data) in registry_files(&out) {
        if name != "v1/root.json" {
            bytes.extend(ustar(&name, b'0', "", &data, None));
        }
    }
    bytes.extend([0u8; 1024]);
    fs::write(&bloated, bytes).unwrap();
    let run = run_in(root, &["mirror", path(&bloated), path(&root.join("b"))]);
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("bloated.tar!/v1/root.json: larger than the 1048576 bytes"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_tampered_blob_in_an_archive_is_reported_and_never_mirrored() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let root = registry.root();
    let archive = root.join("registry.tar");
    run_in(root, &["mirror", path(&registry.out()), path(&archive)]).expect_code(0);
    let blob = fs::read(registry.data().join("tic-tac-toe/1.0.0.toml")).unwrap();
    let hash = blake3::hash(&blob).to_hex().to_string();
    let blob_path = format!("v1/blobs/{}/{hash}.toml", &hash[..2]);
    let mut bytes = fs::read(&archive).unwrap();
    let at = bytes
        .windows(blob.len())
        .position(|window| window == blob.as_slice())
        .unwrap();
    bytes[at + 20] ^= 1;
    fs::write(&archive, &bytes).unwrap();

    let verify = run_in(root, &["verify", path(&archive)]);
    verify.expect_code(1);
    assert!(
        verify
            .stderr()
            .contains(&format!("{blob_path}: error: content hashes to")),
        "{}",
        verify.stderr()
    );
    let dest = root.join("dest");
    let mirror = run_in(root, &["mirror", path(&archive), path(&dest)]);
    mirror.expect_code(1);
    assert!(
        mirror.stderr().contains(&format!(
            "{}!/{blob_path}: content hashes to",
            archive.display()
        )),
        "{}",
        mirror.stderr()
    );
    assert!(!dest.join(&blob_path).exists());
    assert!(!dest.join("v1/root.json").exists());
}

struct Key {
    public: String,
    secret: String,
}

fn keygen(dir: &Path) -> Key {
    let run = run_in(dir, &["keygen", "--format", "json"]);
    run.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    Key {
        public: json["public"].as_str().unwrap().to_owned(),
        secret: json["secret"].as_str().unwrap().to_owned(),
    }
}

#[test]
fn an_archive_carries_the_signed_root_and_trust_is_checked_on_it() {
    let registry = TestRegistry::valid();
    let root = registry.root();
    let key = keygen(root);
    let other = keygen(root);
    let output = Command::new(env!("CARGO_BIN_EXE_perstack-registry"))
        .args(["build", "--quiet", "--no-site", "--sign-key-env", "KEY"])
        .current_dir(root)
        .env("KEY", &key.secret)
        .output()
        .unwrap();
    Run { output }.expect_code(0);
    let archive = root.join("signed.tar");
    run_in(
        root,
        &[
            "mirror",
            path(&registry.out()),
            path(&archive),
            "--trust",
            &key.public,
        ],
    )
    .expect_code(0);
    run_in(root, &["verify", path(&archive), "--trust", &key.public]).expect_code(0);
    let verify = run_in(root, &["verify", path(&archive), "--trust", &other.public]);
    verify.expect_code(1);
    assert!(
        verify
            .stderr()
            .contains("no signature is by a key given with --trust"),
        "{}",
        verify.stderr()
    );
    let dest = root.join("dest");
    let refused = run_in(
        root,
        &[
            "mirror",
            path(&archive),
            path(&dest),
            "--trust",
            &other.public,
        ],
    );
    refused.expect_code(1);
    assert!(!dest.join("v1/root.json").exists());
    run_in(
        root,
        &[
            "mirror",
            path(&archive),
            path(&dest),
            "--trust",
            &key.public,
        ],
    )
    .expect_code(0);
    assert_eq!(
        fs::read(dest.join("v1/root.json")).unwrap(),
        fs::read(registry.out().join("v1/root.json")).unwrap()
    );
}

/// An archive is replaced only by a complete one: a mirror killed while it gathers the new
/// registry leaves the previous archive as it was, and the next run resumes from the working
/// directory and writes the same bytes as a clean run, even when the registry changed in
/// between.
#[test]
fn a_killed_archive_mirror_leaves_the_previous_archive_and_resumes() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let archive = root.join("registry.tar");
    run_in(root, &["mirror", path(&out), path(&archive), "--quiet"]).expect_code(0);
    let previous = fs::read(&archive).unwrap();

    registry.version("@acme/researcher", "1.2.0", "");
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let status = common::run_until_crash(root, &["mirror", path(&out), path(&archive)], 3);
    assert!(
        !status.success(),
        "the mirror finished before its crash point"
    );
    assert_eq!(fs::read(&archive).unwrap(), previous);
    let work = root.join("registry.tar.mirroring");
    assert!(work.join(".perstack-client").is_dir());

    // The registry changes again before the next run: what the killed run downloaded of the
    // registry in between (its top bin) is not carried into the archive.
    registry.version("@acme/researcher", "1.3.0", "");
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    run_in(root, &["mirror", path(&out), path(&archive), "--quiet"]).expect_code(0);
    assert!(!work.exists());
    let clean = root.join("clean.tar");
    run_in(root, &["mirror", path(&out), path(&clean), "--quiet"]).expect_code(0);
    assert_eq!(fs::read(&archive).unwrap(), fs::read(&clean).unwrap());
    assert_ne!(fs::read(&archive).unwrap(), previous);
}

/// Writing an archive over the previous one downloads only what changed since: the files the
/// previous archive holds are taken from it, each checked against its hash.
#[test]
fn a_new_archive_downloads_only_what_changed_since_the_one_it_replaces() {
    let registry = TestRegistry::valid();
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    let root = registry.root();
    let out = registry.out();
    let server = TestServer::serve(&out);
    let archive = root.join("registry.tar");
    run_in(root, &["mirror", &server.url, path(&archive), "--quiet"]).expect_code(0);

    let added = common::version_file("@acme/researcher", "1.2.0", "");
    registry.version("@acme/researcher", "1.2.0", "");
    registry
        .run(&["build", "--quiet", "--no-site"])
        .expect_code(0);
    server.reset_requests();
    let run = run_in(root, &["mirror", &server.url, path(&archive)]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("3 experts, 5 versions, serial 2; 3 file(s) downloaded, 6 already present"),
        "{}",
        run.stderr()
    );
    let hash = blake3::hash(added.as_bytes()).to_hex().to_string();
    let snapshot = {
        let root_json: serde_json::Value =
            serde_json::from_slice(&fs::read(out.join("v1/root.json")).unwrap()).unwrap();
        format!(
            "v1/bins/{}.json",
            root_json["bins"]["blake3"].as_str().unwrap()
        )
    };
    let index = format!(
        "v1/index/{}.json",
        blake3::hash(&fs::read(out.join("v1/experts/@acme/researcher.json")).unwrap()).to_hex()
    );
    let mut requested = server.requests();
    requested.sort();
    let log_size = {
        let root_json: serde_json::Value =
            serde_json::from_slice(&fs::read(out.join("v1/root.json")).unwrap()).unwrap();
        root_json["log"]["size"].as_u64().unwrap()
    };
    // The publish log's entries are fetched as bundles (tiles are rebuilt from them): here one
    // partial bundle holds them all.
    let mut expected = vec![
        "v1/root.json".to_owned(),
        snapshot,
        index,
        format!("v1/blobs/{}/{hash}.toml", &hash[..2]),
        "v1/log/checkpoint".to_owned(),
        format!("v1/log/tile/entries/000.p/{log_size}"),
    ];
    expected.sort();
    assert_eq!(requested, expected);

    // The same bytes as an archive made from nothing.
    let clean = root.join("clean.tar");
    run_in(root, &["mirror", path(&out), path(&clean), "--quiet"]).expect_code(0);
    assert_eq!(fs::read(&archive).unwrap(), fs::read(&clean).unwrap());
}
