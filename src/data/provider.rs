//! Checks an expert's provider settings (`providerTools`, `providerSkills`,
//! `providerToolOptions`) as Perstack's schema does (`packages/core/src/schemas/provider-tools.ts`
//! upstream), so a definition Perstack would refuse is refused here too, at its line.
//!
//! Like the rest of a definition's checks, this lives in an `impl Checker` block: the spanned
//! TOML is walked once and every problem is reported.

use crate::data::toml_file::{Checker, Value};
use toml::Spanned;

/// Perstack's built-in Anthropic skills (`builtinAnthropicSkillSchema`).
const BUILTIN_SKILLS: [&str; 4] = ["pdf", "docx", "pptx", "xlsx"];

impl<'i> Checker<'_, 'i> {
    /// `providerTools`: tool names, checked by the provider at run time.
    pub fn provider_tools(&mut self, value: &Spanned<Value<'i>>) {
        self.string_array("providerTools", value);
    }

    /// `providerSkills`: Anthropic agent skills, built in (`type = "builtin"`, a known
    /// `skillId`) or custom (`type = "custom"`, a non-empty `name` and `definition`).
    pub fn provider_skills(&mut self, value: &Spanned<Value<'i>>) {
        for item in self.array("providerSkills", value).unwrap_or_default() {
            let Some(skill) = self.table("a providerSkills entry", item) else {
                continue;
            };
            let kind = skill.get("type").and_then(|kind| self.string("type", kind));
            let required: &[&str] = match kind {
                Some("builtin") => &["skillId"],
                Some("custom") => &["name", "definition"],
                Some(other) => {
                    self.error(
                        "invalid-provider-skill",
                        item.span(),
                        format!(
                            "providerSkills entry has type \"{other}\": use \"builtin\" or \"custom\""
                        ),
                    );
                    continue;
                }
                None => {
                    self.error(
                        "missing-field",
                        item.span(),
                        "providerSkills entry is missing `type` (\"builtin\" or \"custom\")"
                            .to_owned(),
                    );
                    continue;
                }
            };
            for field in required {
                match skill.get(*field) {
                    None => self.error(
                        "missing-field",
                        item.span(),
                        format!("providerSkills entry is missing `{field}`"),
                    ),
                    Some(value) if *field == "skillId" => {
                        if let Some(id) = self.string("skillId", value)
                            && !BUILTIN_SKILLS.contains(&id)
                        {
                            self.error(
                                "invalid-provider-skill",
                                value.span(),
                                format!(
                                    "built-in skill \"{id}\" does not exist: use one of {}",
                                    BUILTIN_SKILLS.join(", ")
                                ),
                            );
                        }
                    }
                    Some(value) => {
                        self.non_empty_string(field, value);
                    }
                }
            }
        }
    }

    /// `providerToolOptions`: `webSearch` (`maxUses`, `allowedDomains`), `webFetch`
    /// (`maxUses`) and `fileSearch` (`vectorStoreIds`, `maxNumResults`).
    pub fn provider_tool_options(&mut self, value: &Spanned<Value<'i>>) {
        let Some(options) = self.table("providerToolOptions", value) else {
            return;
        };
        for (tool, settings) in options.iter() {
            let tool_name = tool.get_ref().as_ref();
            let known: &[&str] = match tool_name {
                "webSearch" => &["maxUses", "allowedDomains"],
                "webFetch" => &["maxUses"],
                "fileSearch" => &["vectorStoreIds", "maxNumResults"],
                other => {
                    let message = format!(
                        "unknown field `{other}` in providerToolOptions: Perstack ignores it, so it has no effect"
                    );
                    let warning = self.src.warning("ignored-field", tool.span(), message);
                    self.problems.push(warning);
                    continue;
                }
            };
            let Some(settings) = self.table(tool_name, settings) else {
                continue;
            };
            for (key, setting) in settings.iter() {
                match key.get_ref().as_ref() {
                    name @ ("maxUses" | "maxNumResults") => {
                        if let Some(number) = self.integer(name, setting)
                            && number < 1
                        {
                            self.error(
                                "invalid-number",
                                setting.span(),
                                format!("`{name}` must be a positive integer, not {number}"),
                            );
                        }
                    }
                    name @ ("allowedDomains" | "vectorStoreIds") => {
                        self.string_array(name, setting);
                    }
                    _ => {}
                }
                if !known.contains(&key.get_ref().as_ref()) {
                    let message = format!(
                        "unknown field `{}` in providerToolOptions.{tool_name}: Perstack ignores it, so it has no effect",
                        key.get_ref()
                    );
                    let warning = self.src.warning("ignored-field", key.span(), message);
                    self.problems.push(warning);
                }
            }
        }
    }
}
