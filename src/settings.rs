//! `registry.toml`: settings for the whole registry, every one with a default.
//!
//! Unknown keys are refused, so a misspelt setting never silently falls back to its default.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::signing::PublicKey;
use crate::source::{self, Checker, Source};

pub const FILE_NAME: &str = "registry.toml";
pub const DEFAULT_NAME: &str = "Perstack Registry";
pub const DEFAULT_MAX_VERSION_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A display name for people.
    pub name: String,
    /// The largest version file accepted, in bytes.
    pub max_version_bytes: u64,
    /// The public keys that may sign the registry's root (`[trust] keys`), as written.
    pub trust_keys: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            name: DEFAULT_NAME.to_owned(),
            max_version_bytes: DEFAULT_MAX_VERSION_BYTES,
            trust_keys: Vec::new(),
        }
    }
}

/// Parses `registry.toml`. Problems are pushed to `problems`; the settings returned fall back to
/// defaults for whatever could not be read, so the rest of the data can still be checked.
pub fn parse(path: &Path, bytes: &[u8], problems: &mut Vec<Diagnostic>) -> Settings {
    let mut settings = Settings::default();
    let Some(text) = source::check_text(path, bytes, problems) else {
        return settings;
    };
    let src = Source::new(path, text);
    let Some(document) = src.parse(problems) else {
        return settings;
    };
    let mut checker = Checker {
        src: &src,
        problems,
    };
    for (key, value) in document.get_ref().iter() {
        match key.get_ref().as_ref() {
            "name" => {
                if let Some(name) = checker.non_empty_string("name", value) {
                    settings.name = name.to_owned();
                }
            }
            "limits" => {
                let Some(limits) = checker.table("limits", value) else {
                    continue;
                };
                for (key, value) in limits.iter() {
                    match key.get_ref().as_ref() {
                        "max-version-bytes" => match checker.integer("max-version-bytes", value) {
                            Some(bytes) if bytes > 0 => settings.max_version_bytes = bytes as u64,
                            Some(_) => checker.error(
                                "invalid-setting",
                                value.span(),
                                "`max-version-bytes` must be positive".to_owned(),
                            ),
                            None => {}
                        },
                        other => checker.unknown_key("[limits]", other, key.span()),
                    }
                }
            }
            "trust" => {
                let Some(trust) = checker.table("trust", value) else {
                    continue;
                };
                for (key, value) in trust.iter() {
                    match key.get_ref().as_ref() {
                        "keys" => {
                            for (text, span) in checker.string_array("keys", value) {
                                match PublicKey::parse(text) {
                                    Ok(_) => settings.trust_keys.push(text.to_owned()),
                                    Err(err) => checker.error("invalid-key", span, err),
                                }
                            }
                        }
                        other => checker.unknown_key("[trust]", other, key.span()),
                    }
                }
            }
            other => checker.unknown_key(FILE_NAME, other, key.span()),
        }
    }
    settings
}
