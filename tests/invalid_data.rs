//! One case per rule that registry-data can break: each asserts the exact message, its place,
//! and the exit code, for both `check` and `build`, and that `build` wrote nothing.
//!
//! Every case starts from [`TestRegistry::valid`] (or `empty`) and breaks one thing, so the
//! lines asserted are exactly the ones that rule produces.

mod common;

use common::{TestRegistry, version_file};

const TIC: &str = "registry-data/tic-tac-toe/1.0.0.toml";
const TIC_META: &str = "registry-data/tic-tac-toe/expert.toml";
const RESEARCHER_META: &str = "registry-data/@acme/researcher/expert.toml";

/// The diagnostic lines of a run's stderr (human format), without the summary lines that
/// follow them.
fn diagnostic_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| {
            !l.starts_with("error: registry-data is invalid") && *l != "error: nothing was written"
        })
        .map(str::to_owned)
        .collect()
}

/// Asserts that `check` fails with exactly `expected` as its diagnostic lines (stderr, human
/// format), and that `build` refuses the same data with the same lines, writing nothing.
fn assert_invalid(registry: &TestRegistry, expected: &[&str]) {
    let run = registry.run(&["check"]);
    run.expect_code(1);
    assert_eq!(
        diagnostic_lines(&run.stderr()),
        expected,
        "stderr:\n{}",
        run.stderr()
    );
    assert_eq!(run.stdout(), "", "human diagnostics go to stderr");

    let build = registry.run(&["build"]);
    build.expect_code(1);
    assert_eq!(
        diagnostic_lines(&build.stderr()),
        expected,
        "build stderr:\n{}",
        build.stderr()
    );
    assert!(build.stderr().ends_with("error: nothing was written\n"));
    assert_wrote_nothing(registry);
}

/// Asserts that `check` passes with exactly `expected` as its warning lines, and that `build`
/// builds the same data.
fn assert_warns(registry: &TestRegistry, expected: &[&str]) {
    let run = registry.run(&["check"]);
    run.expect_code(0);
    let warnings: Vec<&str> = run
        .stderr()
        .lines()
        .filter(|line| line.contains(": warning: "))
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(warnings, expected, "stderr:\n{}", run.stderr());
    registry.run(&["build", "--quiet"]).expect_code(0);
}

/// Asserts that the output directory holds no registry file. The build may keep its own state
/// (a lock) there; `tree` leaves that out.
fn assert_wrote_nothing(registry: &TestRegistry) {
    if registry.out().exists() {
        let written = common::tree(&registry.out());
        assert!(
            written.is_empty(),
            "build wrote files: {:?}",
            written.keys()
        );
    }
}

/// Replaces tic-tac-toe 1.0.0 with a valid file plus `extra` inside its expert table.
fn tic_tac_toe_with(registry: &TestRegistry, extra: &str) {
    registry.version("tic-tac-toe", "1.0.0", extra);
}

/// Replaces tic-tac-toe 1.0.0 with a file declaring the base skill and then `skill` (the table
/// of the skill under test), so that only that skill is wrong.
fn tic_tac_toe_with_skill(registry: &TestRegistry, skill: &str) {
    tic_tac_toe_with(
        registry,
        &format!(
            "[experts.\"tic-tac-toe\".skills.\"@perstack/base\"]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"@perstack/base\"\n\n{skill}"
        ),
    );
}

#[test]
fn the_valid_fixture_is_valid() {
    TestRegistry::valid().run(&["check"]).expect_code(0);
}

// --- names and layout ------------------------------------------------------------------------

#[test]
fn uppercase_expert_directory_is_not_canonical() {
    let registry = TestRegistry::valid();
    registry.version("@Acme/Researcher", "1.0.0", "");
    assert_invalid(
        &registry,
        &[
            "registry-data/@Acme/Researcher: error: expert name \"@Acme/Researcher\" is not canonical: names are lowercase (\"@acme/researcher\")",
        ],
    );
}

#[test]
fn invalid_expert_directory_name() {
    let registry = TestRegistry::valid();
    registry.version("bad name!", "1.0.0", "");
    assert_invalid(
        &registry,
        &[
            "registry-data/bad name!: error: expert name \"bad name!\" is not valid: use lowercase letters, digits, '-' and '_', starting with a letter or digit, optionally under a scope (@scope/name)",
        ],
    );
}

#[test]
fn scope_longer_than_128_characters() {
    let registry = TestRegistry::valid();
    let scope = "s".repeat(129);
    registry.version(&format!("@{scope}/x"), "1.0.0", "");
    let expected = format!(
        "registry-data/@{scope}/x: error: scope \"@{scope}\" is 129 characters long; the limit is 128"
    );
    assert_invalid(&registry, &[&expected]);
}

#[test]
fn name_longer_than_255_characters() {
    let registry = TestRegistry::valid();
    // Scoped, so that no single directory name exceeds the file system's own limit.
    let name = format!("@acme/{}", "n".repeat(250));
    registry.version(&name, "1.0.0", "");
    let expected = format!(
        "registry-data/{name}: error: expert name is 256 characters long; the limit is 255"
    );
    assert_invalid(&registry, &[&expected]);
}

#[test]
fn version_file_name_not_semver() {
    let registry = TestRegistry::valid();
    registry.version("tic-tac-toe", "v1.0", "");
    assert_invalid(
        &registry,
        &[
            "registry-data/tic-tac-toe/v1.0.toml: error: version file name: \"v1.0\" is not a SemVer version: unexpected character 'v' while parsing major version number",
        ],
    );
}

#[test]
fn version_file_name_not_canonical() {
    let registry = TestRegistry::valid();
    registry.version("tic-tac-toe", "01.0.0", "");
    assert_invalid(
        &registry,
        &[
            "registry-data/tic-tac-toe/01.0.0.toml: error: version file name: \"01.0.0\" is not a SemVer version: invalid leading zero in major version number",
        ],
    );
}

#[test]
fn versions_differing_only_in_build_metadata() {
    let registry = TestRegistry::valid();
    registry
        .version("@acme/writer", "1.0.0+a", "")
        .version("@acme/writer", "1.0.0+b", "");
    assert_invalid(
        &registry,
        &[
            "registry-data/@acme/writer/1.0.0+b.toml: error: versions 1.0.0+a and 1.0.0+b of \"@acme/writer\" differ only in build metadata, which SemVer ignores when comparing; publish a new version number instead",
        ],
    );
}

// --- encoding --------------------------------------------------------------------------------

#[test]
fn version_file_not_utf8() {
    let registry = TestRegistry::valid();
    let mut bytes = version_file("tic-tac-toe", "1.0.0", "").into_bytes();
    let at = bytes.windows(4).position(|w| w == b"Test").unwrap();
    bytes[at] = 0xE9; // Latin-1 'é'
    registry.file("tic-tac-toe/1.0.0.toml", bytes);
    assert_invalid(
        &registry,
        &[&format!("{TIC}:3:16: error: file is not valid UTF-8")],
    );
}

#[test]
fn version_file_with_nul_byte() {
    let registry = TestRegistry::valid();
    let text = version_file("tic-tac-toe", "1.0.0", "").replace("Do the", "Do\0the");
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!("{TIC}:4:18: error: file holds a NUL byte")],
    );
}

#[test]
fn version_file_with_byte_order_mark() {
    let registry = TestRegistry::valid();
    let text = format!("\u{FEFF}{}", version_file("tic-tac-toe", "1.0.0", ""));
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:1:1: error: file starts with a UTF-8 byte-order mark; save it without one"
        )],
    );
}

#[test]
fn expert_toml_not_utf8() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        b"[tags]\nstable = \"1.0.0\xFF\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!("{TIC_META}:2:16: error: file is not valid UTF-8")],
    );
}

/// An unreadable expert.toml is one problem: the delegate to `tic-tac-toe@stable`, a tag the
/// file may well set, is not also reported.
#[test]
fn expert_toml_syntax_error() {
    let registry = TestRegistry::valid();
    registry.file("tic-tac-toe/expert.toml", "[tags]\nstable = 1.0.0\n");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:2:13: error: invalid TOML: invalid float, expected nothing"
        )],
    );
}

// --- things that are not part of the format --------------------------------------------------

const SYMLINK: &str = "error: symbolic links are refused and never followed: a link could publish a file from outside the registry";

#[test]
fn symlink_to_a_file_outside_is_refused() {
    let registry = TestRegistry::valid();
    registry.symlink("tic-tac-toe/2.0.0.toml", "/etc/passwd");
    assert_invalid(
        &registry,
        &[&format!("registry-data/tic-tac-toe/2.0.0.toml: {SYMLINK}")],
    );
}

#[test]
fn symlink_to_a_version_file_inside_is_refused() {
    let registry = TestRegistry::valid();
    registry.symlink("tic-tac-toe/1.0.1.toml", "1.0.0.toml");
    assert_invalid(
        &registry,
        &[&format!("registry-data/tic-tac-toe/1.0.1.toml: {SYMLINK}")],
    );
}

#[test]
fn symlink_to_a_directory_is_refused() {
    let registry = TestRegistry::valid();
    registry.symlink("@acme/alias", "researcher");
    assert_invalid(
        &registry,
        &[&format!("registry-data/@acme/alias: {SYMLINK}")],
    );
}

#[test]
fn symlinked_registry_toml_is_refused() {
    let registry = TestRegistry::valid();
    std::fs::write(registry.root().join("settings.toml"), "name = \"x\"\n").unwrap();
    registry.symlink("registry.toml", "../settings.toml");
    assert_invalid(
        &registry,
        &[&format!("registry-data/registry.toml: {SYMLINK}")],
    );
}

const NOT_IN_FORMAT: &str = "is not part of the registry format (see docs/format.md)";

#[test]
fn readme_at_the_top_is_refused() {
    let registry = TestRegistry::valid();
    registry.file("README.md", "# Registry\n");
    assert_invalid(
        &registry,
        &[&format!(
            "registry-data/README.md: error: file {NOT_IN_FORMAT}"
        )],
    );
}

#[test]
fn dot_file_is_refused() {
    let registry = TestRegistry::valid();
    registry.file(".DS_Store", [0u8, 0, 0, 1]);
    assert_invalid(
        &registry,
        &[&format!(
            "registry-data/.DS_Store: error: file {NOT_IN_FORMAT}"
        )],
    );
}

#[test]
fn file_in_a_scope_directory_is_refused() {
    let registry = TestRegistry::valid();
    registry.file("@acme/notes.txt", "notes\n");
    assert_invalid(
        &registry,
        &[&format!(
            "registry-data/@acme/notes.txt: error: file {NOT_IN_FORMAT}"
        )],
    );
}

#[test]
fn directory_in_an_expert_directory_is_refused() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/old/0.1.0.toml",
        version_file("tic-tac-toe", "0.1.0", ""),
    );
    assert_invalid(
        &registry,
        &[&format!(
            "registry-data/tic-tac-toe/old: error: directory {NOT_IN_FORMAT}"
        )],
    );
}

#[test]
fn non_toml_file_in_an_expert_directory_is_refused() {
    let registry = TestRegistry::valid();
    registry.file("tic-tac-toe/1.0.0.json", "{}\n");
    assert_invalid(
        &registry,
        &[
            "registry-data/tic-tac-toe/1.0.0.json: error: file is not part of the registry format: an expert directory holds <version>.toml files and an optional expert.toml",
        ],
    );
}

#[test]
fn expert_directory_without_versions() {
    let registry = TestRegistry::valid();
    registry.dir("@acme/empty");
    assert_invalid(
        &registry,
        &[
            "registry-data/@acme/empty: error: expert directory \"@acme/empty\" holds no version file (<version>.toml)",
        ],
    );
}

#[test]
fn expert_directory_with_only_expert_toml() {
    let registry = TestRegistry::valid();
    registry.file("@acme/empty/expert.toml", "");
    assert_invalid(
        &registry,
        &[
            "registry-data/@acme/empty: error: expert directory \"@acme/empty\" holds no version file (<version>.toml)",
        ],
    );
}

// --- size limits -----------------------------------------------------------------------------

#[test]
fn version_file_over_the_default_size_limit() {
    let registry = TestRegistry::valid();
    let padding = format!("# {}\n", "x".repeat(256 * 1024));
    let text = version_file("tic-tac-toe", "1.0.0", &padding);
    registry.file("tic-tac-toe/1.0.0.toml", &text);
    let expected = format!(
        "{TIC}: error: version file is {} bytes; the limit is 262144 (set [limits] max-version-bytes in registry.toml to change it)",
        text.len()
    );
    assert_invalid(&registry, &[&expected]);
}

#[test]
fn version_file_over_a_limit_set_in_registry_toml() {
    let registry = TestRegistry::empty();
    registry
        .version("tic-tac-toe", "1.0.0", "")
        .file("registry.toml", "[limits]\nmax-version-bytes = 100\n");
    let size = version_file("tic-tac-toe", "1.0.0", "").len();
    assert!(size > 100);
    let expected = format!(
        "{TIC}: error: version file is {size} bytes; the limit is 100 (set [limits] max-version-bytes in registry.toml to change it)"
    );
    assert_invalid(&registry, &[&expected]);
}

// --- registry.toml ---------------------------------------------------------------------------

#[test]
fn registry_toml_with_unknown_key() {
    let registry = TestRegistry::valid();
    registry.file(
        "registry.toml",
        "name = \"Acme\"\n\n[limits]\nmax-version-byte = 100\n",
    );
    assert_invalid(
        &registry,
        &["registry-data/registry.toml:4:1: error: unknown field `max-version-byte` in [limits]"],
    );
}

#[test]
fn registry_toml_with_unknown_top_level_key() {
    let registry = TestRegistry::valid();
    registry.file("registry.toml", "title = \"Acme\"\n");
    assert_invalid(
        &registry,
        &["registry-data/registry.toml:1:1: error: unknown field `title` in registry.toml"],
    );
}

#[test]
fn registry_toml_malformed() {
    let registry = TestRegistry::valid();
    registry.file("registry.toml", "name = \"Acme\n");
    assert_invalid(
        &registry,
        &[
            "registry-data/registry.toml:1:13: error: invalid TOML: invalid basic string, expected `\"`",
        ],
    );
}

#[test]
fn registry_toml_with_a_limit_out_of_range() {
    // Zero, and more than clients accept for any version file (16 MiB).
    for value in ["0", "16777217"] {
        let registry = TestRegistry::valid();
        registry.file(
            "registry.toml",
            format!("[limits]\nmax-version-bytes = {value}\n"),
        );
        assert_invalid(
            &registry,
            &[
                "registry-data/registry.toml:2:21: error: `max-version-bytes` must be between 1 and 16777216: clients refuse larger version files",
            ],
        );
    }
    let registry = TestRegistry::valid();
    registry.file("registry.toml", "[limits]\nmax-version-bytes = 16777216\n");
    registry.run(&["check"]).expect_code(0);
}

// --- version files: TOML and top level -------------------------------------------------------

#[test]
fn version_file_toml_syntax_error() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with(&registry, "delegates = [\"@acme/searcher\"\n");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:5:30: error: invalid TOML: unclosed array, expected `]`"
        )],
    );
}

#[test]
fn version_file_with_top_level_key() {
    let registry = TestRegistry::valid();
    let text = format!(
        "model = \"x\"\n{}",
        version_file("tic-tac-toe", "1.0.0", "")
    );
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:1:1: error: top-level key `model` is not part of a published definition: a version file holds only [experts.\"tic-tac-toe\"]"
        )],
    );
}

/// A perstack.toml copied as it is: its runtime settings are one error each.
#[test]
fn version_file_is_a_whole_perstack_toml() {
    let registry = TestRegistry::valid();
    let text = format!(
        "model = \"claude-sonnet-4-5\"\n\n[provider]\nproviderName = \"anthropic\"\n\n{}",
        version_file("tic-tac-toe", "1.0.0", "")
    );
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[
            &format!(
                "{TIC}:1:1: error: top-level key `model` is not part of a published definition: a version file holds only [experts.\"tic-tac-toe\"]"
            ),
            &format!(
                "{TIC}:3:2: error: top-level key `provider` is not part of a published definition: a version file holds only [experts.\"tic-tac-toe\"]"
            ),
        ],
    );
}

#[test]
fn version_file_without_expert_table() {
    let registry = TestRegistry::valid();
    registry.file("tic-tac-toe/1.0.0.toml", "");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:1:1: error: file does not define [experts.\"tic-tac-toe\"]"
        )],
    );
}

// --- version files: the expert table ---------------------------------------------------------

#[test]
fn expert_table_key_does_not_match_directory() {
    let registry = TestRegistry::valid();
    let text =
        version_file("tic-tac-toe", "1.0.0", "").replace("\"tic-tac-toe\"]", "\"tictactoe\"]");
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:1:10: error: this file defines expert \"tictactoe\", but its directory says \"tic-tac-toe\"; a version file holds exactly one expert, named after its directory"
        )],
    );
}

#[test]
fn version_field_does_not_match_file_name() {
    let registry = TestRegistry::valid();
    let text = version_file("tic-tac-toe", "1.0.1", "");
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:2:11: error: `version` is \"1.0.1\", but the file name says \"1.0.0\""
        )],
    );
}

#[test]
fn missing_description() {
    let registry = TestRegistry::valid();
    let text = version_file("tic-tac-toe", "1.0.0", "")
        .replace("description = \"Test expert tic-tac-toe\"\n", "");
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:1:1: error: expert \"tic-tac-toe\" is missing the required field `description`"
        )],
    );
}

#[test]
fn missing_instruction() {
    let registry = TestRegistry::valid();
    let text =
        version_file("tic-tac-toe", "1.0.0", "").replace("instruction = \"Do the work.\"\n", "");
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:1:1: error: expert \"tic-tac-toe\" is missing the required field `instruction`"
        )],
    );
}

#[test]
fn description_too_long() {
    let registry = TestRegistry::valid();
    let text = version_file("tic-tac-toe", "1.0.0", "").replace(
        "Test expert tic-tac-toe",
        &"é".repeat(2049), // counted in characters, not bytes
    );
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:3:15: error: `description` is 2049 characters long; the limit is 2048"
        )],
    );
}

#[test]
fn description_at_the_limit_is_valid() {
    let registry = TestRegistry::valid();
    let text = version_file("tic-tac-toe", "1.0.0", "")
        .replace("Test expert tic-tac-toe", &"é".repeat(2048));
    registry.file("tic-tac-toe/1.0.0.toml", text);
    registry.run(&["check"]).expect_code(0);
}

#[test]
fn instruction_too_long() {
    let registry = TestRegistry::valid();
    let text = version_file("tic-tac-toe", "1.0.0", "").replace("Do the work.", &"w".repeat(20481));
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:4:15: error: `instruction` is 20481 characters long; the limit is 20480"
        )],
    );
}

#[test]
fn empty_description() {
    let registry = TestRegistry::valid();
    let text = version_file("tic-tac-toe", "1.0.0", "").replace("Test expert tic-tac-toe", " ");
    registry.file("tic-tac-toe/1.0.0.toml", text);
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:3:15: error: `description` must not be empty"
        )],
    );
}

#[test]
fn unknown_field_in_expert_table_is_a_warning() {
    // Perstack ignores fields its schema does not know, so the definition publishes; the
    // warning is for the misspelling that silently does nothing.
    let registry = TestRegistry::valid();
    tic_tac_toe_with(&registry, "model = \"claude-sonnet-4-5\"\n");
    assert_warns(
        &registry,
        &[&format!(
            "{TIC}:5:1: warning: unknown field `model` in expert \"tic-tac-toe\": Perstack ignores it, so it has no effect"
        )],
    );
}

#[test]
fn wrong_type_for_delegates() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with(&registry, "delegates = \"@acme/searcher\"\n");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:5:13: error: `delegates` must be an array, not a string"
        )],
    );
}

#[test]
fn more_than_8_category_tags() {
    let registry = TestRegistry::valid();
    let tags: Vec<String> = (1..=9).map(|i| format!("\"t{i}\"")).collect();
    tic_tac_toe_with(&registry, &format!("tags = [{}]\n", tags.join(", ")));
    assert_invalid(
        &registry,
        &[&format!("{TIC}:5:8: error: 9 tags; the limit is 8")],
    );
}

#[test]
fn invalid_category_tag() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with(&registry, "tags = [\"games\", \"Board Games\"]\n");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:5:18: error: category tag \"Board Games\" is not valid: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
        )],
    );
}

#[test]
fn more_than_255_delegates() {
    let registry = TestRegistry::valid();
    let delegates = vec!["\"@acme/searcher\""; 256].join(", ");
    tic_tac_toe_with(&registry, &format!("delegates = [{delegates}]\n"));
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:5:13: error: 256 delegates; the limit is 255"
        )],
    );
}

// --- skills ----------------------------------------------------------------------------------

#[test]
fn skills_without_perstack_base() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with(
        &registry,
        "[experts.\"tic-tac-toe\".skills.firecrawl]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"firecrawl-mcp\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:5:24: error: an expert that declares skills must include \"@perstack/base\""
        )],
    );
}

#[test]
fn unknown_skill_type() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpHttpSkill\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:11:8: error: skill \"search\" has unknown type \"mcpHttpSkill\": use mcpStdioSkill, mcpSseSkill or interactiveSkill"
        )],
    );
}

#[test]
fn skill_without_type() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ncommand = \"npx\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:10:1: error: skill \"search\" is missing the required field `type` (mcpStdioSkill, mcpSseSkill or interactiveSkill)"
        )],
    );
}

#[test]
fn stdio_skill_without_command() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpStdioSkill\"\npackageName = \"search-mcp\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:10:1: error: skill \"search\" (mcpStdioSkill) is missing the required field `command`"
        )],
    );
}

#[test]
fn stdio_skill_without_package_name_or_args() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:10:1: error: skill \"search\" (mcpStdioSkill) needs `packageName` or `args`"
        )],
    );
}

#[test]
fn stdio_skill_with_args_only_is_valid() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpStdioSkill\"\ncommand = \"uvx\"\nargs = [\"search-mcp\"]\n",
    );
    registry.run(&["check"]).expect_code(0);
}

#[test]
fn sse_skill_with_http_endpoint() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpSseSkill\"\nendpoint = \"http://mcp.example.com/sse\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:12:12: error: endpoint: \"http://mcp.example.com/sse\" is not an https: URL"
        )],
    );
}

#[test]
fn sse_skill_with_localhost_endpoint() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpSseSkill\"\nendpoint = \"https://localhost:8080/sse\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:12:12: error: endpoint: \"https://localhost:8080/sse\" does not point at a public host"
        )],
    );
}

#[test]
fn sse_skill_without_endpoint() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpSseSkill\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:10:1: error: skill \"search\" (mcpSseSkill) is missing the required field `endpoint`"
        )],
    );
}

#[test]
fn interactive_tool_with_invalid_json_schema() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.ask]\ntype = \"interactiveSkill\"\n\n[experts.\"tic-tac-toe\".skills.ask.tools.confirm]\ndescription = \"Ask the user to confirm\"\ninputJsonSchema = '{\"type\": \"object\",}'\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:15:19: error: tool \"confirm\": `inputJsonSchema` is not valid JSON: trailing comma at line 1 column 19"
        )],
    );
}

#[test]
fn interactive_tool_without_input_schema() {
    // A tool's description is optional, as in Perstack's schema; its input schema is not.
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.ask]\ntype = \"interactiveSkill\"\n\n[experts.\"tic-tac-toe\".skills.ask.tools.confirm]\ndescription = \"Confirm\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:13:1: error: tool \"confirm\" is missing the required field `inputJsonSchema`"
        )],
    );
}

#[test]
fn invalid_required_env_name() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"search-mcp\"\nrequiredEnv = [\"SEARCH_KEY\", \"SEARCH KEY\"]\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:14:30: error: environment variable name \"SEARCH KEY\" is not valid: use letters, digits, '_' and '-', starting with a letter or digit"
        )],
    );
}

#[test]
fn invalid_skill_name() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.Gmail]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"gmail-mcp\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC}:10:31: error: skill name \"Gmail\" is not an npm-style package name (lowercase, optional @scope/, optional @version)"
        )],
    );
}

#[test]
fn unknown_field_in_skill() {
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"search-mcp\"\nendpoint = \"https://mcp.example.com/sse\"\n",
    );
    assert_warns(
        &registry,
        &[&format!(
            "{TIC}:14:1: warning: unknown field `endpoint` in mcpStdioSkill skill \"search\": Perstack ignores it, so it has no effect"
        )],
    );
}

#[test]
fn invalid_allowed_domain() {
    // Perstack refuses these (domainPatternSchema upstream), so the registry does too.
    let registry = TestRegistry::valid();
    tic_tac_toe_with_skill(
        &registry,
        "[experts.\"tic-tac-toe\".skills.search]\ntype = \"mcpStdioSkill\"\ncommand = \"npx\"\npackageName = \"search-mcp\"\nallowedDomains = [\"api.example.com\", \"*.example.com\", \"exa mple.com\", \"xn--80ak6aa92e.com\"]\n",
    );
    assert_invalid(
        &registry,
        &[
            &format!(
                "{TIC}:14:55: error: allowed domain \"exa mple.com\" is not valid: use an exact domain (example.com) or a wildcard prefix (*.example.com)"
            ),
            &format!(
                "{TIC}:14:71: error: allowed domain \"xn--80ak6aa92e.com\" is punycode, which Perstack refuses to prevent look-alike domains; use ASCII domains only"
            ),
        ],
    );
}

#[test]
fn invalid_provider_settings() {
    // Perstack's provider-tools schema refuses each of these, so the registry does too.
    let registry = TestRegistry::valid();
    tic_tac_toe_with(
        &registry,
        "providerTools = [\"webSearch\", 3]\nproviderSkills = [{ type = \"builtin\", skillId = \"pdf\" }, { type = \"builtin\", skillId = \"zip\" }, { type = \"custom\", name = \"x\" }, { type = \"plugin\" }]\nproviderToolOptions = { webSearch = { maxUses = 0 }, webFetch = { maxUses = 3 } }\n",
    );
    assert_invalid(
        &registry,
        &[
            &format!("{TIC}:5:31: error: `providerTools` must hold strings, not an integer"),
            &format!(
                "{TIC}:6:88: error: built-in skill \"zip\" does not exist: use one of pdf, docx, pptx, xlsx"
            ),
            &format!("{TIC}:6:97: error: providerSkills entry is missing `definition`"),
            &format!(
                "{TIC}:6:130: error: providerSkills entry has type \"plugin\": use \"builtin\" or \"custom\""
            ),
            &format!("{TIC}:7:49: error: `maxUses` must be a positive integer, not 0"),
        ],
    );
}

// --- delegates -------------------------------------------------------------------------------

const RESEARCHER_1_1: &str = "registry-data/@acme/researcher/1.1.0.toml";

/// Replaces the delegates of @acme/researcher 1.1.0.
fn researcher_delegates(registry: &TestRegistry, delegates: &str) {
    registry.version(
        "@acme/researcher",
        "1.1.0",
        &format!("delegates = [{delegates}]\n"),
    );
}

#[test]
fn delegate_to_unknown_expert() {
    let registry = TestRegistry::valid();
    researcher_delegates(&registry, "\"@acme/searcher\", \"@acme/writer\"");
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_1_1}:5:32: error: delegate \"@acme/writer\" does not resolve: there is no expert \"@acme/writer\" in this registry"
        )],
    );
}

#[test]
fn delegate_to_unknown_version() {
    let registry = TestRegistry::valid();
    researcher_delegates(&registry, "\"@acme/searcher@9.9.9\"");
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_1_1}:5:14: error: delegate \"@acme/searcher@9.9.9\" does not resolve: \"@acme/searcher\" has no version 9.9.9"
        )],
    );
}

#[test]
fn delegate_to_unknown_tag() {
    let registry = TestRegistry::valid();
    researcher_delegates(&registry, "\"tic-tac-toe@nope\"");
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_1_1}:5:14: error: delegate \"tic-tac-toe@nope\" does not resolve: \"tic-tac-toe\" has no tag \"nope\""
        )],
    );
}

#[test]
fn delegate_that_is_not_an_expert_key() {
    let registry = TestRegistry::valid();
    researcher_delegates(&registry, "\"Bad@@x\"");
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_1_1}:5:14: error: delegate \"Bad@@x\" is not a valid expert key: expert name \"Bad@\" is not valid: use lowercase letters, digits, '-' and '_', starting with a letter or digit, optionally under a scope (@scope/name)"
        )],
    );
}

#[test]
fn delegate_to_a_disabled_version_only_warns() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/searcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"Leaked a key\"\n",
    );
    let run = registry.run(&["check"]);
    run.expect_code(0);
    assert_eq!(
        run.stderr(),
        "registry-data/@acme/researcher/1.0.0.toml:5:14: warning: delegate \"@acme/searcher\" has nothing to resolve to: \"@acme/searcher\" has no available version\n\
         registry-data/@acme/researcher/1.1.0.toml:5:14: warning: delegate \"@acme/searcher@1.0.0\" names @acme/searcher@1.0.0, which is disabled\n\
         registry-data is valid: 3 experts, 4 versions\n"
    );
    let build = registry.run(&["build"]);
    build.expect_code(0);
    assert!(
        build
            .stderr()
            .contains("warning: delegate \"@acme/searcher@1.0.0\"")
    );
}

// --- expert.toml -----------------------------------------------------------------------------

#[test]
fn latest_cannot_be_set_as_a_tag() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\nlatest = \"1.0.0\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:3:1: error: `latest` is computed by the registry and cannot be set or retired"
        )],
    );
}

#[test]
fn tag_pointing_at_a_missing_version() {
    let registry = TestRegistry::valid();
    registry.file("tic-tac-toe/expert.toml", "[tags]\nstable = \"2.0.0\"\n");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:2:10: error: tag \"stable\" points at version \"2.0.0\", which \"tic-tac-toe\" does not have"
        )],
    );
}

#[test]
fn tag_pointing_at_a_disabled_version() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\n\n[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"Broken\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:2:10: error: tag \"stable\" points at tic-tac-toe@1.0.0, which is disabled; move the tag first"
        )],
    );
}

#[test]
fn tag_named_like_a_version() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\n1.0.0 = \"1.0.0\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:3:1: error: tag \"1.0.0\" is a version number, so name@1.0.0 would be ambiguous"
        )],
    );
}

#[test]
fn quoted_tag_named_like_a_version() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\n\"1.0.0\" = \"1.0.0\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:3:1: error: tag \"1.0.0\" is a version number, so name@1.0.0 would be ambiguous"
        )],
    );
}

#[test]
fn tag_with_a_dotted_name() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = \"1.0.0\"\nrelease.candidate = \"1.0.0\"\nrelease.next = \"1.0.0\"\n",
    );
    let invalid =
        "is not valid: use lowercase letters, digits, '-' and '_', starting with a letter or digit";
    assert_invalid(
        &registry,
        &[
            &format!("{TIC_META}:3:1: error: tag \"release.candidate\" {invalid}"),
            &format!("{TIC_META}:4:9: error: tag \"release.next\" {invalid}"),
        ],
    );
}

/// A tag set to something other than a version is one problem: delegates naming it are not
/// also reported as naming an unknown tag.
#[test]
fn tag_set_to_a_non_string() {
    let registry = TestRegistry::valid();
    registry.file("tic-tac-toe/expert.toml", "[tags]\nstable = 1\n");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:2:10: error: `stable` must be a string, not an integer"
        )],
    );
}

#[test]
fn tag_set_to_a_table() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "[tags]\nstable = { version = \"1.0.0\" }\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:2:10: error: `stable` must be a string, not a table"
        )],
    );
}

#[test]
fn tags_that_are_not_a_table() {
    let registry = TestRegistry::valid();
    registry.file("tic-tac-toe/expert.toml", "tags = \"stable\"\n");
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:1:8: error: `tags` must be a table, not a string"
        )],
    );
}

#[test]
fn unknown_status_value() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"retired\"\nreason = \"Use 1.1.0\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_META}:2:10: error: status \"retired\" is not one of available, deprecated, disabled"
        )],
    );
}

#[test]
fn deprecated_without_reason() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"deprecated\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_META}:1:1: error: [versions.\"1.0.0\"] is deprecated but gives no `reason`; tell users why and what to use instead"
        )],
    );
}

#[test]
fn disabled_without_reason() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"disabled\"\nreason = \"  \"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_META}:3:10: error: `reason` must not be empty"
        )],
    );
}

#[test]
fn status_without_status_field() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nreason = \"Use 1.1.0\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_META}:1:1: error: [versions.\"1.0.0\"] is missing the required field `status`"
        )],
    );
}

#[test]
fn status_for_a_version_that_does_not_exist() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"Use 1.1.0\"\n\n[versions.\"0.9.0\"]\nstatus = \"disabled\"\nreason = \"Broken\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_META}:5:11: error: [versions.\"0.9.0\"] names a version of \"@acme/researcher\" that does not exist"
        )],
    );
}

/// `[versions.1.0.0]` is, to TOML, the table `1` holding `0` holding `0`.
#[test]
fn unquoted_version_in_expert_toml() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.1.0.0]\nstatus = \"deprecated\"\nreason = \"Use 1.1.0\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_META}:1:11: error: write the version as a quoted key, [versions.\"1.0.0\"]: unquoted, TOML reads its dots as nested tables"
        )],
    );
}

#[test]
fn unknown_key_in_expert_toml() {
    let registry = TestRegistry::valid();
    registry.file(
        "tic-tac-toe/expert.toml",
        "owner = \"acme\"\n\n[tags]\nstable = \"1.0.0\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{TIC_META}:1:1: error: unknown field `owner` in expert.toml"
        )],
    );
}

#[test]
fn unknown_key_in_a_version_status() {
    let registry = TestRegistry::valid();
    registry.file(
        "@acme/researcher/expert.toml",
        "[versions.\"1.0.0\"]\nstatus = \"deprecated\"\nreason = \"Use 1.1.0\"\nsince = \"2025-01-01\"\n",
    );
    assert_invalid(
        &registry,
        &[&format!(
            "{RESEARCHER_META}:4:1: error: unknown field `since` in [versions.\"1.0.0\"]"
        )],
    );
}

// --- many problems in one run ----------------------------------------------------------------

/// A registry that breaks rules in five files at once.
fn many_problems() -> TestRegistry {
    let registry = TestRegistry::valid();
    registry
        .file("registry.toml", "nmae = \"Acme\"\n")
        .file("README.md", "# Registry\n")
        .version(
            "tic-tac-toe",
            "1.0.0",
            "model = \"x\"\ndelegates = [\"@acme/nobody\"]\n",
        )
        .file("tic-tac-toe/expert.toml", "[tags]\nlatest = \"1.0.0\"\n")
        .version(
            "@acme/researcher",
            "1.1.0",
            "delegates = [\"@acme/searcher@2.0.0\", \"tic-tac-toe@beta\"]\n",
        );
    let description =
        version_file("@acme/searcher", "1.0.0", "").replace("Test expert @acme/searcher", "");
    registry.file("@acme/searcher/1.0.0.toml", description);
    registry
}

#[test]
fn all_problems_are_reported_in_one_run_sorted_by_file_and_position() {
    assert_invalid(
        &many_problems(),
        &[
            "registry-data/@acme/researcher/1.1.0.toml:5:14: error: delegate \"@acme/searcher@2.0.0\" does not resolve: \"@acme/searcher\" has no version 2.0.0",
            "registry-data/@acme/researcher/1.1.0.toml:5:38: error: delegate \"tic-tac-toe@beta\" does not resolve: \"tic-tac-toe\" has no tag \"beta\"",
            "registry-data/@acme/searcher/1.0.0.toml:3:15: error: `description` must not be empty",
            "registry-data/README.md: error: file is not part of the registry format (see docs/format.md)",
            "registry-data/registry.toml:1:1: error: unknown field `nmae` in registry.toml",
            "registry-data/tic-tac-toe/1.0.0.toml:5:1: warning: unknown field `model` in expert \"tic-tac-toe\": Perstack ignores it, so it has no effect",
            "registry-data/tic-tac-toe/1.0.0.toml:6:14: error: delegate \"@acme/nobody\" does not resolve: there is no expert \"@acme/nobody\" in this registry",
            "registry-data/tic-tac-toe/expert.toml:2:1: error: `latest` is computed by the registry and cannot be set or retired",
        ],
    );
}

// --- output formats and usage ----------------------------------------------------------------

#[test]
fn json_format_prints_one_document_on_stdout() {
    let registry = many_problems();
    let run = registry.run(&["check", "--format", "json"]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).expect("one JSON document");
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 7);
    assert_eq!(report["warnings"], 1);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 8);
    for (i, diagnostic) in diagnostics.iter().enumerate() {
        let severity = if i == 5 { "warning" } else { "error" };
        assert_eq!(diagnostic["severity"], severity);
        assert!(diagnostic["code"].is_string());
        assert!(diagnostic["file"].is_string());
        assert!(diagnostic["message"].is_string());
    }
    assert_eq!(
        diagnostics[0],
        serde_json::json!({
            "severity": "error",
            "code": "delegate-unknown-version",
            "file": "registry-data/@acme/researcher/1.1.0.toml",
            "line": 5,
            "column": 14,
            "message": "delegate \"@acme/searcher@2.0.0\" does not resolve: \"@acme/searcher\" has no version 2.0.0",
        })
    );
    // A problem with no place in the file has neither line nor column.
    assert_eq!(
        diagnostics[3],
        serde_json::json!({
            "severity": "error",
            "code": "not-in-format",
            "file": "registry-data/README.md",
            "message": "file is not part of the registry format (see docs/format.md)",
        })
    );
    let codes: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "delegate-unknown-version",
            "delegate-unknown-tag",
            "empty",
            "not-in-format",
            "unknown-field",
            "ignored-field",
            "delegate-unknown",
            "latest-tag",
        ]
    );
}

#[test]
fn github_format_prints_annotations_on_stdout() {
    let registry = many_problems();
    let run = registry.run(&["check", "--format", "github"]);
    run.expect_code(1);
    assert_eq!(
        run.stdout(),
        "::error file=registry-data/@acme/researcher/1.1.0.toml,line=5,col=14::delegate \"@acme/searcher@2.0.0\" does not resolve: \"@acme/searcher\" has no version 2.0.0\n\
         ::error file=registry-data/@acme/researcher/1.1.0.toml,line=5,col=38::delegate \"tic-tac-toe@beta\" does not resolve: \"tic-tac-toe\" has no tag \"beta\"\n\
         ::error file=registry-data/@acme/searcher/1.0.0.toml,line=3,col=15::`description` must not be empty\n\
         ::error file=registry-data/README.md::file is not part of the registry format (see docs/format.md)\n\
         ::error file=registry-data/registry.toml,line=1,col=1::unknown field `nmae` in registry.toml\n\
         ::warning file=registry-data/tic-tac-toe/1.0.0.toml,line=5,col=1::unknown field `model` in expert \"tic-tac-toe\": Perstack ignores it, so it has no effect\n\
         ::error file=registry-data/tic-tac-toe/1.0.0.toml,line=6,col=14::delegate \"@acme/nobody\" does not resolve: there is no expert \"@acme/nobody\" in this registry\n\
         ::error file=registry-data/tic-tac-toe/expert.toml,line=2,col=1::`latest` is computed by the registry and cannot be set or retired\n"
    );
}

#[test]
fn missing_data_directory_is_a_usage_failure() {
    let registry = TestRegistry::valid();
    let run = registry.run(&["check", "--data", "no-such-dir"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr(),
        "error: cannot read registry data directory no-such-dir: No such file or directory (os error 2)\n"
    );
    let build = registry.run(&["build", "--data", "no-such-dir"]);
    build.expect_code(2);
    assert!(build.stderr().contains("no-such-dir"), "{}", build.stderr());
    assert_wrote_nothing(&registry);
}

#[test]
fn data_path_that_is_a_file_is_a_usage_failure() {
    let registry = TestRegistry::valid();
    std::fs::write(registry.root().join("data.toml"), "").unwrap();
    let run = registry.run(&["check", "--data", "data.toml"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr(),
        "error: cannot read registry data directory data.toml: not a directory\n"
    );
}

#[test]
fn unknown_flag_is_a_usage_failure() {
    let run = TestRegistry::valid().run(&["check", "--strict"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("unexpected argument '--strict'"),
        "{}",
        run.stderr()
    );
}

#[test]
fn empty_scope_directory_is_refused() {
    let registry = TestRegistry::valid();
    std::fs::create_dir(registry.data().join("@empty")).unwrap();
    assert_invalid(
        &registry,
        &["registry-data/@empty: error: scope directory holds no expert directory"],
    );
}

#[test]
fn a_file_with_many_problems_shows_a_hundred_and_counts_the_rest() {
    let registry = TestRegistry::valid();
    let tags: String = (0..150).map(|i| format!("Bad_{i} = \"1.0.0\"\n")).collect();
    registry.file(
        "tic-tac-toe/expert.toml",
        format!("[tags]\nstable = \"1.0.0\"\n{tags}"),
    );
    let run = registry.run(&["check"]);
    run.expect_code(1);
    let lines = diagnostic_lines(&run.stderr());
    assert_eq!(lines.len(), 101, "{}", run.stderr());
    assert!(lines[..100].iter().all(|line| line.starts_with(TIC_META)));
    assert_eq!(
        lines[100],
        format!(
            "{TIC_META}: error: 50 more problem(s) in this file are not shown; fix the ones above and check again"
        )
    );
}

#[test]
fn an_oversized_expert_toml_or_registry_toml_is_refused_unread() {
    let registry = TestRegistry::valid();
    let padding = format!("# {}\n", "x".repeat(1024)).repeat(4200);
    registry.file("tic-tac-toe/expert.toml", format!("[tags]\n{padding}"));
    registry.file("registry.toml", format!("name = \"x\"\n{padding}"));
    let run = registry.run(&["check"]);
    run.expect_code(1);
    let lines = diagnostic_lines(&run.stderr());
    let size = 7 + padding.len();
    assert!(
        lines.contains(&format!(
            "{TIC_META}: error: file is {size} bytes; the limit is 4194304"
        )),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!(
            "registry-data/registry.toml: error: file is {} bytes; the limit is 4194304",
            11 + padding.len()
        )),
        "{lines:?}"
    );
}
