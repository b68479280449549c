//! Resolution: which published version an expert key names.
//!
//! A key is `name`, `name@version`, `name@tag` or `name@REQ`, where REQ is a SemVer requirement
//! in Cargo syntax (`^1.2`, `~1.4`, `>=1, <2`, `1.2`). Disabled versions never resolve;
//! deprecated ones do (the caller warns). A requirement picks the highest version it matches,
//! and prereleases match only a requirement that names a prerelease of the same
//! `major.minor.patch` — the rule of the `semver` crate's own matching, which is used as is.

use std::fmt;

use crate::common::model::{self, ExpertName, Hash, LATEST, Status};
use crate::format::reader::{IndexDoc, IndexVersion};

/// What a key asks for after the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    Latest,
    Exact(semver::Version),
    Tag(String),
    Range(semver::VersionReq),
}

/// A parsed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub name: ExpertName,
    pub want: Want,
}

impl Request {
    /// Parses a key. After the name, a canonical version is exact, `latest` and other
    /// tag-shaped words are tags, and anything else must be a version requirement. A bare
    /// number such as `1` reads as the requirement `^1`, as in Cargo.
    pub fn parse(text: &str) -> Result<Request, String> {
        if text.len() > model::MAX_KEY_LEN {
            return Err(format!(
                "expert key is {} characters long; the limit is {}",
                text.len(),
                model::MAX_KEY_LEN
            ));
        }
        let (name, spec) = match text.rfind('@').filter(|&at| at > 0) {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        let name = ExpertName::parse(name)?;
        let want = match spec {
            None | Some(LATEST) => Want::Latest,
            Some(spec) => parse_spec(spec)?,
        };
        Ok(Request { name, want })
    }
}

fn parse_spec(spec: &str) -> Result<Want, String> {
    if let Ok(version) = model::parse_canonical_version(spec) {
        return Ok(Want::Exact(version));
    }
    let requirement = semver::VersionReq::parse(spec);
    match requirement {
        Ok(req) if spec.starts_with(|c: char| !c.is_ascii_lowercase()) => Ok(Want::Range(req)),
        _ if model::check_tag(spec).is_ok() => Ok(Want::Tag(spec.to_owned())),
        Ok(req) => Ok(Want::Range(req)),
        Err(err) => Err(format!(
            "\"{spec}\" is neither a version, a tag nor a version requirement: {err}"
        )),
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.want {
            Want::Latest => write!(f, "{}", self.name),
            Want::Exact(version) => write!(f, "{}@{version}", self.name),
            Want::Tag(tag) => write!(f, "{}@{tag}", self.name),
            Want::Range(req) => write!(f, "{}@{req}", self.name),
        }
    }
}

/// The version a key resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: ExpertName,
    pub version: String,
    pub blake3: Hash,
    pub size: u64,
    /// Where the version file is served, relative to the registry root.
    pub path: String,
    pub status: Status,
    pub reason: Option<String>,
    /// The version's own delegates, as written.
    pub delegates: Vec<String>,
}

impl Resolved {
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown expert \"{name}\": the registry has no expert of that name")]
    UnknownExpert { name: String },
    #[error("unknown tag \"{tag}\" of \"{name}\" (its tags: {known})")]
    UnknownTag {
        name: String,
        tag: String,
        known: String,
    },
    #[error("no version of \"{name}\" matches \"{want}\": {detail}")]
    NoMatch {
        name: String,
        want: String,
        detail: String,
    },
    #[error("{key} is disabled and no longer resolves: {reason}")]
    Disabled { key: String, reason: String },
}

/// Resolves `request` against the expert's index document (`None`: no such expert).
pub fn resolve(request: &Request, index: Option<&IndexDoc>) -> Result<Resolved, ResolveError> {
    let name = request.name.as_str();
    let Some(index) = index else {
        return Err(ResolveError::UnknownExpert {
            name: name.to_owned(),
        });
    };
    let no_match = |want: &str, detail: String| ResolveError::NoMatch {
        name: name.to_owned(),
        want: want.to_owned(),
        detail,
    };
    let by_text = |version: &str| index.versions.get_key_value(version);
    let (version, entry) = match &request.want {
        Want::Latest => {
            let latest = index.tag(LATEST).ok_or_else(|| {
                no_match(
                    LATEST,
                    "it has no available version, so no latest".to_owned(),
                )
            })?;
            by_text(latest).ok_or_else(|| {
                no_match(
                    LATEST,
                    format!("latest names {latest}, which is not listed"),
                )
            })?
        }
        Want::Tag(tag) => {
            let target = index.tag(tag).ok_or_else(|| ResolveError::UnknownTag {
                name: name.to_owned(),
                tag: tag.clone(),
                known: index.tags().map(|(t, _)| t).collect::<Vec<_>>().join(", "),
            })?;
            by_text(target).ok_or_else(|| {
                no_match(tag, format!("{tag} names {target}, which is not listed"))
            })?
        }
        Want::Exact(wanted) => index
            .versions
            .iter()
            .find(|(text, _)| semver::Version::parse(text).is_ok_and(|v| v == *wanted))
            .ok_or_else(|| {
                no_match(
                    &wanted.to_string(),
                    format!(
                        "there is no version {wanted} (versions: {})",
                        listing(index)
                    ),
                )
            })?,
        Want::Range(req) => best_match(index, req).ok_or_else(|| {
            no_match(
                &req.to_string(),
                format!("versions that are not disabled: {}", listing(index)),
            )
        })?,
    };
    if entry.status == Status::Disabled {
        return Err(ResolveError::Disabled {
            key: format!("{name}@{version}"),
            reason: entry.reason.clone().unwrap_or_default(),
        });
    }
    Ok(Resolved {
        name: request.name.clone(),
        version: version.clone(),
        blake3: entry.blake3,
        size: entry.size,
        path: crate::format::index::blob_path(&entry.blake3),
        status: entry.status,
        reason: entry.reason.clone(),
        delegates: entry.delegates.clone(),
    })
}

/// The highest version that is not disabled and that `req` matches.
fn best_match<'a>(
    index: &'a IndexDoc,
    req: &semver::VersionReq,
) -> Option<(&'a String, &'a IndexVersion)> {
    index
        .versions
        .iter()
        .filter(|(_, entry)| entry.status != Status::Disabled)
        .filter_map(|(text, entry)| Some((semver::Version::parse(text).ok()?, text, entry)))
        .filter(|(version, _, _)| req.matches(version))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, text, entry)| (text, entry))
}

/// The versions that are not disabled, in SemVer order, for messages.
fn listing(index: &IndexDoc) -> String {
    let mut versions: Vec<semver::Version> = index
        .versions
        .iter()
        .filter(|(_, entry)| entry.status != Status::Disabled)
        .filter_map(|(text, _)| semver::Version::parse(text).ok())
        .collect();
    versions.sort();
    if versions.is_empty() {
        return "none".to_owned();
    }
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn index(versions: &[(&str, &str)], tags: serde_json::Value) -> IndexDoc {
        let hash = "0".repeat(64);
        let versions: serde_json::Map<String, serde_json::Value> = versions
            .iter()
            .map(|(v, status)| {
                let mut entry = json!({"blake3": hash, "status": status});
                if *status != "available" {
                    entry["reason"] = json!("because");
                }
                (v.to_string(), entry)
            })
            .collect();
        serde_json::from_value(json!({"name": "x", "dist-tags": tags, "versions": versions}))
            .unwrap()
    }

    fn resolved(key: &str, doc: &IndexDoc) -> Result<String, ResolveError> {
        resolve(&Request::parse(key).unwrap(), Some(doc)).map(|r| r.version)
    }

    #[test]
    fn keys_parse_into_what_they_ask_for() {
        let want = |key: &str| Request::parse(key).unwrap().want;
        assert_eq!(want("@a/x"), Want::Latest);
        assert_eq!(want("@a/x@latest"), Want::Latest);
        assert_eq!(want("@a/x@1.2.3"), Want::Exact("1.2.3".parse().unwrap()));
        assert_eq!(want("@a/x@stable"), Want::Tag("stable".into()));
        assert_eq!(want("@a/x@^1.2"), Want::Range("^1.2".parse().unwrap()));
        assert_eq!(
            want("@a/x@>=1, <2"),
            Want::Range(">=1, <2".parse().unwrap())
        );
        assert_eq!(want("x@1"), Want::Range("^1".parse().unwrap()));
        assert_eq!(want("x@*"), Want::Range("*".parse().unwrap()));
        assert!(Request::parse("x@Stable").is_err());
        assert!(Request::parse("@a").is_err());
    }

    #[test]
    fn each_kind_of_key_resolves() {
        let doc = index(
            &[
                ("1.0.0", "deprecated"),
                ("1.1.0", "available"),
                ("1.2.0", "disabled"),
                ("2.0.0-beta.1", "available"),
            ],
            json!({"latest": "1.1.0", "old": "1.0.0"}),
        );
        assert_eq!(resolved("x", &doc).unwrap(), "1.1.0");
        assert_eq!(resolved("x@old", &doc).unwrap(), "1.0.0");
        assert_eq!(resolved("x@1.0.0", &doc).unwrap(), "1.0.0");
        assert_eq!(resolved("x@^1", &doc).unwrap(), "1.1.0");
        assert_eq!(resolved("x@>=2.0.0-beta.0", &doc).unwrap(), "2.0.0-beta.1");
        assert!(matches!(
            resolved("x@>=2", &doc),
            Err(ResolveError::NoMatch { .. })
        ));
        assert!(matches!(
            resolved("x@1.2.0", &doc),
            Err(ResolveError::Disabled { .. })
        ));
        assert!(matches!(
            resolved("x@beta", &doc),
            Err(ResolveError::UnknownTag { .. })
        ));
        assert!(matches!(
            resolve(&Request::parse("y").unwrap(), None),
            Err(ResolveError::UnknownExpert { .. })
        ));
    }

    fn version_strategy() -> impl Strategy<Value = semver::Version> {
        (0u64..3, 0u64..3, 0u64..3, prop::option::of(0u64..3)).prop_map(
            |(major, minor, patch, pre)| {
                let mut version = semver::Version::new(major, minor, patch);
                if let Some(n) = pre {
                    version.pre = semver::Prerelease::new(&format!("rc.{n}")).unwrap();
                }
                version
            },
        )
    }

    fn req_strategy() -> impl Strategy<Value = semver::VersionReq> {
        let op = prop::sample::select(vec!["^", "~", "=", ">", ">=", "<", "<=", ""]);
        (
            op,
            version_strategy(),
            any::<bool>(),
            prop::option::of(0u64..3),
        )
            .prop_map(|(op, version, partial, upper)| {
                let text = if partial && version.pre.is_empty() {
                    format!("{op}{}.{}", version.major, version.minor)
                } else {
                    format!("{op}{version}")
                };
                let text = match upper {
                    Some(major) => format!("{text}, <{}", major + 1),
                    None => text,
                };
                text.parse().unwrap()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `resolve` picks exactly what the semver crate's matching picks: the highest
        /// version that is not disabled among those the requirement matches.
        #[test]
        fn ranges_agree_with_semver(
            versions in prop::collection::btree_map(version_strategy(), 0u8..3, 0..8),
            req in req_strategy(),
        ) {
            let statuses = ["available", "deprecated", "disabled"];
            let texts: Vec<(String, &str)> = versions
                .iter()
                .map(|(v, s)| (v.to_string(), statuses[*s as usize]))
                .collect();
            let pairs: Vec<(&str, &str)> = texts.iter().map(|(v, s)| (v.as_str(), *s)).collect();
            let doc = index(&pairs, json!({}));
            let expected = versions
                .iter()
                .filter(|(v, s)| **s != 2 && req.matches(v))
                .map(|(v, _)| v.to_string())
                .next_back();
            let request = Request { name: ExpertName::parse("x").unwrap(), want: Want::Range(req) };
            let actual = resolve(&request, Some(&doc)).ok().map(|r| r.version);
            prop_assert_eq!(actual, expected);
        }
    }
}
