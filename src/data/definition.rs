//! Checks one version file, a published Expert definition, on its own.
//!
//! A version file is perstack.toml text holding a single `[experts."<name>"]` table. Every rule
//! that can be decided from the file alone lives here (field types, lengths, names, skill kinds);
//! rules that need the whole registry, such as delegates resolving, live in `validate`, working
//! from the [`VersionRecord`] this module extracts.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::common::diagnostic::{Diagnostic, Position};
use crate::common::model::{self, ExpertKey, ExpertName, Hash};
use crate::data::toml_file::{self, Checker, Table, TomlFile, Value};

pub const MAX_DESCRIPTION_CHARS: usize = 2048;
pub const MAX_INSTRUCTION_CHARS: usize = 20480;
pub const MAX_DELEGATES: usize = 255;
pub const MAX_SKILLS: usize = 255;
pub const MAX_CATEGORY_TAGS: usize = 8;
/// What `minRuntimeVersion` says when a definition does not; the only value the API knows.
pub const DEFAULT_MIN_RUNTIME_VERSION: &str = "v1.0";

/// The name of the skill every expert with skills must include.
pub const BASE_SKILL: &str = "@perstack/base";

/// What the rest of the build needs to know about a valid version file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The version as written (canonical SemVer).
    pub version: String,
    pub blake3: Hash,
    pub size: u64,
    pub description: String,
    /// Every variable any skill requires, sorted and without duplicates.
    #[serde(rename = "requiredEnv")]
    pub required_env: Vec<String>,
    pub delegates: Vec<DelegateRef>,
    /// The definition's `tags` as written: categories such as `coding`, which the website's
    /// search indexes. Kept here so the site never reads a version file again to learn them.
    pub categories: Vec<String>,
}

/// A delegate as written, with where it was written, so a delegate that does not resolve can be
/// reported at its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegateRef {
    pub key: String,
    pub position: Option<Position>,
}

/// Checks a version file. Returns its record when it broke no rule; every problem found is
/// pushed to `problems` either way.
pub fn check_version_file(
    path: &Path,
    name: &ExpertName,
    version: &str,
    bytes: &[u8],
    problems: &mut Vec<Diagnostic>,
) -> Option<VersionRecord> {
    let errors_before = crate::common::diagnostic::error_count(problems);
    let text = toml_file::check_text(path, bytes, problems)?;
    let src = TomlFile::new(path, text);
    let document = src.parse(problems)?;
    let mut checker = Checker {
        src: &src,
        problems,
    };
    let expert = checker.expert_table(document.get_ref(), name)?;
    let record = checker.expert(expert, name, version, bytes);
    (crate::common::diagnostic::error_count(problems) == errors_before).then_some(record)
}

/// Checks an `allowedDomains` entry as Perstack does (`domainPatternSchema` in
/// `packages/core/src/schemas/perstack-toml.ts` upstream): an exact domain or a `*.` wildcard
/// prefix, labels of ASCII letters, digits and inner hyphens, and no punycode label.
fn check_domain_pattern(pattern: &str) -> Result<(), String> {
    let domain = pattern.strip_prefix("*.").unwrap_or(pattern);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !domain.split('.').all(label_ok) {
        return Err(format!(
            "allowed domain \"{pattern}\" is not valid: use an exact domain (example.com) or a wildcard prefix (*.example.com)"
        ));
    }
    if domain
        .split('.')
        .any(|label| label.to_ascii_lowercase().starts_with("xn--"))
    {
        return Err(format!(
            "allowed domain \"{pattern}\" is punycode, which Perstack refuses to prevent look-alike domains; use ASCII domains only"
        ));
    }
    Ok(())
}

/// Whether `key` is a name with a SemVer requirement (`name@^1.2`) rather than a version or tag.
fn is_range_key(key: &str) -> bool {
    key.rfind('@').filter(|&at| at > 0).is_some_and(|at| {
        ExpertName::parse(&key[..at]).is_ok() && semver::VersionReq::parse(&key[at + 1..]).is_ok()
    })
}

type Entry<'v, 'i> = (
    &'v Spanned<std::borrow::Cow<'i, str>>,
    &'v Spanned<Value<'i>>,
);

impl<'i> Checker<'_, 'i> {
    /// Finds the one `[experts."<name>"]` table, refusing anything else at the top level.
    fn expert_table<'t>(
        &mut self,
        document: &'t Table<'i>,
        name: &ExpertName,
    ) -> Option<&'t Spanned<Value<'i>>> {
        let mut found = None;
        for (key, value) in document.iter() {
            if key.get_ref() != "experts" {
                self.error(
                    "unexpected-top-level-key",
                    key.span(),
                    format!(
                        "top-level key `{}` is not part of a published definition: a version file holds only [experts.\"{name}\"]",
                        key.get_ref()
                    ),
                );
                continue;
            }
            let Value::Table(experts) = value.get_ref() else {
                self.error(
                    "wrong-type",
                    value.span(),
                    format!(
                        "`experts` must be a table, not {}",
                        toml_file::type_name(value.get_ref())
                    ),
                );
                continue;
            };
            for (expert_key, expert) in experts.iter() {
                if expert_key.get_ref() == name.as_str() {
                    found = Some(expert);
                } else {
                    self.error(
                        "name-mismatch",
                        expert_key.span(),
                        format!(
                            "this file defines expert \"{}\", but its directory says \"{name}\"; a version file holds exactly one expert, named after its directory",
                            expert_key.get_ref()
                        ),
                    );
                }
            }
        }
        if found.is_none() && !self.problems.iter().any(|d| d.code == "name-mismatch") {
            self.error(
                "missing-expert",
                0..0,
                format!("file does not define [experts.\"{name}\"]"),
            );
        }
        found
    }

    fn expert(
        &mut self,
        expert: &Spanned<Value<'i>>,
        name: &ExpertName,
        version: &str,
        bytes: &[u8],
    ) -> VersionRecord {
        let mut record = VersionRecord {
            version: version.to_owned(),
            blake3: Hash::of(bytes),
            size: bytes.len() as u64,
            description: String::new(),
            required_env: Vec::new(),
            delegates: Vec::new(),
            categories: Vec::new(),
        };
        let Some(table) = self.table(&format!("expert \"{name}\""), expert) else {
            return record;
        };
        let mut required_env = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for (key, value) in table.iter() {
            seen.insert(key.get_ref().as_ref());
            match key.get_ref().as_ref() {
                "version" => {
                    if let Some(text) = self.string("version", value)
                        && text != version
                    {
                        self.error(
                            "version-mismatch",
                            value.span(),
                            format!(
                                "`version` is \"{text}\", but the file name says \"{version}\""
                            ),
                        );
                    }
                }
                "description" => {
                    if let Some(text) = self.string("description", value) {
                        self.length("description", text, value.span(), MAX_DESCRIPTION_CHARS);
                        record.description = text.to_owned();
                    }
                }
                "instruction" => {
                    if let Some(text) = self.string("instruction", value) {
                        self.length("instruction", text, value.span(), MAX_INSTRUCTION_CHARS);
                    }
                }
                "minRuntimeVersion" => {
                    // The runtime's API client accepts only "v1.0" from a registry
                    // (`minRuntimeVersion: z.literal("v1.0")` in the api-client upstream) and
                    // refuses the whole document otherwise. Perstack's own parser accepts any
                    // string, so this is a warning.
                    if let Some(text) = self.string("minRuntimeVersion", value)
                        && text != DEFAULT_MIN_RUNTIME_VERSION
                    {
                        let message = format!(
                            "`minRuntimeVersion` is \"{text}\": the Perstack runtime reads only \"{}\" from a registry and will refuse to run this version",
                            DEFAULT_MIN_RUNTIME_VERSION
                        );
                        let warning =
                            self.src
                                .warning("unsupported-runtime-version", value.span(), message);
                        self.problems.push(warning);
                    }
                }
                "delegates" => record.delegates = self.delegates(value),
                "tags" => record.categories = self.category_tags(value),
                "skills" => self.skills(value, &mut required_env),
                "providerTools" => self.provider_tools(value),
                "providerSkills" => self.provider_skills(value),
                "providerToolOptions" => self.provider_tool_options(value),
                other => self.ignored_key(&format!("expert \"{name}\""), other, key.span()),
            }
        }
        for required in ["version", "description", "instruction"] {
            if !seen.contains(required) {
                self.error(
                    "missing-field",
                    expert.span(),
                    format!("expert \"{name}\" is missing the required field `{required}`"),
                );
            }
        }
        record.required_env = required_env.into_iter().collect();
        record
    }

    /// A field Perstack's definition schema does not know. Perstack accepts the definition and
    /// ignores the field (its schemas drop unknown keys), so it publishes, kept in the file as
    /// written, with a warning: it is most often a misspelt field that silently does nothing.
    fn ignored_key(&mut self, owner: &str, key: &str, span: std::ops::Range<usize>) {
        let message =
            format!("unknown field `{key}` in {owner}: Perstack ignores it, so it has no effect");
        let warning = self.src.warning("ignored-field", span, message);
        self.problems.push(warning);
    }

    fn delegates(&mut self, value: &Spanned<Value<'i>>) -> Vec<DelegateRef> {
        let items = self.string_array("delegates", value);
        if items.len() > MAX_DELEGATES {
            self.error(
                "too-many",
                value.span(),
                format!("{} delegates; the limit is {MAX_DELEGATES}", items.len()),
            );
        }
        let mut delegates = Vec::new();
        for (key, span) in items {
            match ExpertKey::parse(key) {
                Ok(_) => delegates.push(DelegateRef {
                    key: key.to_owned(),
                    position: Some(self.src.position(span.start)),
                }),
                // The error may name only a part of the key (the name before its last '@'), so
                // the message quotes the key as written.
                Err(_) if is_range_key(key) => self.error(
                    "invalid-delegate",
                    span,
                    format!("delegate \"{key}\" names a version range, which a published definition cannot: the Perstack runtime fetches a delegate by its exact key, so name a version (name@1.2.3), a tag (name@stable) or the latest (name)"),
                ),
                Err(err) => self.error(
                    "invalid-delegate",
                    span,
                    format!("delegate \"{key}\" is not a valid expert key: {err}"),
                ),
            }
        }
        delegates
    }

    fn category_tags(&mut self, value: &Spanned<Value<'i>>) -> Vec<String> {
        let items = self.string_array("tags", value);
        if items.len() > MAX_CATEGORY_TAGS {
            self.error(
                "too-many",
                value.span(),
                format!("{} tags; the limit is {MAX_CATEGORY_TAGS}", items.len()),
            );
        }
        let mut categories = Vec::with_capacity(items.len());
        for (tag, span) in items {
            if let Err(err) = model::check_category(tag) {
                self.error("invalid-tag", span, err);
            }
            categories.push(tag.to_owned());
        }
        categories
    }

    fn skills(&mut self, value: &Spanned<Value<'i>>, required_env: &mut BTreeSet<String>) {
        let Some(skills) = self.table("skills", value) else {
            return;
        };
        if skills.len() > MAX_SKILLS {
            self.error(
                "too-many",
                value.span(),
                format!("{} skills; the limit is {MAX_SKILLS}", skills.len()),
            );
        }
        if !skills.iter().any(|(key, _)| key.get_ref() == BASE_SKILL) {
            self.error(
                "missing-base-skill",
                value.span(),
                format!("an expert that declares skills must include \"{BASE_SKILL}\""),
            );
        }
        for (key, skill) in skills.iter() {
            if let Err(err) = model::check_skill_name(key.get_ref()) {
                self.error("invalid-skill-name", key.span(), err);
            }
            self.skill((key, skill), required_env);
        }
    }

    fn skill(&mut self, (name, skill): Entry<'_, 'i>, required_env: &mut BTreeSet<String>) {
        let what = format!("skill \"{}\"", name.get_ref());
        let Some(table) = self.table(&what, skill) else {
            return;
        };
        let kind = match table.get("type") {
            None => {
                self.error(
                    "missing-field",
                    skill.span(),
                    format!("{what} is missing the required field `type` (mcpStdioSkill, mcpSseSkill or interactiveSkill)"),
                );
                return;
            }
            Some(kind) => match self.string("type", kind) {
                Some(kind @ ("mcpStdioSkill" | "mcpSseSkill" | "interactiveSkill")) => kind,
                Some(other) => {
                    self.error(
                        "unknown-skill-type",
                        kind.span(),
                        format!("{what} has unknown type \"{other}\": use mcpStdioSkill, mcpSseSkill or interactiveSkill"),
                    );
                    return;
                }
                None => return,
            },
        };
        let mut seen = BTreeSet::new();
        for (key, value) in table.iter() {
            let key_name = key.get_ref().as_ref();
            seen.insert(key_name);
            match (kind, key_name) {
                (_, "type") => {}
                (_, "description" | "rule") => {
                    self.string(key_name, value);
                }
                ("mcpStdioSkill" | "mcpSseSkill", "pick" | "omit") => {
                    self.string_array(key_name, value);
                }
                ("mcpStdioSkill", "command" | "packageName") => {
                    self.non_empty_string(key_name, value);
                }
                ("mcpStdioSkill", "args") => {
                    self.string_array(key_name, value);
                }
                ("mcpStdioSkill" | "mcpSseSkill", "allowedDomains") => {
                    for (domain, span) in self.string_array(key_name, value) {
                        if let Err(err) = check_domain_pattern(domain) {
                            self.error("invalid-domain", span, err);
                        }
                    }
                }
                ("mcpStdioSkill", "lazyInit") => {
                    if !matches!(value.get_ref(), Value::Boolean(_)) {
                        self.wrong_type("lazyInit", "a boolean", value);
                    }
                }
                ("mcpStdioSkill", "requiredEnv") => {
                    for (env, span) in self.string_array("requiredEnv", value) {
                        match model::check_env_name(env) {
                            Ok(()) => {
                                required_env.insert(env.to_owned());
                            }
                            Err(err) => self.error("invalid-env-name", span, err),
                        }
                    }
                }
                ("mcpSseSkill", "endpoint") => {
                    if let Some(url) = self.string("endpoint", value)
                        && let Err(err) = model::check_public_https_url(url)
                    {
                        self.error("invalid-endpoint", value.span(), format!("endpoint: {err}"));
                    }
                }
                ("interactiveSkill", "tools") => self.interactive_tools(value),
                _ => self.ignored_key(&format!("{kind} {what}"), key_name, key.span()),
            }
        }
        let required: &[&str] = match kind {
            "mcpStdioSkill" => &["command"],
            "mcpSseSkill" => &["endpoint"],
            _ => &["tools"],
        };
        for field in required {
            if !seen.contains(field) {
                self.error(
                    "missing-field",
                    skill.span(),
                    format!("{what} ({kind}) is missing the required field `{field}`"),
                );
            }
        }
        if kind == "mcpStdioSkill" && !seen.contains("packageName") && !seen.contains("args") {
            self.error(
                "missing-field",
                skill.span(),
                format!("{what} (mcpStdioSkill) needs `packageName` or `args`"),
            );
        }
        // The runtime starts an mcpStdioSkill from exactly one of the two, and refuses a skill
        // with both or with empty `args` and no `packageName`
        // (`apps/runtime/src/skill-manager/command-args.ts` upstream). Perstack's parser
        // accepts both shapes (its own end-to-end suite publishes one on purpose), so they are
        // warnings: the version publishes, and the author is told it will not start.
        if kind == "mcpStdioSkill" {
            let empty_args = matches!(
                table.get("args").map(|args| args.get_ref()),
                Some(Value::Array(items)) if items.is_empty()
            );
            let message = if seen.contains("packageName") && seen.contains("args") && !empty_args {
                Some("has both `packageName` and `args`")
            } else if !seen.contains("packageName") && empty_args {
                Some("has empty `args` and no `packageName`")
            } else {
                None
            };
            if let Some(message) = message {
                let warning = self.src.warning(
                    "skill-will-not-start",
                    skill.span(),
                    format!("{what} (mcpStdioSkill) {message}: the Perstack runtime refuses to start it, so this version cannot run"),
                );
                self.problems.push(warning);
            }
        }
    }

    fn interactive_tools(&mut self, value: &Spanned<Value<'i>>) {
        let Some(tools) = self.table("tools", value) else {
            return;
        };
        for (tool_name, tool) in tools.iter() {
            let what = format!("tool \"{}\"", tool_name.get_ref());
            let Some(table) = self.table(&what, tool) else {
                continue;
            };
            let mut seen = BTreeSet::new();
            for (key, field) in table.iter() {
                seen.insert(key.get_ref().as_ref());
                match key.get_ref().as_ref() {
                    "description" => {
                        self.string("description", field);
                    }
                    "inputJsonSchema" => {
                        if let Some(schema) = self.string("inputJsonSchema", field)
                            && let Err(err) = serde_json::from_str::<serde_json::Value>(schema)
                        {
                            self.error(
                                "invalid-json-schema",
                                field.span(),
                                format!("{what}: `inputJsonSchema` is not valid JSON: {err}"),
                            );
                        }
                    }
                    // Perstack names a tool after its key and ignores a `name` field
                    // (`interactiveToolSchema.omit({ name: true })` in its skill schema), and
                    // Perstack's own examples write one, so it is accepted; a different name
                    // is a mistake worth a warning, since it has no effect.
                    "name" => {
                        if let Some(written) = self.string("name", field)
                            && written != tool_name.get_ref().as_ref()
                        {
                            let message = format!(
                                "{what}: `name = \"{written}\"` has no effect: Perstack names a tool after its key, \"{}\"",
                                tool_name.get_ref()
                            );
                            let warning = self.src.warning("ignored-field", field.span(), message);
                            self.problems.push(warning);
                        }
                    }
                    other => self.ignored_key(&what, other, key.span()),
                }
            }
            if !seen.contains("inputJsonSchema") {
                self.error(
                    "missing-field",
                    tool.span(),
                    format!("{what} is missing the required field `inputJsonSchema`"),
                );
            }
        }
    }
}
