//! What Perstack's own definition schema yields for a published definition: the shape the
//! runtime reads from a registry expert.
//!
//! The runtime takes a registry expert's skills as the API serves them, without parsing them
//! again (`apps/runtime/src/helpers/resolve-expert.ts`, `toRuntimeExpert`), so every default its
//! schema fills in when it parses a local `perstack.toml` has to be in the document already:
//! a skill read without `requiredEnv` stops the runtime before the model is called. This module
//! applies `expertSchema` (`packages/core/src/schemas/expert.ts`) and the skill schemas
//! (`packages/core/src/schemas/skill.ts`) of perstack-ai/perstack as of the commit recorded in
//! [`UPSTREAM`], field for field and in the schema's field order (zod's output order). Fields
//! the schemas do not know are dropped, as zod drops them. `docs/perstack-api.md` says how to
//! follow a change upstream.

use serde_json::{Map, Value, json};

use crate::data::definition::BASE_SKILL;

/// The perstack-ai/perstack commit whose schemas this module follows.
pub const UPSTREAM: &str = "ef363a51450738ac1469c3ec4ed0c616a0dcc28e";

/// The skill every expert gets when its definition declares none
/// (`packages/core/src/schemas/expert.ts`, the `skills` default), already parsed.
pub fn default_skills() -> Map<String, Value> {
    let base = json!({
        "type": "mcpStdioSkill",
        "description": "Base skill",
        "command": "npx",
        "args": ["-y", "@perstack/base"],
        "pick": [],
        "omit": [],
        "requiredEnv": [],
        "lazyInit": false,
    });
    let mut skills = Map::new();
    let parsed = skill(BASE_SKILL, &base).expect("the default skill is a valid skill");
    skills.insert(BASE_SKILL.to_owned(), parsed);
    skills
}

/// One skill as `expertSchema` yields it: `name` set from its key, every default filled in,
/// unknown fields dropped. An error names what is wrong; the build's checks refuse such a
/// skill earlier, so only a registry built by another tool can get here.
pub fn skill(name: &str, written: &Value) -> Result<Value, String> {
    let Value::Object(fields) = written else {
        return Err(format!("skill \"{name}\" is not a table"));
    };
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("skill \"{name}\" has no `type`"))?;
    let mut out = Map::new();
    out.insert("type".into(), kind.into());
    out.insert("name".into(), name.into());
    copy_optional(fields, &mut out, &["description", "rule"]);
    match kind {
        // skill.ts, mcpStdioSkillSchema: pick, omit, args and requiredEnv default to [],
        // lazyInit to false.
        "mcpStdioSkill" => {
            default_list(fields, &mut out, &["pick", "omit"]);
            required(name, fields, &mut out, "command")?;
            copy_optional(fields, &mut out, &["packageName"]);
            default_list(fields, &mut out, &["args", "requiredEnv"]);
            let lazy = fields
                .get("lazyInit")
                .cloned()
                .unwrap_or(Value::Bool(false));
            out.insert("lazyInit".into(), lazy);
        }
        // skill.ts, mcpSseSkillSchema: pick and omit default to [].
        "mcpSseSkill" => {
            default_list(fields, &mut out, &["pick", "omit"]);
            required(name, fields, &mut out, "endpoint")?;
        }
        // skill.ts, interactiveSkillSchema: each tool's `name` is its key, whatever the
        // definition wrote there (`interactiveToolSchema.omit({ name: true })`, then the key).
        "interactiveSkill" => {
            let Some(Value::Object(tools)) = fields.get("tools") else {
                return Err(format!("skill \"{name}\" has no `tools` table"));
            };
            let mut parsed = Map::new();
            for (tool_name, tool) in tools {
                let Value::Object(tool) = tool else {
                    return Err(format!("tool \"{tool_name}\" is not a table"));
                };
                let mut out_tool = Map::new();
                out_tool.insert("name".into(), tool_name.clone().into());
                copy_optional(tool, &mut out_tool, &["description"]);
                required(tool_name, tool, &mut out_tool, "inputJsonSchema")?;
                parsed.insert(tool_name.clone(), Value::Object(out_tool));
            }
            out.insert("tools".into(), Value::Object(parsed));
        }
        other => return Err(format!("skill \"{name}\" has unknown type \"{other}\"")),
    }
    Ok(Value::Object(out))
}

fn copy_optional(from: &Map<String, Value>, to: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(value) = from.get(*key) {
            to.insert((*key).to_owned(), value.clone());
        }
    }
}

fn default_list(from: &Map<String, Value>, to: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        let value = from.get(*key).cloned().unwrap_or_else(|| json!([]));
        to.insert((*key).to_owned(), value);
    }
}

fn required(
    owner: &str,
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    key: &str,
) -> Result<(), String> {
    let value = from
        .get(key)
        .ok_or_else(|| format!("\"{owner}\" has no `{key}`"))?;
    to.insert(key.to_owned(), value.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_skill_is_the_parsed_base_skill() {
        let skills = default_skills();
        assert_eq!(
            serde_json::to_string(&skills["@perstack/base"]).unwrap(),
            r#"{"type":"mcpStdioSkill","name":"@perstack/base","description":"Base skill","pick":[],"omit":[],"command":"npx","args":["-y","@perstack/base"],"requiredEnv":[],"lazyInit":false}"#
        );
    }

    #[test]
    fn unknown_fields_are_dropped_and_tool_names_come_from_keys() {
        let written = json!({
            "type": "interactiveSkill",
            "allowedDomains": ["example.com"],
            "tools": {"askUser": {"name": "other", "inputJsonSchema": "{}"}},
        });
        assert_eq!(
            skill("ask", &written).unwrap(),
            json!({"type": "interactiveSkill", "name": "ask",
                   "tools": {"askUser": {"name": "askUser", "inputJsonSchema": "{}"}}})
        );
    }
}
