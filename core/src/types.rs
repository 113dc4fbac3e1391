//! Newtypes that are parsed once at the edge, so code holding one knows it is valid.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid e-mail address {0:?}")]
    Email(String),
    #[error(
        "invalid user id {0:?}: use 1-191 characters of letters, digits, '.', '_', '-', '@' or '+'"
    )]
    UserId(String),
    #[error("unknown migration state {0:?}")]
    State(String),
}

/// An e-mail address, trimmed and lower-cased (mail systems treat both parts
/// case-insensitively in practice, and the migration keys on one spelling).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_lowercase();
        let bad = || ParseError::Email(raw.to_string());
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains(char::is_whitespace)
            && !local.contains(['<', '>', '"', '\\', ',', ';', ':', '@', '(', ')', '[', ']']);
        if s.len() > 191 || !domain_ok || !local_ok {
            return Err(bad());
        }
        Ok(EmailAddress(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The immutable key of a user. The address may change; this never does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        let ok = !s.is_empty()
            && s.len() <= 191
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
        if ok {
            Ok(UserId(s.to_string()))
        } else {
            Err(ParseError::UserId(raw.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SlotId(pub i64);

/// Where a user stands in the migration (see DESIGN.md, user state machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    Imported,
    Provisioned,
    Preloading,
    Preloaded,
    Scheduled,
    CuttingOver,
    Switched,
    Migrated,
    Failed,
    RolledBack,
}

impl MigrationState {
    pub const ALL: [MigrationState; 10] = [
        Self::Imported,
        Self::Provisioned,
        Self::Preloading,
        Self::Preloaded,
        Self::Scheduled,
        Self::CuttingOver,
        Self::Switched,
        Self::Migrated,
        Self::Failed,
        Self::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::Provisioned => "provisioned",
            Self::Preloading => "preloading",
            Self::Preloaded => "preloaded",
            Self::Scheduled => "scheduled",
            Self::CuttingOver => "cutting_over",
            Self::Switched => "switched",
            Self::Migrated => "migrated",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ParseError::State(s.to_string()))
    }

    /// True once the LDAP flag points at the target: from here on the user is
    /// served by the new platform and nothing may flip them back on its own.
    pub fn is_switched(self) -> bool {
        matches!(self, Self::Switched | Self::Migrated)
    }

    /// A user may book (or re-book) a slot only before the cutover starts.
    pub fn can_book(self) -> bool {
        matches!(
            self,
            Self::Imported
                | Self::Provisioned
                | Self::Preloading
                | Self::Preloaded
                | Self::Scheduled
        )
    }
}

impl fmt::Display for MigrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            EmailAddress::parse(" Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "alice@exa_mple.com",
            "a@b@c",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn state_round_trips() {
        for s in MigrationState::ALL {
            assert_eq!(MigrationState::parse(s.as_str()).unwrap(), s);
        }
        assert!(MigrationState::parse("done").is_err());
    }

    #[test]
    fn user_id_rejects_spaces() {
        assert!(UserId::parse("u-1001").is_ok());
        assert!(UserId::parse("u 1").is_err());
        assert!(UserId::parse("").is_err());
    }
}
