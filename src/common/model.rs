//! Checked names and values: an [`ExpertName`], an [`ExpertKey`], a [`Status`], a BLAKE3 [`struct@Hash`].
//!
//! Raw text from files is converted into these types once, at the edge; a value of one of them
//! is known to satisfy the Perstack naming rules (PERSTACK.md). An `ExpertName` also knows its
//! own place in `registry-data/` and in the output tree, so no one builds those paths by hand.

use std::cell::Cell;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};

pub const MAX_NAME_LEN: usize = 255;
pub const MAX_SCOPE_LEN: usize = 128;
pub const MAX_TAG_LEN: usize = 255;
pub const MAX_ENV_LEN: usize = 255;
pub const MAX_KEY_LEN: usize = 511;
/// The most bytes a version file may have, whatever a registry's `max-version-bytes` says: a
/// definition is text, and clients refuse (and never buffer) anything larger.
pub const MAX_VERSION_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The tag the registry computes; authors can neither set nor remove it.
pub const LATEST: &str = "latest";

/// Checks a length limit. Limits and messages count characters, not bytes: a name with
/// non-ASCII letters is refused for its letters, not with a byte count called characters.
fn check_length(what: &str, text: &str, max: usize) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max {
        Err(format!(
            "{what} is {chars} characters long; the limit is {max}"
        ))
    } else {
        Ok(())
    }
}

/// `[a-z0-9][a-z0-9_-]*`: the shape shared by tags, expert names and scope names.
fn is_lower_ident(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// An expert name such as `@acme/researcher` or `tic-tac-toe`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExpertName(String);

impl ExpertName {
    /// Checks `text` against the runtime's name rules. The error says which rule it breaks,
    /// and suggests the canonical spelling when the only problem is letter case.
    pub fn parse(text: &str) -> Result<ExpertName, String> {
        check_length("expert name", text, MAX_NAME_LEN)?;
        let (scope, local) = match text.strip_prefix('@') {
            Some(rest) => match rest.split_once('/') {
                Some((scope, local)) => (Some(scope), local),
                None => {
                    return Err(format!(
                        "expert name \"{text}\" has a scope but no name after it (expected @scope/name)"
                    ));
                }
            },
            None => (None, text),
        };
        if let Some(scope) = scope {
            check_length(&format!("scope \"@{scope}\""), scope, MAX_SCOPE_LEN)?;
        }
        let parts_ok = scope.is_none_or(is_lower_ident) && is_lower_ident(local);
        if parts_ok {
            return Ok(ExpertName(text.to_owned()));
        }
        let lowered = text.to_lowercase();
        if lowered != text && ExpertName::parse(&lowered).is_ok() {
            return Err(format!(
                "expert name \"{text}\" is not canonical: names are lowercase (\"{lowered}\")"
            ));
        }
        Err(format!(
            "expert name \"{text}\" is not valid: use lowercase letters, digits, '-' and '_', \
             starting with a letter or digit, optionally under a scope (@scope/name)"
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scope with its `@`, for scoped names.
    pub fn scope(&self) -> Option<&str> {
        self.0
            .starts_with('@')
            .then(|| self.0.split('/').next().unwrap_or(""))
    }

    /// The expert's directory below `registry-data/`.
    pub fn data_dir(&self, data_root: &Path) -> PathBuf {
        self.0
            .split('/')
            .fold(data_root.to_path_buf(), |p, c| p.join(c))
    }

    /// The path of the readable index document, relative to the registry root.
    pub fn readable_index_path(&self) -> String {
        format!("v1/experts/{}.json", self.0)
    }
}

impl fmt::Display for ExpertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ExpertName {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        ExpertName::parse(&text)
    }
}

impl From<ExpertName> for String {
    fn from(name: ExpertName) -> String {
        name.0
    }
}

/// What an expert key asks for after the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A bare name: the `latest` tag.
    Latest,
    Version(semver::Version),
    Tag(String),
}

/// An expert key as the runtime writes it: `name`, `name@version` or `name@tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertKey {
    pub name: ExpertName,
    pub selector: Selector,
}

impl ExpertKey {
    pub fn parse(text: &str) -> Result<ExpertKey, String> {
        check_length("expert key", text, MAX_KEY_LEN)?;
        // The scope's own '@' is at index 0, so the selector's '@' is the last one after it.
        let (name, selector) = match text.rfind('@').filter(|&at| at > 0) {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        let name = ExpertName::parse(name)?;
        let selector = match selector {
            None => Selector::Latest,
            Some(spec) if spec.starts_with(|c: char| c.is_ascii_digit()) => {
                Selector::Version(parse_canonical_version(spec)?)
            }
            Some(spec) => {
                check_tag_shape(spec)?;
                if spec == LATEST {
                    Selector::Latest
                } else {
                    Selector::Tag(spec.to_owned())
                }
            }
        };
        Ok(ExpertKey { name, selector })
    }
}

impl fmt::Display for ExpertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Selector::Latest => write!(f, "{}", self.name),
            Selector::Version(version) => write!(f, "{}@{version}", self.name),
            Selector::Tag(tag) => write!(f, "{}@{tag}", self.name),
        }
    }
}

fn check_tag_shape(tag: &str) -> Result<(), String> {
    check_length("tag", tag, MAX_TAG_LEN)?;
    if is_lower_ident(tag) {
        Ok(())
    } else {
        Err(format!(
            "tag \"{tag}\" is not valid: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
        ))
    }
}

/// Checks a category tag in a definition's `tags` list.
pub fn check_category(tag: &str) -> Result<(), String> {
    check_tag_shape(tag).map_err(|err| err.replacen("tag", "category tag", 1))
}

/// Checks a skill name: an npm-style package name, lowercase, with an optional `@scope/` and an
/// optional `@version`.
pub fn check_skill_name(name: &str) -> Result<(), String> {
    let package_char = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_' | '~')
    };
    let part_ok = |part: &str| {
        !part.is_empty() && !part.starts_with(['.', '_']) && part.chars().all(package_char)
    };
    let (package, version) = match name.rfind('@').filter(|&at| at > 0) {
        Some(at) => (&name[..at], Some(&name[at + 1..])),
        None => (name, None),
    };
    let package_ok = match package.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(scope, local)| part_ok(scope) && part_ok(local)),
        None => part_ok(package),
    };
    let version_ok = version.is_none_or(|v| !v.is_empty() && !v.contains(char::is_whitespace));
    if package_ok && version_ok && package.len() <= 214 {
        Ok(())
    } else {
        Err(format!(
            "skill name \"{name}\" is not an npm-style package name (lowercase, optional @scope/, optional @version)"
        ))
    }
}

/// Checks that `url` is an `https:` URL whose host is public (not loopback, private or local).
///
/// The URL is read by the `url` crate, as a browser or Node reads it (WHATWG): so a backslash
/// ends the host (`https://127.0.0.1\.example.com/` is 127.0.0.1), percent-escapes in a host are
/// decoded, and loose IPv4 forms (`127.1`, `0x7f.1`, `2130706433`) are the addresses they denote.
/// The host is judged as parsed, never by its text.
pub fn check_public_https_url(url: &str) -> Result<(), String> {
    let embedded_credentials = Cell::new(false);
    let note = |violation| {
        if violation == url::SyntaxViolation::EmbeddedCredentials {
            embedded_credentials.set(true);
        }
    };
    let parsed = match url::Url::options()
        .syntax_violation_callback(Some(&note))
        .parse(url)
    {
        Ok(parsed) if parsed.scheme() == "https" => parsed,
        Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(format!("\"{url}\" is not an https: URL"));
        }
        Err(url::ParseError::EmptyHost) => return Err(format!("\"{url}\" has no host")),
        // A host whose last label is a number is an IPv4 address to a URL parser; one that is
        // not a valid address (`10.0.0.1.5`, `example.123`) cannot be fetched at all.
        Err(url::ParseError::InvalidIpv4Address) => {
            return Err(format!(
                "\"{url}\" has a host that is encoded or a partial IP address; write a domain name or a full IP address"
            ));
        }
        Err(err) => return Err(format!("\"{url}\" is not a valid URL: {err}")),
    };
    // `https://@example.com` embeds empty credentials: still refused, as the '@' misleads.
    if embedded_credentials.get() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "\"{url}\" carries credentials; put none in a published definition"
        ));
    }
    let private_v4 = |ip: Ipv4Addr| {
        let [a, b, ..] = ip.octets();
        ip.is_private()
            || ip.is_loopback()
            || ip.is_link_local()
            || ip.is_broadcast()
            || a == 0
            || (a == 100 && (b & 0xc0) == 64) // shared address space (carrier-grade NAT)
    };
    // What the host must be written as, unless it can only be written one way.
    let (written, private) = match parsed.host() {
        None => return Err(format!("\"{url}\" has no host")),
        Some(url::Host::Ipv4(ip)) => (Some(ip.to_string()), private_v4(ip)),
        Some(url::Host::Ipv6(ip)) => {
            let first = ip.segments()[0];
            let private = ip.is_loopback()
                || ip.is_unspecified()
                || ip.to_ipv4_mapped().is_some_and(private_v4)
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80;
            // An IPv6 address is always written within brackets, in any of its spellings.
            (None, private)
        }
        Some(url::Host::Domain(domain)) => {
            // A trailing dot names the same host: "localhost." is localhost.
            let name = domain.trim_end_matches('.');
            if name.is_empty() {
                return Err(format!("\"{url}\" has no host"));
            }
            let private = name == "localhost"
                || ["localhost", "local", "internal", "lan", "home.arpa"]
                    .iter()
                    .any(|suffix| name.ends_with(&format!(".{suffix}")))
                || !name.contains('.');
            // Internationalized names are written in Unicode and read as Punycode.
            let internationalized = name.split('.').any(|label| label.starts_with("xn--"));
            ((!internationalized).then(|| domain.to_owned()), private)
        }
    };
    if private {
        return Err(format!("\"{url}\" does not point at a public host"));
    }
    // A public host written other than as the parser reads it (percent-escapes, `8.8.2056` for
    // 8.8.8.8, full-width digits) is refused too: a reviewer reading the definition would
    // misread it.
    if written.is_some_and(|host| !url.to_ascii_lowercase().contains(&host)) {
        return Err(format!(
            "\"{url}\" has a host that is encoded or a partial IP address; write a domain name or a full IP address"
        ));
    }
    Ok(())
}

/// Checks a dist-tag name such as `stable`.
pub fn check_tag(tag: &str) -> Result<(), String> {
    // Checked before the shape, which a version (always dotted) never has, so that this more
    // useful message is the one an author sees.
    if semver::Version::parse(tag).is_ok() {
        return Err(format!(
            "tag \"{tag}\" is a version number, so name@{tag} would be ambiguous"
        ));
    }
    check_tag_shape(tag)
}

/// Checks an environment variable name as the runtime does.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let shape_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    check_length("environment variable name", name, MAX_ENV_LEN)?;
    if shape_ok {
        Ok(())
    } else {
        Err(format!(
            "environment variable name \"{name}\" is not valid: use letters, digits, '_' and '-', starting with a letter or digit"
        ))
    }
}

/// Parses a version written canonically, as a version file name and `version` field must be.
pub fn parse_canonical_version(text: &str) -> Result<semver::Version, String> {
    match semver::Version::parse(text) {
        Ok(version) if version.to_string() == text => Ok(version),
        Ok(version) => Err(format!(
            "version \"{text}\" is not written canonically (\"{version}\")"
        )),
        Err(err) => Err(format!("\"{text}\" is not a SemVer version: {err}")),
    }
}

/// The lifecycle status of a published version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Available,
    Deprecated,
    Disabled,
}

impl Status {
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "available" => Some(Status::Available),
            "deprecated" => Some(Status::Deprecated),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Available => "available",
            Status::Deprecated => "deprecated",
            Status::Disabled => "disabled",
        }
    }

    /// Whether the lifecycle allows moving from `self` to `next`: only forward, and
    /// `disabled` is final.
    pub fn may_become(self, next: Status) -> bool {
        self <= next
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A BLAKE3 digest, shown as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// The hash of everything `reader` gives, read in small pieces rather than held whole.
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<Hash> {
        let mut hasher = blake3::Hasher::new();
        std::io::copy(&mut reader, &mut hasher)?;
        Ok(Hash(*hasher.finalize().as_bytes()))
    }

    /// Reads exactly 64 lowercase hex digits: a hash names a file, so it has one spelling.
    pub fn parse(hex: &str) -> Option<Hash> {
        let bytes = HEXLOWER.decode(hex.as_bytes()).ok()?;
        bytes.try_into().ok().map(Hash)
    }

    pub fn to_hex(self) -> String {
        HEXLOWER.encode(&self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Lowercase hex in human-readable formats (JSON), the 32 raw bytes in binary ones (the build
/// cache).
impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            let bytes = <&[u8]>::deserialize(deserializer)?;
            return <[u8; 32]>::try_from(bytes).map(Hash).map_err(|_| {
                serde::de::Error::custom(format!("a BLAKE3 hash has 32 bytes, not {}", bytes.len()))
            });
        }
        let text = String::deserialize(deserializer)?;
        Hash::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("\"{text}\" is not a lowercase hex BLAKE3 hash"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_runtime_rules() {
        assert!(ExpertName::parse("@acme/researcher").is_ok());
        assert!(ExpertName::parse("tic-tac-toe").is_ok());
        assert!(ExpertName::parse("a_1").is_ok());
        assert!(
            ExpertName::parse("@Acme/Researcher")
                .unwrap_err()
                .contains("not canonical")
        );
        assert!(ExpertName::parse("-x").is_err());
        assert!(ExpertName::parse("@acme").is_err());
        assert!(ExpertName::parse("@a.b/x").is_err());
        assert!(ExpertName::parse(&"a".repeat(256)).is_err());
        assert!(ExpertName::parse(&format!("@{}/x", "a".repeat(129))).is_err());
        // 200 characters (400 bytes): refused for its letters, not for a length it is within.
        assert!(
            ExpertName::parse(&"é".repeat(200))
                .unwrap_err()
                .contains("is not valid")
        );
    }

    #[test]
    fn names_know_their_paths() {
        let name = ExpertName::parse("@acme/researcher").unwrap();
        assert_eq!(
            name.data_dir(Path::new("data")),
            Path::new("data/@acme/researcher")
        );
        assert_eq!(
            name.readable_index_path(),
            "v1/experts/@acme/researcher.json"
        );
        assert_eq!(name.scope(), Some("@acme"));
    }

    #[test]
    fn tags_cannot_look_like_versions() {
        assert!(check_tag("stable").is_ok());
        assert!(check_tag("1.0.0").unwrap_err().contains("version number"));
        assert!(check_tag("Beta").is_err());
    }

    #[test]
    fn versions_must_be_canonical() {
        assert!(parse_canonical_version("1.2.3-beta.1+b5").is_ok());
        assert!(parse_canonical_version("01.2.3").is_err());
        assert!(parse_canonical_version("v1.2.3").is_err());
        assert!(parse_canonical_version("1.2").is_err());
    }

    #[test]
    fn keys_split_name_and_selector() {
        let key = ExpertKey::parse("@acme/researcher@1.2.3").unwrap();
        assert_eq!(key.name.as_str(), "@acme/researcher");
        assert_eq!(key.selector, Selector::Version("1.2.3".parse().unwrap()));
        let key = ExpertKey::parse("@acme/researcher@stable").unwrap();
        assert_eq!(key.selector, Selector::Tag("stable".into()));
        assert_eq!(
            ExpertKey::parse("tic-tac-toe").unwrap().selector,
            Selector::Latest
        );
        assert_eq!(
            ExpertKey::parse("x@latest").unwrap().selector,
            Selector::Latest
        );
        assert!(ExpertKey::parse("x@1.2").is_err());
        assert!(ExpertKey::parse("@acme").is_err());
    }

    #[test]
    fn skill_names_are_npm_style() {
        assert!(check_skill_name("@perstack/base").is_ok());
        assert!(check_skill_name("@perstack/base@0.0.34").is_ok());
        assert!(check_skill_name("firecrawl").is_ok());
        assert!(check_skill_name("Gmail").is_err());
        assert!(check_skill_name("@scope").is_err());
    }

    #[test]
    fn endpoints_must_be_public_https() {
        assert!(check_public_https_url("https://mcp.example.com/sse").is_ok());
        assert!(check_public_https_url("http://mcp.example.com/sse").is_err());
        assert!(check_public_https_url("https://localhost:8080/sse").is_err());
        assert!(check_public_https_url("https://10.1.2.3/sse").is_err());
        assert!(check_public_https_url("https://[::1]/sse").is_err());
        assert!(check_public_https_url("https://user:pw@example.com/").is_err());
        assert!(check_public_https_url("https://example.com./sse").is_ok());
        for private in [
            "https://localhost./sse",
            "https://[::ffff:127.0.0.1]/sse",
            "https://100.64.0.1/sse",
            "https://0.1.2.3/sse",
            "https://127.1/sse",
            "https://2130706433/sse",
            "https://10.0.0.0x1/sse",
            "https://127.0.0.1%2e/sse",
        ] {
            assert!(check_public_https_url(private).is_err(), "{private}");
        }
    }

    #[test]
    fn endpoint_hosts_are_judged_as_a_url_parser_reads_them() {
        let check = |url: &str| {
            check_public_https_url(url).map_err(|err| {
                assert!(err.starts_with(&format!("\"{url}\" ")), "{err}");
                err[url.len() + 3..].to_owned()
            })
        };
        let not_public = Err("does not point at a public host".to_owned());
        // Browsers and Node read a backslash as a slash: this host is 127.0.0.1.
        assert_eq!(check("https://127.0.0.1\\.example.com/x"), not_public);
        assert_eq!(check("https:\\\\127.0.0.1\\sse"), not_public);
        assert_eq!(check("https://0x7f.1/sse"), not_public);
        assert_eq!(check("https://0177.0.0.1/sse"), not_public);
        assert_eq!(check("https://[::1]/sse"), not_public);
        assert_eq!(check("https://[0:0:0:0:0:0:0:1]/sse"), not_public);
        assert_eq!(check("https://[fd00::1]/sse"), not_public);
        assert_eq!(check("https://[fe80::1]/sse"), not_public);
        assert_eq!(check("https://local%68ost/sse"), not_public);
        assert_eq!(
            check("https://\u{ff11}\u{ff12}\u{ff17}.0.0.1/sse"),
            not_public
        );
        assert_eq!(check("https://localhost../sse"), not_public);
        assert_eq!(check("https://printer.LOCAL./sse"), not_public);
        assert_eq!(check("HTTPS://127.0.0.1/sse"), not_public);
        assert_eq!(check("https:///intranet/sse"), not_public);
        for credentials in [
            "https://a@127.0.0.1/sse",
            "https://a@example.com/sse",
            "https://:pw@example.com/sse",
            "https://@example.com/sse",
        ] {
            assert_eq!(
                check(credentials),
                Err("carries credentials; put none in a published definition".to_owned()),
                "{credentials}"
            );
        }
        let encoded = Err(
            "has a host that is encoded or a partial IP address; write a domain name or a full IP address"
                .to_owned(),
        );
        assert_eq!(check("https://8.8.2056/sse"), encoded);
        assert_eq!(check("https://%65xample.com/sse"), encoded);
        assert_eq!(check("https://example.123/sse"), encoded);
        assert_eq!(check("https://1.2.3.4.5/sse"), encoded);
        assert_eq!(check("https://"), Err("has no host".to_owned()));
        assert_eq!(check("https://./sse"), Err("has no host".to_owned()));
        assert_eq!(
            check("https://exa mple.com/sse"),
            Err("is not a valid URL: invalid international domain name".to_owned())
        );
        for not_https in [
            "http://example.com/",
            "mailto:a@example.com",
            "example.com/sse",
        ] {
            assert_eq!(check(not_https), Err("is not an https: URL".to_owned()));
        }
        for public in [
            "https://mcp.example.com/sse",
            "HTTPS://MCP.Example.com/sse",
            "https://example.com.:8443/sse?x=1#y",
            "https://8.8.8.8/sse",
            "https://[2606:4700:4700::1111]/sse",
            "https://b\u{fc}cher.example/sse",
        ] {
            assert_eq!(check(public), Ok(()), "{public}");
        }
    }

    #[test]
    fn a_streamed_hash_is_the_hash_of_the_whole() {
        // Longer than one read, so the pieces are joined.
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let streamed = Hash::of_reader(bytes.as_slice()).unwrap();
        assert_eq!(streamed, Hash::of(&bytes));
    }

    #[test]
    fn hashes_are_64_lowercase_hex_digits() {
        let hash = Hash::of(b"perstack");
        let hex = hash.to_hex();
        assert_eq!(hex, blake3::hash(b"perstack").to_hex().as_str());
        assert_eq!(Hash::parse(&hex), Some(hash));
        assert_eq!(hash.to_string(), hex);
        for bad in [
            hex.to_ascii_uppercase(),
            hex[..63].to_owned(),
            format!("{hex}00"),
            format!("+{}", &hex[1..]),
            String::new(),
        ] {
            assert_eq!(Hash::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn status_moves_only_forward() {
        use Status::*;
        assert!(Available.may_become(Deprecated));
        assert!(Available.may_become(Disabled));
        assert!(Deprecated.may_become(Disabled));
        assert!(!Deprecated.may_become(Available));
        assert!(!Disabled.may_become(Deprecated));
    }
}
