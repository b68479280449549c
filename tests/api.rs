//! Perstack API compatibility: the documents the runtime requests, served by a plain static
//! server (`python3 -m http.server`) with the key percent-encoded as a whole.

mod common;

use common::TestRegistry;
use common::server::{NginxServer, PythonServer, http_get};
use serde_json::{Value, json};

/// The key as the runtime sends it: percent-encoded as a whole.
fn encode(key: &str) -> String {
    key.replace('@', "%40").replace('/', "%2F")
}

fn get_expert(server: &PythonServer, key: &str) -> (u16, Value) {
    get_expert_at(&server.url, key)
}

fn get_expert_at(base: &str, key: &str) -> (u16, Value) {
    let (status, body) = http_get(&format!("{base}api/registry/v1/experts/{}", encode(key)));
    let json = if status == 200 {
        serde_json::from_slice(&body).unwrap()
    } else {
        Value::Null
    };
    (status, json)
}

fn registry() -> TestRegistry {
    let registry = TestRegistry::valid();
    registry
        .version(
            "@acme/searcher",
            "1.1.0",
            "minRuntimeVersion = \"v1.0\"\n[experts.\"@acme/searcher\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\nrequiredEnv = [\"GH_TOKEN\"]\n",
        )
        .version("tic-tac-toe", "0.9.0", "")
        .file(
            "tic-tac-toe/expert.toml",
            "[tags]\nstable = \"1.0.0\"\n[versions.\"0.9.0\"]\nstatus = \"disabled\"\nreason = \"Broken\"\n",
        );
    registry
}

#[test]
fn the_runtime_request_gets_the_hosted_response_shape_from_a_plain_static_server() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let Some(server) = PythonServer::serve(&registry.out()) else {
        return;
    };
    let (status, doc) = get_expert(&server, "@acme/searcher@1.1.0");
    assert_eq!(status, 200);
    let blob = std::fs::read(registry.data().join("@acme/searcher/1.1.0.toml")).unwrap();
    let hash = blake3::hash(&blob).to_hex().to_string();
    let owner_id = format!("o{}", &blake3::hash(b"@acme").to_hex()[..24]);
    assert_eq!(
        doc,
        json!({"data": {"expert": {
            "type": "registryExpert",
            "id": format!("e{}", &hash[..24]),
            "key": "@acme/searcher@1.1.0",
            "name": "@acme/searcher",
            "version": "1.1.0",
            "status": "available",
            "minRuntimeVersion": "v1.0",
            "description": "Test expert @acme/searcher",
            "instruction": "Do the work.",
            "skills": {"@perstack/base": {
                "command": "npx",
                "packageName": "@perstack/base",
                "requiredEnv": ["GH_TOKEN"],
                "type": "mcpStdioSkill",
                "description": "@perstack/base"
            }},
            "delegates": [],
            "tags": ["latest"],
            "owner": {"name": "acme", "organizationId": owner_id, "createdAt": "1970-01-01T00:00:00Z"},
            "createdAt": "1970-01-01T00:00:00Z",
            "updatedAt": "1970-01-01T00:00:00Z"
        }}})
    );
}

#[test]
fn bare_names_tags_and_versions_resolve_and_disabled_versions_are_not_served() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let Some(server) = PythonServer::serve(&registry.out()) else {
        return;
    };
    let key_of = |key: &str| {
        let (status, doc) = get_expert(&server, key);
        assert_eq!(status, 200, "{key}");
        (
            doc["data"]["expert"]["key"].as_str().unwrap().to_owned(),
            doc["data"]["expert"]["tags"].clone(),
        )
    };
    assert_eq!(
        key_of("@acme/searcher"),
        ("@acme/searcher@1.1.0".into(), json!(["latest"]))
    );
    assert_eq!(
        key_of("@acme/searcher@latest"),
        ("@acme/searcher@1.1.0".into(), json!(["latest"]))
    );
    assert_eq!(
        key_of("tic-tac-toe@stable"),
        ("tic-tac-toe@1.0.0".into(), json!(["latest", "stable"]))
    );
    assert_eq!(key_of("tic-tac-toe").0, "tic-tac-toe@1.0.0");
    let (status, doc) = get_expert(&server, "@acme/researcher@1.0.0");
    assert_eq!(
        (status, &doc["data"]["expert"]["status"]),
        (200, &json!("deprecated"))
    );
    assert_eq!(get_expert(&server, "tic-tac-toe@0.9.0").0, 404);
    assert_eq!(get_expert(&server, "@acme/nobody").0, 404);
}

#[test]
fn a_version_disabled_later_stops_being_served() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let doc = registry
        .out()
        .join("api/registry/v1/experts/@acme/researcher@1.0.0");
    assert!(doc.exists());
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"Leaked a token\"\n",
    );
    registry.run(&["build", "--quiet"]).expect_code(0);
    assert!(!doc.exists(), "the disabled version is still served");
    assert!(
        registry
            .out()
            .join("api/registry/v1/experts/@acme/researcher@1.1.0")
            .exists()
    );
}

#[test]
fn nginx_serves_the_percent_encoded_keys_and_the_registry() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let Some(server) = NginxServer::serve(&registry.out()) else {
        return;
    };
    for (key, resolved) in [
        ("@acme/searcher@1.1.0", "@acme/searcher@1.1.0"),
        ("@acme/searcher", "@acme/searcher@1.1.0"),
        ("tic-tac-toe@stable", "tic-tac-toe@1.0.0"),
    ] {
        let (status, doc) = get_expert_at(&server.url, key);
        assert_eq!(status, 200, "{key}");
        assert_eq!(doc["data"]["expert"]["key"], resolved, "{key}");
    }
    assert_eq!(get_expert_at(&server.url, "tic-tac-toe@0.9.0").0, 404);
    let cache = registry.root().join("cache");
    let run = registry.run(&[
        "fetch",
        "tic-tac-toe@stable",
        "--registry",
        &server.url,
        "--cache",
        cache.to_str().unwrap(),
    ]);
    run.expect_code(0);
    assert_eq!(
        run.output.stdout,
        std::fs::read(registry.data().join("tic-tac-toe/1.0.0.toml")).unwrap()
    );
}
