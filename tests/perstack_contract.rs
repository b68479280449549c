//! The contract with the Perstack runtime: every API document, field by field, against the
//! upstream schemas it must satisfy.
//!
//! Upstream is perstack-ai/perstack at commit ef363a51450738ac1469c3ec4ed0c616a0dcc28e (the
//! commit `src/api/expert_schema.rs` records). Each expectation names the upstream file and line
//! it comes from, so a change upstream can be followed here line by line
//! (`docs/perstack-api.md`, "Following an upstream change"). CI cannot reach that repository;
//! the real CLI was run against registries built this way while developing (see the doc).

mod common;

use common::TestRegistry;
use serde_json::{Value, json};

/// An expert whose definition has every optional field, of every skill type.
const FULL: &str = r#"[experts."@acme/full"]
version = "1.0.0"
description = "Every field"
instruction = "Do the work."
minRuntimeVersion = "v1.0"
delegates = ["@acme/empty@1.0.0", "@acme/empty@stable", "@acme/empty"]
tags = ["research"]
providerTools = ["webSearch"]

[experts."@acme/full".skills."@perstack/base"]
type = "mcpStdioSkill"
description = "Base"
rule = "Finish with attemptCompletion"
pick = ["attemptCompletion"]
omit = ["exec"]
command = "npx"
packageName = "@perstack/base"
requiredEnv = ["GH_TOKEN"]
lazyInit = true
allowedDomains = ["api.github.com"]

[experts."@acme/full".skills."fetcher"]
type = "mcpStdioSkill"
command = "uvx"
args = ["mcp-server-fetch", "--ignore-robots-txt"]

[experts."@acme/full".skills."remote"]
type = "mcpSseSkill"
description = "Remote tools"
rule = "Only for lookups"
pick = ["lookup"]
omit = ["delete"]
endpoint = "https://mcp.example.com/sse"

[experts."@acme/full".skills."remote-bare"]
type = "mcpSseSkill"
endpoint = "https://mcp.example.com/sse"

[experts."@acme/full".skills."ask"]
type = "interactiveSkill"
description = "Asks the user"
rule = "Once per turn"

[experts."@acme/full".skills."ask".tools.askUser]
name = "askUser"
description = "Ask the user a question"
inputJsonSchema = '{"type":"object"}'

[experts."@acme/full".skills."ask".tools.confirm]
inputJsonSchema = '{"type":"object","properties":{"ok":{"type":"boolean"}}}'
"#;

fn registry() -> TestRegistry {
    let registry = TestRegistry::empty();
    registry
        .file("@acme/full/1.0.0.toml", FULL)
        // No skills at all, no delegates.
        .version("@acme/empty", "1.0.0", "")
        // A skill with every optional field absent.
        .version(
            "@acme/empty",
            "1.1.0",
            "[experts.\"@acme/empty\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\n",
        )
        .file("@acme/empty/expert.toml", "[tags]\nstable = \"1.0.0\"\n");
    registry
}

fn read_json(registry: &TestRegistry, relative: &str) -> Value {
    let path = registry.out().join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn expert(registry: &TestRegistry, key: &str) -> Value {
    read_json(registry, &format!("api/registry/v1/experts/{key}"))["data"]["expert"].clone()
}

/// The keys of a JSON object, in document order (zod's output order is the schema's).
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn skills_are_served_as_perstacks_expert_schema_yields_them() {
    let registry = registry();
    let build = registry.run(&["build", "--no-site"]);
    build.expect_code(0);
    let full = expert(&registry, "@acme/full@1.0.0");
    let skills = &full["skills"];

    // skill.ts:77-89 mcpStdioSkillSchema; expert.ts:93 sets `name` from the key. Every field
    // written is kept; `allowedDomains` is not in the schema, and zod drops unknown keys.
    assert_eq!(
        skills["@perstack/base"],
        json!({
            "type": "mcpStdioSkill",
            "name": "@perstack/base",
            "description": "Base",
            "rule": "Finish with attemptCompletion",
            "pick": ["attemptCompletion"],
            "omit": ["exec"],
            "command": "npx",
            "packageName": "@perstack/base",
            "args": [],
            "requiredEnv": ["GH_TOKEN"],
            "lazyInit": true
        })
    );
    // skill.ts:82 pick, :83 omit, :87 requiredEnv default to [], :88 lazyInit to false;
    // :85 packageName stays absent when not written; :86 args as written.
    assert_eq!(
        skills["fetcher"],
        json!({
            "type": "mcpStdioSkill",
            "name": "fetcher",
            "pick": [],
            "omit": [],
            "command": "uvx",
            "args": ["mcp-server-fetch", "--ignore-robots-txt"],
            "requiredEnv": [],
            "lazyInit": false
        })
    );
    // skill.ts:109-117 mcpSseSkillSchema.
    assert_eq!(
        skills["remote"],
        json!({
            "type": "mcpSseSkill",
            "name": "remote",
            "description": "Remote tools",
            "rule": "Only for lookups",
            "pick": ["lookup"],
            "omit": ["delete"],
            "endpoint": "https://mcp.example.com/sse"
        })
    );
    // skill.ts:114 pick, :115 omit default to []; description and rule stay absent.
    assert_eq!(
        skills["remote-bare"],
        json!({
            "type": "mcpSseSkill",
            "name": "remote-bare",
            "pick": [],
            "omit": [],
            "endpoint": "https://mcp.example.com/sse"
        })
    );
    // skill.ts:150-163 interactiveSkillSchema: :155-161 each tool's `name` is its key
    // (interactiveToolSchema, :130-134); a tool's description stays optional (:132). The
    // runtime's lockfile needs `toolDefinitions[].name` (lockfile.ts:13-18).
    assert_eq!(
        skills["ask"],
        json!({
            "type": "interactiveSkill",
            "name": "ask",
            "description": "Asks the user",
            "rule": "Once per turn",
            "tools": {
                "askUser": {"name": "askUser", "description": "Ask the user a question", "inputJsonSchema": "{\"type\":\"object\"}"},
                "confirm": {"name": "confirm", "inputJsonSchema": "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}"}
            }
        })
    );
    // Field order is zod's output order, the schema's (skill.ts:78-88, :110-116, :151-155).
    assert_eq!(
        keys(&skills["@perstack/base"]),
        [
            "type",
            "name",
            "description",
            "rule",
            "pick",
            "omit",
            "command",
            "packageName",
            "args",
            "requiredEnv",
            "lazyInit"
        ]
    );
    assert_eq!(
        keys(&skills["remote"]),
        [
            "type",
            "name",
            "description",
            "rule",
            "pick",
            "omit",
            "endpoint"
        ]
    );
    assert_eq!(
        keys(&skills["ask"]),
        ["type", "name", "description", "rule", "tools"]
    );
    // Skills are listed in name order.
    assert_eq!(
        keys(skills),
        ["@perstack/base", "ask", "fetcher", "remote", "remote-bare"]
    );
}

#[test]
fn an_expert_without_skills_gets_perstacks_default_base_skill() {
    let registry = registry();
    registry.run(&["build", "--no-site"]).expect_code(0);
    let empty = expert(&registry, "@acme/empty@1.0.0");
    // expert.ts:71-82: the `skills` default, parsed like any skill (expert.ts:83-95), so
    // skill.ts:79 adds its name and the field order is the schema's.
    assert_eq!(
        serde_json::to_string(&empty["skills"]).unwrap(),
        r#"{"@perstack/base":{"type":"mcpStdioSkill","name":"@perstack/base","description":"Base skill","pick":[],"omit":[],"command":"npx","args":["-y","@perstack/base"],"requiredEnv":[],"lazyInit":false}}"#
    );
    // expert.ts:97: delegates default to [].
    assert_eq!(empty["delegates"], json!([]));
    // A skill with every optional field absent gets every default (skill.ts:82-88).
    let minimal = expert(&registry, "@acme/empty@1.1.0");
    assert_eq!(
        minimal["skills"]["@perstack/base"],
        json!({
            "type": "mcpStdioSkill",
            "name": "@perstack/base",
            "pick": [],
            "omit": [],
            "command": "npx",
            "packageName": "@perstack/base",
            "args": [],
            "requiredEnv": [],
            "lazyInit": false
        })
    );
}

#[test]
fn the_expert_document_has_every_field_the_api_client_validates() {
    let registry = registry();
    registry.run(&["build", "--no-site"]).expect_code(0);
    let full = expert(&registry, "@acme/full@1.0.0");
    // api-client src/registry/types.ts:14-30 registryExpertSchema, in the order of the hosted
    // API reference (docs/api-reference/registry-v1/experts.md, GET 200).
    assert_eq!(
        keys(&full),
        [
            "type",
            "id",
            "key",
            "name",
            "version",
            "status",
            "minRuntimeVersion",
            "description",
            "instruction",
            "skills",
            "delegates",
            "tags",
            "owner",
            "createdAt",
            "updatedAt"
        ]
    );
    assert_eq!(full["type"], "registryExpert"); // types.ts:15
    assert_eq!(full["minRuntimeVersion"], "v1.0"); // types.ts:19, z.literal("v1.0")
    assert_eq!(full["status"], "available"); // types.ts:4
    assert_eq!(full["key"], "@acme/full@1.0.0");
    // Delegates are served as written: by version, tag and bare name, all keys the runtime
    // requests as they are (expertKeyRegex, core constants.ts:11).
    assert_eq!(
        full["delegates"],
        json!(["@acme/empty@1.0.0", "@acme/empty@stable", "@acme/empty"])
    );
    // `tags` are the version's dist-tags (types.ts:29), not the definition's categories.
    assert_eq!(full["tags"], json!(["latest"]));
    // Fields registryExpertSchema does not have are not served (the client would drop them).
    assert!(full.get("providerTools").is_none());
    assert_eq!(
        keys(&full["owner"]),
        ["name", "organizationId", "createdAt"] // types.ts:7-11
    );
    for delegate in [
        "@acme/empty@1.0.0",
        "@acme/empty@stable",
        "@acme/empty/index.html",
    ] {
        assert_eq!(
            expert(&registry, delegate)["key"],
            "@acme/empty@1.0.0".replace(
                "1.0.0",
                if delegate.ends_with("index.html") {
                    "1.1.0"
                } else {
                    "1.0.0"
                }
            ),
            "{delegate}"
        );
    }
}

#[test]
fn the_version_list_has_the_shape_get_versions_validates() {
    let registry = registry();
    registry.run(&["build", "--no-site"]).expect_code(0);
    let list = read_json(&registry, "api/registry/v1/experts/@acme/empty/versions");
    // types.ts:77-85 getExpertVersionsResponseSchema; experts-versions.md: newest first.
    assert_eq!(keys(&list), ["data", "meta"]);
    assert_eq!(keys(&list["data"]), ["versions", "latest"]);
    assert_eq!(list["data"]["latest"], "1.1.0");
    assert_eq!(list["meta"], json!({"total": 2}));
    let versions = list["data"]["versions"].as_array().unwrap();
    let newer = expert(&registry, "@acme/empty@1.1.0");
    // types.ts:33-45 expertDigestSchema: the expert's fields without status, instruction,
    // skills and delegates; the same id and owner as the version's own document.
    assert_eq!(
        versions[0],
        json!({
            "type": "expertDigest",
            "id": newer["id"],
            "key": "@acme/empty@1.1.0",
            "name": "@acme/empty",
            "minRuntimeVersion": "v1.0",
            "description": "Test expert @acme/empty",
            "owner": newer["owner"],
            "createdAt": "1970-01-01T00:00:00Z",
            "updatedAt": "1970-01-01T00:00:00Z",
            "version": "1.1.0",
            "tags": ["latest"]
        })
    );
    assert_eq!(
        keys(&versions[0]),
        [
            "type",
            "id",
            "key",
            "name",
            "minRuntimeVersion",
            "description",
            "owner",
            "createdAt",
            "updatedAt",
            "version",
            "tags"
        ]
    );
    assert_eq!(versions[1]["key"], "@acme/empty@1.0.0");
    assert_eq!(versions[1]["tags"], json!(["stable"]));
}

#[test]
fn the_published_blob_stays_the_authors_bytes() {
    let registry = registry();
    registry.run(&["build", "--no-site"]).expect_code(0);
    let hash = blake3::hash(FULL.as_bytes()).to_hex().to_string();
    let blob = registry
        .out()
        .join(format!("v1/blobs/{}/{hash}.toml", &hash[..2]));
    assert_eq!(std::fs::read_to_string(blob).unwrap(), FULL);
}

#[test]
fn what_perstack_ignores_publishes_with_a_warning() {
    let registry = registry();
    registry.file(
        "@acme/typo/1.0.0.toml",
        "[experts.\"@acme/typo\"]\nversion = \"1.0.0\"\ndescription = \"d\"\ninstruction = \"i\"\nrequiredEnvs = [\"X\"]\n\n[experts.\"@acme/typo\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\nlazyinit = true\n\n[experts.\"@acme/typo\".skills.ask]\ntype = \"interactiveSkill\"\n[experts.\"@acme/typo\".skills.ask.tools.askUser]\nname = \"ask_user\"\ninputJsonSchema = \"{}\"\n",
    );
    let check = registry.run(&["check"]);
    check.expect_code(0);
    let file = "registry-data/@acme/typo/1.0.0.toml";
    assert_eq!(
        check.stderr(),
        format!(
            "{file}:5:1: warning: unknown field `requiredEnvs` in expert \"@acme/typo\": Perstack ignores it, so it has no effect\n\
             {file}:11:1: warning: unknown field `lazyinit` in mcpStdioSkill skill \"@perstack/base\": Perstack ignores it, so it has no effect\n\
             {file}:16:8: warning: tool \"askUser\": `name = \"ask_user\"` has no effect: Perstack names a tool after its key, \"askUser\"\n\
             registry-data is valid: 3 experts, 4 versions\n"
        )
    );
    registry
        .run(&["build", "--no-site", "--quiet"])
        .expect_code(0);
    let typo = expert(&registry, "@acme/typo@1.0.0");
    assert_eq!(typo["skills"]["ask"]["tools"]["askUser"]["name"], "askUser");
    assert!(typo["skills"]["@perstack/base"].get("lazyinit").is_none());
}

#[test]
fn a_delegate_by_range_is_refused_at_its_line() {
    // expertKeyRegex (core constants.ts:11) has no ranges, expertSchema checks delegates with
    // it (expert.ts:97), and the hosted API answers only exact keys: the runtime could never
    // fetch such a delegate.
    let registry = registry();
    registry.version(
        "@acme/ranged",
        "1.0.0",
        "delegates = [\"@acme/empty@^1\"]\n",
    );
    let check = registry.run(&["check"]);
    check.expect_code(1);
    assert!(
        check.stderr().starts_with(
            "registry-data/@acme/ranged/1.0.0.toml:5:14: error: delegate \"@acme/empty@^1\" names a version range, which a published definition cannot"
        ),
        "{}",
        check.stderr()
    );
}

#[test]
fn a_skill_the_runtime_will_not_start_publishes_with_a_warning() {
    // apps/runtime/src/skill-manager/command-args.ts:16-22: the runtime refuses an
    // mcpStdioSkill with both packageName and args, or with neither (empty args). Perstack's
    // parser accepts both shapes (perstack-toml.ts:295-306), and its own e2e suite publishes
    // the second on purpose, so they publish, with a warning at the skill.
    let registry = registry();
    registry
        .version(
            "@acme/both",
            "1.0.0",
            "[experts.\"@acme/both\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\nargs = [\"-y\", \"@perstack/base\"]\n",
        )
        .version(
            "@acme/neither",
            "1.0.0",
            "[experts.\"@acme/neither\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\n[experts.\"@acme/neither\".skills.broken]\ntype = \"mcpStdioSkill\"\ncommand = \"nonexistent\"\nargs = []\n",
        );
    let check = registry.run(&["check"]);
    check.expect_code(0);
    assert_eq!(
        check.stderr(),
        "registry-data/@acme/both/1.0.0.toml:5:1: warning: skill \"@perstack/base\" (mcpStdioSkill) has both `packageName` and `args`: the Perstack runtime refuses to start it, so this version cannot run\n\
         registry-data/@acme/neither/1.0.0.toml:9:1: warning: skill \"broken\" (mcpStdioSkill) has empty `args` and no `packageName`: the Perstack runtime refuses to start it, so this version cannot run\n\
         registry-data is valid: 4 experts, 5 versions\n"
    );
}

/// types.ts:10, 22-23, 41-42: `createdAt` and `updatedAt` are strings the client turns into a
/// `Date`. A recorded publish time is served as both (RFC 3339 UTC, which `new Date` reads);
/// the owner's, and a version's without a recorded time, are the epoch.
#[test]
fn a_recorded_publish_time_is_served_as_created_at_and_updated_at() {
    let registry = registry();
    registry.file(
        "@acme/empty/expert.toml",
        "[tags]\nstable = \"1.0.0\"\n\n[versions.\"1.1.0\"]\npublished = \"2026-03-01T12:30:00Z\"\n",
    );
    registry.run(&["build", "--no-site"]).expect_code(0);
    let newer = expert(&registry, "@acme/empty@1.1.0");
    assert_eq!(newer["createdAt"], "2026-03-01T12:30:00Z");
    assert_eq!(newer["updatedAt"], "2026-03-01T12:30:00Z");
    assert_eq!(newer["owner"]["createdAt"], "1970-01-01T00:00:00Z");
    let older = expert(&registry, "@acme/empty@1.0.0");
    assert_eq!(older["createdAt"], "1970-01-01T00:00:00Z");
    let list = read_json(&registry, "api/registry/v1/experts/@acme/empty/versions");
    let versions = list["data"]["versions"].as_array().unwrap();
    assert_eq!(versions[0]["key"], "@acme/empty@1.1.0");
    assert_eq!(versions[0]["createdAt"], "2026-03-01T12:30:00Z");
    assert_eq!(versions[1]["createdAt"], "1970-01-01T00:00:00Z");
}
