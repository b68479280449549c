//! `init`: starts a new registry repository.
//!
//! Writes `registry-data/registry.toml`, a README for authors, the pull-request check and one
//! deploy workflow (the same files as `workflows/` in this repository, compiled in), a
//! CODEOWNERS file matching registry.toml, and a `.gitignore` for build output. It never
//! overwrites: if any of these files exists, it writes nothing.

use std::path::{Path, PathBuf};

use crate::authoring::codeowners;
use crate::authoring::outcome::CommandError;
use crate::common::fsutil;
use crate::data::settings::{self, Settings};

pub const CHECK_WORKFLOW: &str = include_str!("../../workflows/check.yml");
pub const PAGES_WORKFLOW: &str = include_str!("../../workflows/deploy-pages.yml");
pub const S3_WORKFLOW: &str = include_str!("../../workflows/deploy-s3.yml");
pub const RSYNC_WORKFLOW: &str = include_str!("../../workflows/deploy-rsync.yml");

/// Where the registry is deployed, which picks the deploy workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeployTarget {
    /// GitHub Pages.
    Pages,
    /// An S3-compatible bucket, optionally behind CloudFront.
    S3,
    /// Any host reachable with rsync over SSH.
    Rsync,
}

impl DeployTarget {
    fn workflow(self) -> (&'static str, &'static str) {
        match self {
            DeployTarget::Pages => ("deploy-pages.yml", PAGES_WORKFLOW),
            DeployTarget::S3 => ("deploy-s3.yml", S3_WORKFLOW),
            DeployTarget::Rsync => ("deploy-rsync.yml", RSYNC_WORKFLOW),
        }
    }
}

/// The files `init` writes, relative to the new repository, in the order written.
pub fn files(name: &str, target: DeployTarget) -> Vec<(PathBuf, String)> {
    let data = "registry-data";
    let (workflow_name, workflow) = target.workflow();
    vec![
        (
            Path::new(data).join(settings::FILE_NAME),
            registry_toml(name),
        ),
        (PathBuf::from("README.md"), authors_readme(name)),
        (
            PathBuf::from(".github/workflows/check.yml"),
            CHECK_WORKFLOW.to_owned(),
        ),
        (
            Path::new(".github/workflows").join(workflow_name),
            workflow.to_owned(),
        ),
        (
            PathBuf::from(codeowners::DEFAULT_PATH),
            codeowners::render(&Settings::default(), data),
        ),
        (PathBuf::from(".gitignore"), "/dist\n/previous\n".to_owned()),
    ]
}

/// Writes the files of a new registry into `dir`; returns the paths written.
pub fn init(dir: &Path, name: &str, target: DeployTarget) -> Result<Vec<PathBuf>, CommandError> {
    if name.trim().is_empty() || name.contains(['"', '\\', '\n']) {
        return Err(CommandError::Usage(
            "--name must be a non-empty name without quotes, backslashes or line breaks".to_owned(),
        ));
    }
    let files = files(name, target);
    let existing: Vec<String> = files
        .iter()
        .map(|(relative, _)| dir.join(relative))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(CommandError::Refused(format!(
            "refusing to overwrite {}; nothing was written",
            existing.join(", ")
        )));
    }
    let mut written = Vec::new();
    for (relative, text) in files {
        let path = dir.join(relative);
        fsutil::write_atomic(&path, text.as_bytes(), false)?;
        written.push(path);
    }
    Ok(written)
}

fn registry_toml(name: &str) -> String {
    format!(
        "# Settings of this registry; see docs/format.md of perstack-registry.\nname = \"{name}\"\n\n# Owners of each scope: `perstack-registry codeowners` turns them into .github/CODEOWNERS,\n# so changes below registry-data/@acme/ need their review.\n# [scopes.\"@acme\"]\n# owners = [\"@acme-org/maintainers\"]\n"
    )
}

fn authors_readme(name: &str) -> String {
    format!(
        r#"# {name}

A Perstack Expert registry with no server: every published version is a file in
`registry-data/`, a pull request publishes it, and a push to `main` builds and deploys the
registry as static, content-addressed files.

## Publishing an expert

1. Write or update your expert in your own `perstack.toml` and raise its `version`.
2. In a clone of this repository, run

   ```sh
   perstack-registry publish path/to/perstack.toml --expert @your-scope/your-expert
   ```

   (`--all` publishes every expert of the file, each after the experts it delegates to;
   `--dry-run` shows what would be written). It writes
   `registry-data/<name>/<version>.toml` with only the expert's definition: run settings such as
   `model` and `provider` stay in your file.
3. Commit the new file and open a pull request. CI runs `perstack-registry check --base` and
   annotates any problem; the scope's owners (see `.github/CODEOWNERS`) review it.

Published versions never change: to fix one, publish a new version.

## After publishing

| command | what it does |
| --- | --- |
| `perstack-registry tag NAME@VERSION TAG` | points a tag such as `stable` at a version |
| `perstack-registry untag NAME TAG` | removes a tag, recording why in `[retired-tags]` |
| `perstack-registry deprecate NAME@VERSION --reason TEXT` | warns users away from a version |
| `perstack-registry disable NAME@VERSION --reason TEXT` | stops a version from resolving (final) |

Each edits `registry-data/<name>/expert.toml`; commit it and open a pull request as above.
`latest` is computed: the newest available release.

## Maintaining the registry

- Scope owners live in `registry-data/registry.toml` (`[scopes."@acme"] owners = [...]`); run
  `perstack-registry codeowners` after changing them.
- `.github/workflows/` holds the pull-request check and the deploy workflow. They read the
  repository variables they need (`vars.PERSTACK_REGISTRY_GIT`: where to install
  perstack-registry from, and the deploy settings named at the top of the deploy workflow).
"#
    )
}
