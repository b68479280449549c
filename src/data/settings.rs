//! `registry.toml`: settings for the whole registry, every one with a default.
//!
//! Unknown keys are refused, so a misspelt setting never silently falls back to its default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::Spanned;
use url::Url;

use crate::common::diagnostic::Diagnostic;
use crate::common::model::{ExpertName, MAX_VERSION_FILE_BYTES};
use crate::common::signing::PublicKey;
use crate::data::toml_file::{self, Checker, TomlFile, Value};

pub const FILE_NAME: &str = "registry.toml";
pub const DEFAULT_NAME: &str = "Perstack Registry";
pub const DEFAULT_MAX_VERSION_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A display name for people.
    pub name: String,
    /// The largest version file accepted, in bytes.
    pub max_version_bytes: u64,
    /// Scope (`@acme`) -> the code-host owners who must review changes to it.
    pub scope_owners: BTreeMap<String, Vec<String>>,
    /// Expert names and scopes accepted even though they look like existing ones.
    pub allowed_names: BTreeSet<String>,
    /// The public keys that may sign the registry's root (`[trust] keys`), as written.
    pub trust_keys: Vec<String>,
    /// The code-host owners who must approve changes to `registry.toml` and the workflows
    /// (`[maintainers] owners`): CODEOWNERS makes the code host enforce it.
    pub maintainers: Vec<String>,
    /// Where the registry is published (`[site] url`), an absolute `http(s)` URL ending in `/`:
    /// the website shows it as `perstackApiBaseUrl`, and `404.html` finds its styles and links
    /// from its path. Unset, pages work the address out in the browser and `404.html` assumes
    /// the registry is at the root of its host.
    pub site_url: Option<Url>,
    /// Where `registry-data/` is shown on the registry's code host (`[site] repository`), an
    /// absolute `http(s)` URL ending in `/`: a version file's source page is this address
    /// followed by the file's path in `registry-data/`, so each version page links the file
    /// and its history where it was reviewed.
    pub site_repository: Option<Url>,
    /// The publish log's origin when the log starts (`[log] origin`); unset, the build derives
    /// one. Once the log exists its origin is read back from it and never changes.
    pub log_origin: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            name: DEFAULT_NAME.to_owned(),
            max_version_bytes: DEFAULT_MAX_VERSION_BYTES,
            scope_owners: BTreeMap::new(),
            allowed_names: BTreeSet::new(),
            trust_keys: Vec::new(),
            maintainers: Vec::new(),
            site_url: None,
            site_repository: None,
            log_origin: None,
        }
    }
}

/// Parses `registry.toml`. Problems are pushed to `problems`; the settings returned fall back to
/// defaults for whatever could not be read, so the rest of the data can still be checked.
pub fn parse(path: &Path, bytes: &[u8], problems: &mut Vec<Diagnostic>) -> Settings {
    let mut settings = Settings::default();
    let Some(text) = toml_file::check_text(path, bytes, problems) else {
        return settings;
    };
    let src = TomlFile::new(path, text);
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
            "limits" => parse_limits(&mut checker, value, &mut settings),
            "scopes" => parse_scopes(&mut checker, value, &mut settings),
            "names" => parse_names(&mut checker, value, &mut settings),
            "trust" => parse_trust(&mut checker, value, &mut settings),
            "site" => parse_site(&mut checker, value, &mut settings),
            "log" => parse_log(&mut checker, value, &mut settings),
            "maintainers" => {
                if let Some(owners) = parse_owners(&mut checker, "[maintainers]", value) {
                    settings.maintainers = owners;
                }
            }
            other => checker.unknown_key(FILE_NAME, other, key.span()),
        }
    }
    settings
}

/// `[limits]`: `max-version-bytes`.
fn parse_limits<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    settings: &mut Settings,
) {
    let Some(limits) = checker.table("limits", value) else {
        return;
    };
    for (key, value) in limits.iter() {
        match key.get_ref().as_ref() {
            "max-version-bytes" => match checker.integer("max-version-bytes", value) {
                Some(bytes) if bytes > 0 && bytes as u64 <= MAX_VERSION_FILE_BYTES => {
                    settings.max_version_bytes = bytes as u64
                }
                Some(_) => checker.error(
                    "invalid-setting",
                    value.span(),
                    format!(
                        "`max-version-bytes` must be between 1 and {MAX_VERSION_FILE_BYTES}: clients refuse larger version files"
                    ),
                ),
                None => {}
            },
            other => checker.unknown_key("[limits]", other, key.span()),
        }
    }
}

/// `[scopes."@acme"]`: each scope's `owners`.
fn parse_scopes<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    settings: &mut Settings,
) {
    let Some(scopes) = checker.table("scopes", value) else {
        return;
    };
    for (scope, entry) in scopes.iter() {
        let scope_name = scope.get_ref().as_ref();
        if let Err(err) = check_scope(scope_name) {
            checker.error("invalid-scope", scope.span(), err);
            continue;
        }
        if let Some(owners) = parse_owners(checker, &format!("[scopes.\"{scope_name}\"]"), entry) {
            settings.scope_owners.insert(scope_name.to_owned(), owners);
        }
    }
}

/// One `[scopes."@acme"]` table: its `owners`, which must name at least one code owner.
/// A table holding `owners`, code-host owners (`[scopes."@acme"]`, `[maintainers]`).
fn parse_owners<'i>(
    checker: &mut Checker<'_, 'i>,
    what: &str,
    entry: &Spanned<Value<'i>>,
) -> Option<Vec<String>> {
    let table = checker.table(what, entry)?;
    let mut owners = Vec::new();
    for (key, value) in table.iter() {
        match key.get_ref().as_ref() {
            "owners" => {
                for (owner, span) in checker.string_array("owners", value) {
                    match check_owner(owner) {
                        Ok(()) => owners.push(owner.to_owned()),
                        Err(err) => checker.error("invalid-owner", span, err),
                    }
                }
                if owners.is_empty() {
                    checker.error(
                        "empty",
                        value.span(),
                        format!("{what} `owners` must name at least one owner"),
                    );
                }
            }
            other => checker.unknown_key(what, other, key.span()),
        }
    }
    if !table.contains_key("owners") {
        checker.error(
            "missing-field",
            entry.span(),
            format!("{what} is missing the required field `owners`"),
        );
    }
    Some(owners)
}

/// `[names]`: `allow`, expert names and scopes accepted although they look like others.
fn parse_names<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    settings: &mut Settings,
) {
    let Some(names) = checker.table("names", value) else {
        return;
    };
    for (key, value) in names.iter() {
        match key.get_ref().as_ref() {
            "allow" => {
                for (name, span) in checker.string_array("allow", value) {
                    let valid = if name.contains('/') || !name.starts_with('@') {
                        ExpertName::parse(name).map(|_| ())
                    } else {
                        check_scope(name)
                    };
                    match valid {
                        Ok(()) => {
                            settings.allowed_names.insert(name.to_owned());
                        }
                        Err(err) => checker.error("invalid-name", span, err),
                    }
                }
            }
            other => checker.unknown_key("[names]", other, key.span()),
        }
    }
}

/// `[trust]`: `keys`, the public keys that may sign the root.
fn parse_trust<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    settings: &mut Settings,
) {
    let Some(trust) = checker.table("trust", value) else {
        return;
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

/// `[site]`: `url`, where the registry is published, and `repository`, where its data is shown
/// on its code host.
fn parse_site<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    settings: &mut Settings,
) {
    let Some(site) = checker.table("site", value) else {
        return;
    };
    for (key, value) in site.iter() {
        match key.get_ref().as_ref() {
            "url" => {
                if let Some(text) = checker.string("url", value) {
                    match check_site_url(text) {
                        Ok(url) => settings.site_url = Some(url),
                        Err(err) => checker.error("invalid-url", value.span(), err),
                    }
                }
            }
            "repository" => {
                if let Some(text) = checker.string("repository", value) {
                    match check_repository_url(text) {
                        Ok(url) => settings.site_repository = Some(url),
                        Err(err) => checker.error("invalid-url", value.span(), err),
                    }
                }
            }
            other => checker.unknown_key("[site]", other, key.span()),
        }
    }
}

/// `[log]`: `origin`, the publish log's name in its checkpoints (C2SP `tlog-checkpoint`): a
/// schema-less URL such as `registry.example.com/log`, at most 255 characters, without
/// whitespace, `+` or control characters (it is also the key name of the checkpoint's
/// signatures).
fn parse_log<'i>(
    checker: &mut Checker<'_, 'i>,
    value: &Spanned<Value<'i>>,
    settings: &mut Settings,
) {
    let Some(log) = checker.table("log", value) else {
        return;
    };
    for (key, value) in log.iter() {
        match key.get_ref().as_ref() {
            "origin" => {
                if let Some(text) = checker.string("origin", value) {
                    let bad = text.is_empty()
                        || text.len() > 255
                        || text
                            .chars()
                            .any(|c| c.is_whitespace() || c.is_control() || c == '+');
                    if bad {
                        checker.error(
                            "invalid-origin",
                            value.span(),
                            format!(
                                "origin \"{}\" is not a log origin: write 1 to 255 characters without spaces, '+' or control characters, like \"registry.example.com/log\"",
                                text.escape_debug()
                            ),
                        );
                    } else {
                        settings.log_origin = Some(text.to_owned());
                    }
                }
            }
            other => checker.unknown_key("[log]", other, key.span()),
        }
    }
}

/// Reads `[site] url` with the `url` crate, as browsers and the Perstack runtime will: an
/// absolute `http` or `https` URL of a directory, without credentials, query or fragment. A
/// missing final `/` is added, since the registry is a directory of files.
fn check_site_url(text: &str) -> Result<Url, String> {
    check_directory_url(
        "url",
        text,
        "write the address the registry is published at, like \"https://registry.example.com/\"",
    )
}

/// Reads `[site] repository` like `[site] url`: pages link below it.
fn check_repository_url(text: &str) -> Result<Url, String> {
    check_directory_url(
        "repository",
        text,
        "write the address of registry-data/ on the registry's code host, like \"https://github.com/acme/registry/blob/main/registry-data/\"",
    )
}

/// An absolute `http` or `https` URL of a directory, without credentials, query or fragment,
/// ending in `/`; `key` and `shape` name the setting and say what to write.
fn check_directory_url(key: &str, text: &str, shape: &str) -> Result<Url, String> {
    let mut url = Url::parse(text)
        .map_err(|err| format!("{key} \"{text}\" is not a URL ({err}): {shape}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{key} \"{text}\" is not an http or https address: {shape}"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{key} \"{text}\" holds a user name or password: {shape}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{key} \"{text}\" has a query or fragment, which a base address cannot keep: {shape}"
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Checks a scope written with its `@`, such as `@acme`.
pub fn check_scope(scope: &str) -> Result<(), String> {
    let valid = scope.starts_with('@')
        && ExpertName::parse(&format!("{scope}/x")).is_ok_and(|n| n.scope() == Some(scope));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "\"{scope}\" is not a scope: write @ followed by lowercase letters, digits, '-' and '_' (e.g. \"@acme\")"
        ))
    }
}

/// Checks a code owner as CODEOWNERS accepts it: `@user`, `@org/team` or an email address.
fn check_owner(owner: &str) -> Result<(), String> {
    let handle_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let valid = match owner.strip_prefix('@') {
        Some(handle) => {
            let mut parts = handle.split('/');
            let all_ok = parts
                .by_ref()
                .take(2)
                .all(|part| !part.is_empty() && part.chars().all(handle_char));
            all_ok && parts.next().is_none()
        }
        None => owner.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !owner.contains(char::is_whitespace)
        }),
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "owner \"{owner}\" is not a code owner: write @user, @org/team or an email address"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_scopes_have_the_code_host_shapes() {
        assert!(check_owner("@acme-org/maintainers").is_ok());
        assert!(check_owner("@alice").is_ok());
        assert!(check_owner("alice@example.com").is_ok());
        assert!(check_owner("@a/b/c").is_err());
        assert!(check_owner("alice").is_err());
        assert!(check_scope("@acme").is_ok());
        assert!(check_scope("acme").is_err());
        assert!(check_scope("@Acme").is_err());
        assert!(check_scope("@acme/x").is_err());
    }

    #[test]
    fn the_site_url_is_an_absolute_web_address_of_a_directory() {
        let ok = |text: &str| check_site_url(text).map(|url| url.to_string());
        assert_eq!(
            ok("https://registry.example.com").unwrap(),
            "https://registry.example.com/"
        );
        assert_eq!(
            ok("https://example.com/registry").unwrap(),
            "https://example.com/registry/"
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/a/b/").unwrap(),
            "http://127.0.0.1:8080/a/b/"
        );
        assert_eq!(
            ok("HTTPS://Example.COM/x/").unwrap(),
            "https://example.com/x/"
        );
        for bad in [
            "registry.example.com",
            "/registry/",
            "ftp://example.com/",
            "javascript:alert(1)",
            "https://user:pass@example.com/",
            "https://example.com/?a=1",
            "https://example.com/#top",
            "https://",
        ] {
            assert!(check_site_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_site_url_is_reported_at_its_place() {
        let path = Path::new("registry.toml");
        let mut problems = Vec::new();
        let settings = parse(
            path,
            b"name = \"R\"\n[site]\nurl = \"ftp://example.com/\"\nlink = \"x\"\n",
            &mut problems,
        );
        assert_eq!(settings.site_url, None);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "registry.toml:4:1: error: unknown field `link` in [site]",
                "registry.toml:3:7: error: url \"ftp://example.com/\" is not an http or https address: write the address the registry is published at, like \"https://registry.example.com/\"",
            ]
        );

        let mut problems = Vec::new();
        let settings = parse(
            path,
            b"[site]\nurl = \"https://example.com/r\"\n",
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            settings.site_url.unwrap().as_str(),
            "https://example.com/r/"
        );
    }

    #[test]
    fn the_repository_is_the_web_address_of_the_data_directory() {
        let path = Path::new("registry.toml");
        let mut problems = Vec::new();
        let settings = parse(
            path,
            b"[site]\nrepository = \"https://github.com/acme/registry/tree/main/registry-data\"\n",
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            settings.site_repository.unwrap().as_str(),
            "https://github.com/acme/registry/tree/main/registry-data/"
        );

        let mut problems = Vec::new();
        let settings = parse(
            path,
            b"[site]\nrepository = \"git@github.com:acme/registry.git\"\n",
            &mut problems,
        );
        assert_eq!(settings.site_repository, None);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(
            shown[0].starts_with(
                "registry.toml:2:14: error: repository \"git@github.com:acme/registry.git\" is not a URL"
            ) && shown[0].ends_with(
                "write the address of registry-data/ on the registry's code host, like \"https://github.com/acme/registry/blob/main/registry-data/\""
            ),
            "{shown:?}"
        );
    }
}
