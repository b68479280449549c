//! Perstack API compatibility: the documents the runtime requests, served by plain static
//! servers (`python3 -m http.server`, nginx as it is and as README configures it) with the key
//! percent-encoded as a whole. What each document holds is checked field by field in
//! `perstack_contract.rs`; this file checks what the hosts answer.

mod common;

use common::TestRegistry;
use common::server::{NginxConfig, NginxServer, PythonServer, http_get, http_get_typed};
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
    let server = PythonServer::serve(&registry.out());
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
                "type": "mcpStdioSkill",
                "name": "@perstack/base",
                "pick": [],
                "omit": [],
                "command": "npx",
                "packageName": "@perstack/base",
                "args": [],
                "requiredEnv": ["GH_TOKEN"],
                "lazyInit": false
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
    let server = PythonServer::serve(&registry.out());
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
#[ignore = "needs nginx: bash .ci/run installs it and runs ignored tests"]
fn nginx_serves_the_percent_encoded_keys_and_the_registry() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let server = NginxServer::serve(&registry.out());
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

/// The documents of a version's tags and of the bare name are hard links to the version's own
/// document (cheap at 100k versions), and each follows its tag when the tag moves without the
/// version's own document changing.
#[test]
fn tag_and_bare_name_documents_are_links_that_follow_a_new_latest() {
    use std::os::unix::fs::MetadataExt;
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let dir = registry.out().join("api/registry/v1/experts/@acme");
    let inode = |name: &str| std::fs::metadata(dir.join(name)).unwrap().ino();
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    assert_eq!(inode("searcher/index.html"), inode("searcher@1.1.0"));
    assert_eq!(inode("searcher@latest"), inode("searcher@1.1.0"));
    assert_ne!(inode("searcher@1.0.0"), inode("searcher@1.1.0"));
    // The readable index document is a link to the hash-named one.
    let readable = registry.out().join("v1/experts/@acme/searcher.json");
    let root: Value =
        serde_json::from_slice(&std::fs::read(registry.out().join("v1/root.json")).unwrap())
            .unwrap();
    assert_eq!(root["format"], 2);
    let hashed = registry
        .out()
        .join(&common::listed_experts(&registry.out())["@acme/searcher"].0);
    assert_eq!(
        std::fs::metadata(&readable).unwrap().ino(),
        std::fs::metadata(&hashed).unwrap().ino()
    );

    registry.version("@acme/searcher", "1.2.0", "");
    registry.run(&["build", "--quiet"]).expect_code(0);
    for key in ["searcher/index.html", "searcher@latest"] {
        assert_eq!(
            read(key)["data"]["expert"]["key"],
            "@acme/searcher@1.2.0",
            "{key}"
        );
    }
    let old = read("searcher@1.1.0");
    assert_eq!(old["data"]["expert"]["key"], "@acme/searcher@1.1.0");
    assert_eq!(old["data"]["expert"]["tags"], json!([]));
    // The readable document was replaced; the old hash-named one it was linked to was not.
    let old_hashed = std::fs::read(&hashed).unwrap();
    let name = hashed.file_stem().unwrap().to_str().unwrap();
    assert_eq!(blake3::hash(&old_hashed).to_hex().as_str(), name);
    assert_ne!(std::fs::read(&readable).unwrap(), old_hashed);
}

/// The hosts a user tries first, each as it answers: python's http.server and nginx as they
/// are, and nginx as README configures it.
fn hosts(registry: &TestRegistry) -> Vec<(&'static str, String, Box<dyn std::any::Any>)> {
    let mut hosts: Vec<(&'static str, String, Box<dyn std::any::Any>)> = Vec::new();
    let server = PythonServer::serve(&registry.out());
    hosts.push(("http.server", server.url.clone(), Box::new(server)));
    for (label, config) in [
        ("nginx as it is", NginxConfig::Plain),
        ("nginx as README configures it", NginxConfig::Readme),
    ] {
        let server = NginxServer::serve_with(&registry.out(), config);
        hosts.push((label, server.url.clone(), Box::new(server)));
    }
    hosts
}

/// `GET .../experts/{key}` and `GET .../experts/{name}/versions` both answer on every host,
/// although a bare name is a document and the parent of `versions` at once (the document is the
/// name directory's index file).
#[test]
#[ignore = "needs nginx: bash .ci/run installs it and runs ignored tests"]
fn bare_names_and_version_lists_answer_on_every_host() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    for (host, base, _server) in hosts(&registry) {
        for (key, resolved) in [
            ("@acme/searcher", "@acme/searcher@1.1.0"),
            ("tic-tac-toe", "tic-tac-toe@1.0.0"),
        ] {
            let (status, doc) = get_expert_at(&base, key);
            assert_eq!(status, 200, "{host}: {key}");
            assert_eq!(doc["data"]["expert"]["key"], resolved, "{host}: {key}");
        }
        let versions = |name: &str| {
            let url = format!("{base}api/registry/v1/experts/{}/versions", encode(name));
            let (status, body) = http_get(&url);
            assert_eq!(status, 200, "{host}: {url}");
            serde_json::from_slice::<Value>(&body).unwrap()
        };
        let searcher = versions("@acme/searcher");
        let keys: Vec<&str> = searcher["data"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|digest| digest["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["@acme/searcher@1.1.0", "@acme/searcher@1.0.0"],
            "{host}"
        );
        assert_eq!(searcher["data"]["latest"], "1.1.0", "{host}");
        assert_eq!(searcher["meta"]["total"], 2, "{host}");
        // The disabled 0.9.0 is not listed, as it is not served.
        let tic = versions("tic-tac-toe");
        assert_eq!(
            tic["data"]["versions"][0]["key"], "tic-tac-toe@1.0.0",
            "{host}"
        );
        assert_eq!(tic["meta"]["total"], 1, "{host}");
    }
}

/// What a request the static registry cannot answer gets, host by host, as README documents
/// it: nginx as README configures it answers the API's own JSON 404 for a missing key, the list
/// endpoint and a scope-only key; the others answer a 404 page of their own for a missing key,
/// and http.server lists the directory for the list endpoint.
#[test]
#[ignore = "needs nginx: bash .ci/run installs it and runs ignored tests"]
fn requests_a_static_registry_cannot_answer_get_the_api_404_where_the_host_allows() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let expected: Value = serde_json::from_slice(
        &std::fs::read(registry.out().join("api/registry/v1/not-found.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(expected["code"], 404);
    assert_eq!(expected["error"], "Not Found");
    assert!(expected["reason"].as_str().unwrap().contains("/versions"));
    let missing = [
        "api/registry/v1/experts/%40acme%2Fnobody",
        "api/registry/v1/experts/%40acme%2Fsearcher%409.9.9",
        "api/registry/v1/experts/%40acme%2Fnobody/versions",
        "api/registry/v1/experts/",
        "api/registry/v1/experts/?take=100&skip=0",
        "api/registry/v1/experts/%40acme",
    ];
    for (host, base, _server) in hosts(&registry) {
        for path in missing {
            let (status, content_type, body) = http_get_typed(&format!("{base}{path}"));
            let listing =
                path.ends_with("experts/") || path.contains('?') || path.ends_with("%40acme");
            match host {
                "nginx as README configures it" => {
                    assert_eq!(status, 404, "{host}: {path}");
                    assert_eq!(content_type, "application/json", "{host}: {path}");
                    let body: Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(body, expected, "{host}: {path}");
                }
                "http.server" if listing => {
                    assert_eq!(
                        (status, content_type.starts_with("text/html")),
                        (200, true),
                        "{host}: {path}"
                    );
                }
                _ if listing => {
                    // nginx without configuration: a directory listing is off, so 403.
                    assert_eq!(status, 403, "{host}: {path}");
                }
                _ => assert_eq!(status, 404, "{host}: {path}"),
            }
        }
    }
}

/// A registry built before the `/versions` endpoint (API format 1: no `format.json`, a bare
/// name's document as a file where its directory now is) is brought up to date by the next
/// build, and the deploy plan against such a deployed registry lists every API document, since
/// every one of them must be uploaded again.
#[test]
fn a_registry_in_the_previous_api_format_is_rewritten_and_replanned_once() {
    let registry = registry();
    registry.run(&["build", "--quiet"]).expect_code(0);
    let out = registry.out();
    let experts = out.join("api/registry/v1/experts");
    // Put the output back into format 1, as the previous release wrote it.
    std::fs::remove_file(out.join("api/registry/v1/format.json")).unwrap();
    std::fs::remove_file(out.join("api/registry/v1/not-found.json")).unwrap();
    for name in ["tic-tac-toe", "@acme/searcher"] {
        let dir = experts.join(name);
        let latest = std::fs::read(dir.join("index.html")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, latest).unwrap();
    }
    let deployed = registry.root().join("deployed");
    common::copy_tree(&out, &deployed);

    registry.run(&["build", "--quiet"]).expect_code(0);
    for name in ["tic-tac-toe", "@acme/searcher"] {
        assert!(experts.join(name).is_dir(), "{name}");
        assert!(experts.join(name).join("versions").is_file(), "{name}");
    }
    let doc = read_json(&experts.join("tic-tac-toe/index.html"));
    assert_eq!(doc["data"]["expert"]["key"], "tic-tac-toe@1.0.0");
    assert!(out.join("api/registry/v1/format.json").is_file());
    // The next build has nothing left to do.
    let again = registry.run(&["build"]);
    again.expect_code(0);
    assert!(
        again.stderr().contains(" 0 files written"),
        "{}",
        again.stderr()
    );

    // Built fresh against the deployed format-1 registry, the plan uploads every API document.
    let fresh = registry.root().join("fresh");
    registry
        .run(&[
            "build",
            "--quiet",
            "--no-site",
            "--out",
            fresh.to_str().unwrap(),
            "--previous",
            deployed.to_str().unwrap(),
        ])
        .expect_code(0);
    let plan = registry.run(&["plan", "--out", fresh.to_str().unwrap()]);
    plan.expect_code(0);
    let planned: Vec<String> = plan
        .stdout()
        .lines()
        .filter(|line| line.starts_with("api/"))
        .map(str::to_owned)
        .collect();
    let mut every: Vec<String> = common::tree(&fresh)
        .into_keys()
        .filter(|path| path.starts_with("api/"))
        .collect();
    every.sort();
    let mut planned_sorted = planned.clone();
    planned_sorted.sort();
    assert_eq!(planned_sorted, every);
    assert_eq!(
        planned.last().map(String::as_str),
        Some("api/registry/v1/format.json"),
        "the format is uploaded after the documents it describes"
    );
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
