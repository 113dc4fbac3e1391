//! Layered configuration: defaults, then a TOML file, then `CUTOVER_` environment
//! variables (`CUTOVER_DATABASE__URL`), then CLI flags (applied by the binary as
//! a last figment layer). Unknown keys are rejected with their name, and every
//! secret can also come from a `*_file` key.

mod secret;
mod sections;

pub use secret::{SecretError, resolve_secret};
pub use sections::*;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub legacy: ImapServerConfig,
    pub target: ImapServerConfig,
    pub ldap: LdapConfig,
    pub portal: PortalConfig,
    pub autoconfig: AutoconfigConfig,
    pub mailer: MailerConfig,
    pub worker: WorkerConfig,
    pub cutover: CutoverConfig,
    pub slots: SlotsConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {message}")]
    File { path: String, message: String },
    #[error("configuration: {0}")]
    Invalid(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Every configuration key is nested in a section, so configuration variables
/// always contain `__` (`CUTOVER_WORKER__CONCURRENCY`). Other `CUTOVER_*`
/// variables belong to commands (`CUTOVER_SOURCE_PASSWORD` of `cutover copy`,
/// `CUTOVER_CONFIG`, `CUTOVER_LOG`) or to tools around us, and are left alone;
/// a misspelt nested key is still rejected with its name.
fn is_config_env(key: &str) -> bool {
    key.contains("__")
}

impl Config {
    /// Builds the figment without extracting it, so the binary can merge CLI flags last.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            fig = fig.merge(Toml::file_exact(path));
        }
        fig.merge(
            Env::prefixed("CUTOVER_")
                .filter(|k| is_config_env(k.as_str()))
                .split("__")
                .lowercase(true),
        )
    }

    /// Extracts, validates and resolves `*_file` secrets.
    pub fn from_figment(fig: Figment) -> Result<Config, ConfigError> {
        let mut cfg: Config = fig.extract().map_err(|e| {
            let path = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| s.to_string())
                .unwrap_or_else(|| "(defaults/env)".into());
            let mut message = e.to_string();
            if let Some(key) = e.path.last()
                && !message.contains(key.as_str())
            {
                message = format!("{}: {message}", e.path.join("."));
            }
            ConfigError::File { path, message }
        })?;
        cfg.resolve_secrets()?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    fn resolve_secrets(&mut self) -> Result<(), ConfigError> {
        for (key, s) in [("legacy", &mut self.legacy), ("target", &mut self.target)] {
            resolve_secret(
                &format!("{key}.master_password"),
                &mut s.master_password,
                s.master_password_file.as_deref(),
            )?;
        }
        let l = &mut self.ldap;
        resolve_secret(
            "ldap.bind_password",
            &mut l.bind_password,
            l.bind_password_file.as_deref(),
        )?;
        let m = &mut self.mailer;
        resolve_secret(
            "mailer.smtp_password",
            &mut m.smtp_password,
            m.smtp_password_file.as_deref(),
        )?;
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (name, s) in [("legacy", &self.legacy), ("target", &self.target)] {
            if s.security == Security::Plain && !s.allow_plaintext {
                return Err(ConfigError::Invalid(format!(
                    "{name}.security = \"plain\" sends passwords in clear text; set {name}.allow_plaintext = true to accept that"
                )));
            }
        }
        if self.worker.concurrency == 0 {
            return Err(ConfigError::Invalid(
                "worker.concurrency must be at least 1".into(),
            ));
        }
        if self.slots.interval_minutes == 0 {
            return Err(ConfigError::Invalid(
                "slots.interval_minutes must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
