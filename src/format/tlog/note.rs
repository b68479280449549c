//! Checkpoints (C2SP `tlog-checkpoint`) as signed notes (C2SP `signed-note`).
//!
//! A checkpoint's text is three lines: the log's origin (a name unique to the log, such as
//! `registry.example.com/log`), the number of entries, and the root hash in standard base64.
//! A signed note is that text, an empty line, then one line per signature:
//! `— <key name> <base64(key hash || signature)>`, where the key hash is the first four bytes of
//! `SHA-256(key name || "\n" || 0x01 || Ed25519 public key)` and the signature is Ed25519 over
//! the text. A registry without keys publishes the text with no signature lines at all (and no
//! empty line): readers then learn the log's state but cannot hold anyone to it.

use data_encoding::BASE64;
use sha2::{Digest, Sha256};

use crate::format::tlog::merkle::TreeHash;

/// The em dash that starts a signature line.
const SIGNATURE_START: &str = "\u{2014} ";
/// The signature type of Ed25519 keys in the key hash.
const ED25519: u8 = 0x01;

/// A log's state at one size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: TreeHash,
}

impl Checkpoint {
    /// The note text: origin, size and root hash, each on its own line.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(&self.root)
        )
    }

    /// Parses a checkpoint's text (extension lines after the third are ignored, as the
    /// specification allows).
    pub fn parse_text(text: &str) -> Result<Checkpoint, String> {
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|line| !line.is_empty());
        let size = lines.next().and_then(|line| {
            // Decimal without leading zeros or signs.
            (line == "0" || (!line.starts_with('0') && line.bytes().all(|b| b.is_ascii_digit())))
                .then(|| line.parse::<u64>().ok())
                .flatten()
        });
        let root = lines
            .next()
            .and_then(|line| BASE64.decode(line.as_bytes()).ok())
            .and_then(|bytes| <TreeHash>::try_from(bytes.as_slice()).ok());
        match (origin, size, root) {
            (Some(origin), Some(size), Some(root)) if text.ends_with('\n') => Ok(Checkpoint {
                origin: origin.to_owned(),
                size,
                root,
            }),
            _ => Err("not a checkpoint: expected an origin line, a size and a base64 root hash, each ending with a newline".to_owned()),
        }
    }
}

/// The four-byte key hash that names an Ed25519 key in signature lines.
pub fn key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ED25519]);
    hasher.update(public_key);
    let digest: [u8; 32] = hasher.finalize().into();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A key name must be non-empty and contain no spaces, `+` or newlines.
pub fn check_key_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains([' ', '+', '\n']) || name.chars().any(char::is_control) {
        return Err(format!(
            "\"{}\" is not a note key name: it must be non-empty, without spaces, '+' or control characters",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// `text` signed by each `(name, key)`, as a signed note.
pub fn sign(text: &str, keys: &[(String, ed25519_dalek::SigningKey)]) -> String {
    use ed25519_dalek::Signer;

    if keys.is_empty() {
        return text.to_owned();
    }
    let mut note = format!("{text}\n");
    for (name, key) in keys {
        let public = key.verifying_key().to_bytes();
        let mut blob = key_hash(name, &public).to_vec();
        blob.extend_from_slice(&key.sign(text.as_bytes()).to_bytes());
        note.push_str(&format!(
            "{SIGNATURE_START}{name} {}\n",
            BASE64.encode(&blob)
        ));
    }
    note
}

/// A note split into its text and its signature lines (name, key hash, signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<(String, [u8; 4], Vec<u8>)>,
}

/// Splits a signed note. A note without the empty line that separates signatures is unsigned.
pub fn open(note: &str) -> Result<Note, String> {
    let Some((text, signatures)) = note.rsplit_once("\n\n") else {
        return Ok(Note {
            text: note.to_owned(),
            signatures: Vec::new(),
        });
    };
    let mut parsed = Vec::new();
    for line in signatures.split_terminator('\n') {
        let line = line
            .strip_prefix(SIGNATURE_START)
            .ok_or_else(|| format!("\"{}\" is not a signature line", line.escape_debug()))?;
        let (name, blob) = line
            .split_once(' ')
            .ok_or_else(|| format!("\"{}\" is not a signature line", line.escape_debug()))?;
        let blob = BASE64
            .decode(blob.as_bytes())
            .map_err(|_| format!("the signature of \"{}\" is not base64", name.escape_debug()))?;
        if blob.len() < 5 {
            return Err(format!(
                "the signature of \"{}\" is too short",
                name.escape_debug()
            ));
        }
        let hash = [blob[0], blob[1], blob[2], blob[3]];
        parsed.push((name.to_owned(), hash, blob[4..].to_vec()));
    }
    Ok(Note {
        text: format!("{text}\n"),
        signatures: parsed,
    })
}

/// Whether `note` carries a valid signature by the Ed25519 key `public` named `name`.
pub fn verified_by(note: &Note, name: &str, public: &[u8; 32]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
        return false;
    };
    let expected = key_hash(name, public);
    note.signatures.iter().any(|(signer, hash, signature)| {
        signer == name
            && *hash == expected
            && ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(note.text.as_bytes(), &sig).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_its_signature_verifies() {
        let checkpoint = Checkpoint {
            origin: "registry.example.com/log".to_owned(),
            size: 12345,
            root: [7; 32],
        };
        let text = checkpoint.text();
        assert_eq!(
            text,
            "registry.example.com/log\n12345\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
        );
        assert_eq!(Checkpoint::parse_text(&text).unwrap(), checkpoint);
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let public = key.verifying_key().to_bytes();
        let name = "registry.example.com".to_owned();
        let signed = sign(&text, &[(name.clone(), key)]);
        assert!(signed.starts_with(&format!("{text}\n\u{2014} {name} ")));
        let note = open(&signed).unwrap();
        assert_eq!(note.text, text);
        assert!(verified_by(&note, &name, &public));
        assert!(!verified_by(&note, "someone-else", &public));
        let forged = signed.replace("12345", "12346");
        assert!(!verified_by(&open(&forged).unwrap(), &name, &public));
        // Unsigned: the text alone.
        assert_eq!(open(&text).unwrap().signatures, Vec::new());
    }

    /// The example of golang.org/x/mod/sumdb/note, the reference implementation of signed
    /// notes: the same key and text give the same bytes (Ed25519 is deterministic), and its
    /// signature verifies here.
    #[test]
    fn the_go_reference_note_is_reproduced_byte_for_byte() {
        // `[PRIVATE+KEY+]name+hash+base64`, where the base64 may itself contain '+'.
        let decode = |key: &str, fields: usize| {
            let blob = key.splitn(fields, '+').last().unwrap();
            let bytes = BASE64.decode(blob.as_bytes()).unwrap();
            assert_eq!(bytes[0], ED25519);
            <[u8; 32]>::try_from(&bytes[1..]).unwrap()
        };
        let seed = decode(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            5,
        );
        let public = decode(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            3,
        );
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        assert_eq!(key.verifying_key().to_bytes(), public);
        assert_eq!(key_hash("PeterNeumann", &public), [0xc7, 0x4f, 0x20, 0xa3]);
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let expected = format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        assert_eq!(sign(text, &[("PeterNeumann".to_owned(), key)]), expected);
        assert!(verified_by(
            &open(&expected).unwrap(),
            "PeterNeumann",
            &public
        ));
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        for bad in [
            "",
            "origin\n12\n",
            "origin\n012\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "origin\n-1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "origin\n12\nnot base64\n",
            "origin\n12\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        ] {
            assert!(Checkpoint::parse_text(bad).is_err(), "{bad:?}");
        }
        assert!(check_key_name("a b").is_err());
        assert!(check_key_name("a+b").is_err());
        assert!(check_key_name("registry.example.com").is_ok());
    }
}
