//! The certificates `serve --tls` presents: a local certificate authority and a certificate
//! for `localhost`, `127.0.0.1` and `::1` that it signs, made once with rcgen and kept, so the
//! `NODE_EXTRA_CA_CERTS` a user set for the Perstack runtime stays valid across runs.
//!
//! The directory holds the CA's certificate and key and the leaf's certificate and key; keys
//! are written with mode 0600 and every file atomically. On each start the set is checked the
//! way a client would check it (the leaf must verify against the CA for every host name, and
//! match its key); a leaf that does not is re-signed by the existing CA, and a CA that cannot
//! be read is replaced together with the leaf, with a note, since the user must trust it anew.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::ServerCertVerifier;
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

use crate::common::fsutil::{self, IoError};

/// The CA certificate: what `NODE_EXTRA_CA_CERTS` names.
pub const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const LEAF_FILE: &str = "localhost.pem";
const LEAF_KEY_FILE: &str = "localhost-key.pem";
/// The names the leaf certificate is valid for: every way to say "this machine".
pub const HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
const CA_NAME: &str = "perstack-registry serve local CA";

/// The certificate directory when `--tls-dir` is not given: `serve-tls` in the client cache
/// directory (`$XDG_CACHE_HOME/perstack-registry`, else `~/.cache/perstack-registry`).
pub fn default_dir() -> Option<PathBuf> {
    crate::client::cache::default_cache_dir().map(|cache| cache.join("serve-tls"))
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the certificates made in {dir} do not verify: {source}")]
    Unusable {
        dir: PathBuf,
        #[source]
        source: tokio_rustls::rustls::Error,
    },
}

/// A ready TLS configuration and where its CA certificate is.
#[derive(Debug)]
pub struct Certificates {
    pub config: Arc<ServerConfig>,
    /// The CA certificate to trust (`NODE_EXTRA_CA_CERTS`).
    pub ca_path: PathBuf,
    /// What was made or replaced, for the user; `None` when the kept set was reused.
    pub note: Option<String>,
}

/// The kept CA: its certificate and the key that signs leaves.
struct Ca {
    cert: CertificateDer<'static>,
    key: KeyPair,
}

/// A leaf certificate and its key, as PEM text (what is written) and parsed.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

/// Reuses the certificates in `dir`, or makes what is missing or broken.
pub fn load_or_create(dir: &Path) -> Result<Certificates, TlsError> {
    let provider = Arc::new(ring::default_provider());
    let ca_path = dir.join(CA_FILE);
    let read = |name: &str| -> Result<Option<String>, IoError> {
        let bytes = fsutil::read_optional(&dir.join(name))?;
        Ok(bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    };
    let files = [CA_FILE, CA_KEY_FILE, LEAF_FILE, LEAF_KEY_FILE]
        .map(read)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let [ca_pem, ca_key_pem, leaf_pem, leaf_key_pem] = &files[..] else {
        unreachable!("four files were read");
    };
    let any_kept = files.iter().any(Option::is_some);

    if let Some(ca) = parse_ca(ca_pem.as_deref(), ca_key_pem.as_deref()) {
        let kept_leaf = parse_leaf(leaf_pem.as_deref(), leaf_key_pem.as_deref());
        if let Some(leaf) = kept_leaf
            && let Ok(config) = server_config(&ca, &leaf, &provider)
        {
            return Ok(Certificates {
                config,
                ca_path,
                note: None,
            });
        }
        let leaf = make_leaf(&ca)?;
        if let Ok(config) = server_config(&ca, &leaf, &provider) {
            write_leaf(dir, &leaf)?;
            return Ok(Certificates {
                config,
                ca_path,
                note: Some(format!(
                    "the certificate for localhost in {} was missing or did not verify; made a new one, signed by the same CA",
                    dir.display()
                )),
            });
        }
    }

    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params().self_signed(&ca_key)?;
    let ca = Ca {
        cert: ca_cert.der().clone(),
        key: ca_key,
    };
    let leaf = make_leaf(&ca)?;
    let config = server_config(&ca, &leaf, &provider).map_err(|source| TlsError::Unusable {
        dir: dir.to_path_buf(),
        source,
    })?;
    create_private_dir(dir)?;
    write_private(&dir.join(CA_KEY_FILE), &ca.key.serialize_pem())?;
    fsutil::write_atomic(&ca_path, ca_cert.pem().as_bytes(), true)?;
    write_leaf(dir, &leaf)?;
    let note = if any_kept {
        format!(
            "the certificates in {} were incomplete or did not verify; made a new CA: point NODE_EXTRA_CA_CERTS at it again",
            dir.display()
        )
    } else {
        format!(
            "made a local CA and a certificate for localhost in {}",
            dir.display()
        )
    };
    Ok(Certificates {
        config,
        ca_path,
        note: Some(note),
    })
}

/// The CA's parameters. Always the same, so that an [`Issuer`] rebuilt from them and the kept
/// key signs leaves that chain to the kept CA certificate.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn make_leaf(ca: &Ca) -> Result<Leaf, rcgen::Error> {
    let mut params = CertificateParams::new(HOSTS.map(str::to_owned).to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &Issuer::new(ca_params(), &ca.key))?;
    Ok(Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    })
}

fn parse_ca(cert_pem: Option<&str>, key_pem: Option<&str>) -> Option<Ca> {
    Some(Ca {
        cert: CertificateDer::from_pem_slice(cert_pem?.as_bytes()).ok()?,
        key: KeyPair::from_pem(key_pem?).ok()?,
    })
}

fn parse_leaf(cert_pem: Option<&str>, key_pem: Option<&str>) -> Option<Leaf> {
    let (cert_pem, key_pem) = (cert_pem?, key_pem?);
    Some(Leaf {
        cert: CertificateDer::from_pem_slice(cert_pem.as_bytes()).ok()?,
        key: PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).ok()?,
        cert_pem: cert_pem.to_owned(),
        key_pem: key_pem.to_owned(),
    })
}

/// Checks the leaf as a client trusting only the CA would, for every host name, and builds the
/// configuration that presents it (with the CA as its chain); rustls refuses a key that does
/// not match the certificate.
fn server_config(
    ca: &Ca,
    leaf: &Leaf,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<ServerConfig>, tokio_rustls::rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert.clone())?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|err| tokio_rustls::rustls::Error::General(err.to_string()))?;
    for host in HOSTS {
        let name = ServerName::try_from(host)
            .map_err(|err| tokio_rustls::rustls::Error::General(err.to_string()))?;
        verifier.verify_server_cert(&leaf.cert, &[], &name, &[], UnixTime::now())?;
    }
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.cert.clone(), ca.cert.clone()],
            leaf.key.clone_key(),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn write_leaf(dir: &Path, leaf: &Leaf) -> Result<(), IoError> {
    write_private(&dir.join(LEAF_KEY_FILE), &leaf.key_pem)?;
    fsutil::write_atomic(&dir.join(LEAF_FILE), leaf.cert_pem.as_bytes(), true)
}

/// Creates the certificate directory readable by its owner only, if it is missing.
fn create_private_dir(dir: &Path) -> Result<(), IoError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|err| IoError::new("cannot create directory", dir, err))
}

/// Writes a private key atomically; the temporary file is made owner-only before the key is
/// written to it.
fn write_private(path: &Path, pem: &str) -> Result<(), IoError> {
    fsutil::write_atomic_with(path, |writer| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            writer
                .get_ref()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        std::io::Write::write_all(writer, pem.as_bytes())?;
        std::io::Write::flush(writer)?;
        writer.get_ref().sync_all()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, name: &str) -> Vec<u8> {
        std::fs::read(dir.join(name)).unwrap()
    }

    #[test]
    fn a_kept_set_is_reused_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let made = load_or_create(dir.path()).unwrap();
        assert!(made.note.unwrap().starts_with("made a local CA"));
        let files = [CA_FILE, CA_KEY_FILE, LEAF_FILE, LEAF_KEY_FILE].map(|f| read(dir.path(), f));
        let reused = load_or_create(dir.path()).unwrap();
        assert_eq!(reused.note, None);
        assert_eq!(
            [CA_FILE, CA_KEY_FILE, LEAF_FILE, LEAF_KEY_FILE].map(|f| read(dir.path(), f)),
            files
        );
    }

    #[test]
    fn keys_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        for name in [CA_KEY_FILE, LEAF_KEY_FILE] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn a_broken_leaf_is_re_signed_by_the_kept_ca() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let ca = read(dir.path(), CA_FILE);
        std::fs::write(dir.path().join(LEAF_FILE), "torn").unwrap();
        let repaired = load_or_create(dir.path()).unwrap();
        assert!(repaired.note.unwrap().contains("signed by the same CA"));
        assert_eq!(read(dir.path(), CA_FILE), ca);
        assert_eq!(load_or_create(dir.path()).unwrap().note, None);
    }

    #[test]
    fn a_leaf_from_another_ca_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        load_or_create(other.path()).unwrap();
        for name in [LEAF_FILE, LEAF_KEY_FILE] {
            std::fs::copy(other.path().join(name), dir.path().join(name)).unwrap();
        }
        let repaired = load_or_create(dir.path()).unwrap();
        assert!(repaired.note.unwrap().contains("signed by the same CA"));
    }

    #[test]
    fn a_broken_ca_is_replaced_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let ca = read(dir.path(), CA_FILE);
        std::fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let replaced = load_or_create(dir.path()).unwrap();
        assert!(replaced.note.unwrap().contains("NODE_EXTRA_CA_CERTS"));
        assert_ne!(read(dir.path(), CA_FILE), ca);
    }
}
