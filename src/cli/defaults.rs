//! What the command line fills in that the arguments do not say: default paths and what it
//! reads from the environment, all here so every input other than an argument has one place.
//! (`$PERSTACK_REGISTRY` is clap's, on [`RegistryArgs::registry`]; the library says where each
//! default lies.)

use std::path::PathBuf;

use crate::cli::args::{CacheGcArgs, LockArgs, RegistryArgs, ServeArgs, SigningArgs};
use crate::cli::error::CliError;
use perstack_registry::build::Signing;
use perstack_registry::client::cache;
use perstack_registry::client::lockfile;
use perstack_registry::common::signing::SecretKey;
use perstack_registry::serve;

impl RegistryArgs {
    /// `--cache`, else the cache under `$XDG_CACHE_HOME` or `$HOME`.
    pub fn cache_dir(&self) -> Result<PathBuf, CliError> {
        cache_dir(self.cache.as_ref())
    }
}

impl CacheGcArgs {
    /// `--cache`, else the same default as the commands that fill the cache.
    pub fn cache_dir(&self) -> Result<PathBuf, CliError> {
        cache_dir(self.cache.as_ref())
    }
}

fn cache_dir(given: Option<&PathBuf>) -> Result<PathBuf, CliError> {
    given
        .cloned()
        .or_else(cache::default_cache_dir)
        .ok_or_else(|| {
            CliError::environment("no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache")
        })
}

impl ServeArgs {
    /// Where `--tls` keeps its certificates: `--tls-dir`, else under the cache directory.
    pub fn tls_dir(&self) -> Result<Option<PathBuf>, CliError> {
        if !self.tls {
            return Ok(None);
        }
        self.tls_dir
            .clone()
            .or_else(serve::tls::default_dir)
            .map(Some)
            .ok_or_else(|| {
                CliError::environment(
                    "no directory for the certificates: set XDG_CACHE_HOME or HOME, or pass --tls-dir",
                )
            })
    }
}

impl LockArgs {
    /// `--output`, else the lockfile beside the perstack.toml.
    pub fn lockfile(&self) -> PathBuf {
        self.output
            .clone()
            .unwrap_or_else(|| lockfile::beside(&self.perstack_toml))
    }
}

impl SigningArgs {
    /// The secret keys named by `--sign-key-env`, read from the environment.
    pub fn signing(&self) -> Result<Option<Signing>, CliError> {
        if self.sign_key_env.is_empty() {
            return Ok(None);
        }
        let keys = self
            .sign_key_env
            .iter()
            .map(|var| {
                let text = std::env::var(var).map_err(|_| {
                    CliError::environment(format!("--sign-key-env {var}: the variable is not set"))
                })?;
                SecretKey::parse(&text)
                    .map_err(|err| CliError::environment(format!("--sign-key-env {var}: {err}")))
            })
            .collect::<Result<_, CliError>>()?;
        Ok(Some(Signing {
            keys,
            expires_in_days: self.expires_in,
        }))
    }
}
