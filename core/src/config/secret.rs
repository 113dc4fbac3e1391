//! Secrets can be given inline (`key = "…"`) or as a file (`key_file = "/path"`),
//! which keeps them out of the TOML file and out of the process environment.

use secrecy::SecretString;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: give either {key} or {key}_file, not both")]
    Both { key: String },
    #[error("{key}_file {path}: {source}")]
    Read {
        key: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Reads `file` into `value` when given; a trailing newline is not part of the secret.
pub fn resolve_secret(
    key: &str,
    value: &mut Option<SecretString>,
    file: Option<&Path>,
) -> Result<(), SecretError> {
    let Some(path) = file else { return Ok(()) };
    if value.is_some() {
        return Err(SecretError::Both { key: key.into() });
    }
    let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
        key: key.into(),
        path: path.display().to_string(),
        source,
    })?;
    *value = Some(SecretString::from(
        text.trim_end_matches(['\r', '\n']).to_string(),
    ));
    Ok(())
}
