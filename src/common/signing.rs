//! Ed25519 keys and the signatures on `v1/root.json`.
//!
//! A public key is written `ed25519:<64 hex digits>` and a secret key (the 32-byte seed)
//! `ed25519-secret:<64 hex digits>`. A signature covers the root document rendered exactly as the
//! build renders it, with `signatures` set to an empty array: a reader re-creates those bytes by
//! parsing the root, emptying `signatures` and rendering it again (two-space indentation, key
//! order kept, trailing newline). The `keyid` of a signature is the public key itself.

use data_encoding::HEXLOWER;
use serde_json::{Value, json};

use crate::common::json::Document;

pub const PUBLIC_PREFIX: &str = "ed25519:";
pub const SECRET_PREFIX: &str = "ed25519-secret:";

/// A public key that may sign roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let bytes = text
            .strip_prefix(PUBLIC_PREFIX)
            .and_then(hex_32)
            .ok_or_else(|| {
                format!("\"{text}\" is not a public key (expected ed25519: and 64 hex digits)")
            })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| format!("\"{text}\" is not a valid Ed25519 public key"))?;
        Ok(PublicKey(bytes))
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `signature` (hex) is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = HEXLOWER.decode(signature.as_bytes()) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .is_ok_and(|key| key.verify_strict(message, &signature).is_ok())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = String;

    fn from_str(text: &str) -> Result<PublicKey, String> {
        PublicKey::parse(text)
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", HEXLOWER.encode(&self.0))
    }
}

/// A secret signing key.
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(secret of {})", self.public())
    }
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SecretKey, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|err| format!("no randomness available: {err}"))?;
        Ok(SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Parses a secret key; the message never repeats the text, which may be a real secret.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let seed = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .and_then(hex_32)
            .ok_or_else(|| {
                "not a secret key (expected ed25519-secret: and 64 hex digits)".to_owned()
            })?;
        Ok(SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The key itself, for signing what is not a root (the publish log's checkpoints).
    pub fn note_key(&self) -> ed25519_dalek::SigningKey {
        self.0.clone()
    }

    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", HEXLOWER.encode(&self.0.to_bytes()))
    }

    fn sign(&self, message: &[u8]) -> String {
        use ed25519_dalek::Signer;
        HEXLOWER.encode(&self.0.sign(message).to_bytes())
    }
}

/// The bytes a root's signatures cover.
pub fn signed_bytes(root: &Value) -> Vec<u8> {
    let mut unsigned = root.clone();
    if let Some(object) = unsigned.as_object_mut() {
        object.insert("signatures".into(), json!([]));
    }
    Document::render(&unsigned).bytes
}

/// Signs a root document (which must already hold its `expires`, `keys` and an empty
/// `signatures`) with every key, in the order given.
pub fn sign_root(root: &mut Value, keys: &[SecretKey]) {
    let message = signed_bytes(root);
    let signatures: Vec<Value> = keys
        .iter()
        .map(|key| json!({ "keyid": key.public().to_string(), "sig": key.sign(&message) }))
        .collect();
    root["signatures"] = Value::Array(signatures);
}

/// 32 bytes written as 64 lowercase hex digits; uppercase is refused, so a key or signature has
/// one spelling.
fn hex_32(text: &str) -> Option<[u8; 32]> {
    HEXLOWER.decode(text.as_bytes()).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_text() {
        let secret = SecretKey::generate().unwrap();
        let again = SecretKey::parse(&secret.to_text()).unwrap();
        assert_eq!(secret.public(), again.public());
        let public = secret.public().to_string();
        assert_eq!(PublicKey::parse(&public).unwrap(), secret.public());
        assert!(PublicKey::parse("ed25519:00").is_err());
        assert!(SecretKey::parse(&public).is_err());
    }

    #[test]
    fn hex_is_lowercase_and_exact() {
        let secret = SecretKey::generate().unwrap();
        let public = secret.public().to_string();
        assert_eq!(public.len(), PUBLIC_PREFIX.len() + 64);
        assert_eq!(public, public.to_ascii_lowercase());
        assert!(
            PublicKey::parse(&public.to_ascii_uppercase().replace("ED25519", "ed25519")).is_err()
        );
        let seed = [7u8; 32];
        let text = format!("{SECRET_PREFIX}{}", "07".repeat(32));
        assert_eq!(SecretKey::parse(&text).unwrap().to_text(), text);
        assert_eq!(hex_32(&"07".repeat(32)), Some(seed));
        // from_str_radix took a sign: "+7" once read as 7.
        for bad in [
            "+7".repeat(32),
            "07".repeat(31),
            "07".repeat(33),
            "0".repeat(63),
            "0g".repeat(32),
        ] {
            assert_eq!(hex_32(&bad), None, "{bad}");
        }
        let key = SecretKey::generate().unwrap();
        let mut root = json!({"signatures": []});
        sign_root(&mut root, std::slice::from_ref(&key));
        let sig = root["signatures"][0]["sig"].as_str().unwrap().to_owned();
        assert_eq!(sig.len(), 128);
        assert!(
            !key.public()
                .verifies(&signed_bytes(&root), &sig.to_ascii_uppercase())
        );
    }

    #[test]
    fn a_signature_covers_everything_but_the_signatures() {
        let key = SecretKey::generate().unwrap();
        let mut root = json!({"format": 1, "serial": 3, "signatures": []});
        sign_root(&mut root, &[key]);
        let sig = root["signatures"][0]["sig"].as_str().unwrap().to_owned();
        let public = PublicKey::parse(root["signatures"][0]["keyid"].as_str().unwrap()).unwrap();
        assert!(public.verifies(&signed_bytes(&root), &sig));
        root["serial"] = json!(4);
        assert!(!public.verifies(&signed_bytes(&root), &sig));
    }
}
