//! One typed struct per configuration area. `examples/demo.toml` documents every key.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://cutover.db` (default) or `mysql://user:pass@host/db`.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://cutover.db".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (IMAPS, SMTPS).
    #[default]
    Tls,
    StartTls,
    /// Clear text; refused unless `allow_plaintext` is set.
    Plain,
}

/// How cutover itself reaches one side's IMAP (and ManageSieve) service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapServerConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub allow_plaintext: bool,
    /// Extra CA certificate (PEM) to trust, e.g. a private CA.
    pub ca_file: Option<PathBuf>,
    /// Master user; the engine logs in as `user` authorised by this master.
    pub master_user: String,
    #[serde(skip_serializing)]
    pub master_password: Option<SecretString>,
    pub master_password_file: Option<PathBuf>,
    /// ManageSieve port (filters connector).
    pub sieve_port: u16,
}

impl Default for ImapServerConfig {
    fn default() -> Self {
        ImapServerConfig {
            host: "127.0.0.1".into(),
            port: 993,
            security: Security::Tls,
            allow_plaintext: false,
            ca_file: None,
            master_user: String::new(),
            master_password: None,
            master_password_file: None,
            sieve_port: 4190,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapConfig {
    pub url: String,
    pub bind_dn: String,
    #[serde(skip_serializing)]
    pub bind_password: Option<SecretString>,
    pub bind_password_file: Option<PathBuf>,
    pub base_dn: String,
    /// `{email}` is replaced by the (escaped) address.
    pub user_filter: String,
    /// The attribute that routes a user: mail delivery, the IMAP proxy and autoconfig read it.
    pub flag_attribute: String,
    pub legacy_value: String,
    pub target_value: String,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            url: "ldap://127.0.0.1:389".into(),
            bind_dn: String::new(),
            bind_password: None,
            bind_password_file: None,
            base_dn: String::new(),
            user_filter: "(&(objectClass=inetLocalMailRecipient)(mail={email}))".into(),
            flag_attribute: "mailHost".into(),
            legacy_value: "legacy".into(),
            target_value: "target".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    pub listen: String,
    /// The URL users reach the portal at; links in e-mails point here.
    pub public_url: String,
    /// Mark cookies `Secure`. Browsers accept them on http://127.0.0.1 and
    /// http://localhost as well, so this stays on even for the demo.
    pub secure_cookies: bool,
    pub session_minutes: u32,
    /// Failed sign-ins allowed per address and per client IP within 15 minutes.
    pub login_attempts: u32,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            secure_cookies: true,
            session_minutes: 30,
            login_attempts: 5,
        }
    }
}

/// A server as mail clients should see it (public names, not the engine's view).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientServers {
    pub imap_host: String,
    pub imap_port: u16,
    pub imap_security: Security,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: Security,
}

impl Default for ClientServers {
    fn default() -> Self {
        ClientServers {
            imap_host: "imap.example.com".into(),
            imap_port: 993,
            imap_security: Security::Tls,
            smtp_host: "smtp.example.com".into(),
            smtp_port: 587,
            smtp_security: Security::StartTls,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoconfigConfig {
    pub listen: String,
    /// Mail domains served; requests for other domains get 404.
    pub domains: Vec<String>,
    pub display_name: String,
    pub legacy: ClientServers,
    pub target: ClientServers,
}

impl Default for AutoconfigConfig {
    fn default() -> Self {
        AutoconfigConfig {
            listen: "127.0.0.1:8081".into(),
            domains: vec!["example.com".into()],
            display_name: "Example Mail".into(),
            legacy: ClientServers::default(),
            target: ClientServers {
                imap_host: "imap.new.example.com".into(),
                smtp_host: "smtp.new.example.com".into(),
                ..ClientServers::default()
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailerConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: Security,
    pub allow_plaintext: bool,
    pub smtp_user: String,
    #[serde(skip_serializing)]
    pub smtp_password: Option<SecretString>,
    pub smtp_password_file: Option<PathBuf>,
    /// `Name <address>` used as the From of every notice.
    pub from: String,
    pub poll_interval_ms: u64,
    pub max_attempts: u32,
}

impl Default for MailerConfig {
    fn default() -> Self {
        MailerConfig {
            smtp_host: "127.0.0.1".into(),
            smtp_port: 587,
            smtp_security: Security::StartTls,
            allow_plaintext: false,
            smtp_user: String::new(),
            smtp_password: None,
            smtp_password_file: None,
            from: "Mail Migration <migration@example.com>".into(),
            poll_interval_ms: 1000,
            max_attempts: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Parallel migrations; admins can change it while the worker runs.
    pub concurrency: u32,
    pub poll_interval_ms: u64,
    /// Start the mailbox preload right after a profile import.
    pub preload_on_import: bool,
    /// Connections per side used by one mailbox copy.
    pub connections_per_side: u32,
    pub max_attempts: u32,
    /// First retry delay; it doubles with each attempt, up to one hour.
    pub retry_base_secs: u64,
    pub lease_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 4,
            poll_interval_ms: 1000,
            preload_on_import: true,
            connections_per_side: 4,
            max_attempts: 5,
            retry_base_secs: 30,
            lease_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CutoverConfig {
    /// Wait after the flag flip before the catch-up sync, so that MX/proxy
    /// caches have moved on and late mail on the legacy store is caught.
    pub propagation_secs: u64,
}

impl Default for CutoverConfig {
    fn default() -> Self {
        CutoverConfig {
            propagation_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlotsConfig {
    /// Slots are offered every `interval_minutes`, for `horizon_hours` ahead.
    pub interval_minutes: u32,
    pub horizon_hours: u32,
    /// Users per slot.
    pub capacity: u32,
    /// Earliest bookable slot, in minutes from now.
    pub lead_minutes: u32,
}

impl Default for SlotsConfig {
    fn default() -> Self {
        SlotsConfig {
            interval_minutes: 30,
            horizon_hours: 72,
            capacity: 50,
            lead_minutes: 60,
        }
    }
}
