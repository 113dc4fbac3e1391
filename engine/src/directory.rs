//! The LDAP directory: it holds the authoritative per-user migration flag that
//! mail routing, the IMAP proxy and autoconfig read.

use cutover_core::EmailAddress;
use cutover_core::config::LdapConfig;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry, ldap_escape};
use secrecy::ExposeSecret;
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("LDAP {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: ldap3::LdapError,
    },
    #[error("LDAP operation failed: {0}")]
    Ldap(#[from] ldap3::LdapError),
    #[error("no directory entry for {0}")]
    NoSuchUser(EmailAddress),
    #[error("{count} directory entries match {email}; refusing to guess")]
    Ambiguous { email: EmailAddress, count: usize },
}

/// Which platform the directory routes a user to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Legacy,
    Target,
    /// The attribute holds a value that is neither configured value.
    Other(String),
    /// The attribute is absent.
    Unset,
}

#[derive(Clone)]
pub struct Directory {
    ldap: Ldap,
    config: LdapConfig,
}

impl Directory {
    /// Connects and binds with the service account. The `Ldap` handle is
    /// multiplexed, so one `Directory` serves concurrent callers.
    pub async fn connect(config: &LdapConfig) -> Result<Directory, DirectoryError> {
        let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &config.url)
            .await
            .map_err(|source| DirectoryError::Connect {
                url: config.url.clone(),
                source,
            })?;
        ldap3::drive!(conn);
        if !config.bind_dn.is_empty() {
            let pw = config
                .bind_password
                .as_ref()
                .map(|p| p.expose_secret())
                .unwrap_or("");
            ldap.simple_bind(&config.bind_dn, pw).await?.success()?;
        }
        Ok(Directory {
            ldap,
            config: config.clone(),
        })
    }

    async fn find(&self, email: &EmailAddress) -> Result<SearchEntry, DirectoryError> {
        let filter = self
            .config
            .user_filter
            .replace("{email}", &ldap_escape(email.as_str()));
        let mut ldap = self.ldap.clone();
        let (entries, _) = ldap
            .search(
                &self.config.base_dn,
                Scope::Subtree,
                &filter,
                vec![self.config.flag_attribute.as_str()],
            )
            .await?
            .success()?;
        match entries.len() {
            0 => Err(DirectoryError::NoSuchUser(email.clone())),
            1 => Ok(SearchEntry::construct(
                entries
                    .into_iter()
                    .next()
                    .ok_or_else(|| DirectoryError::NoSuchUser(email.clone()))?,
            )),
            count => Err(DirectoryError::Ambiguous {
                email: email.clone(),
                count,
            }),
        }
    }

    fn route_of_entry(&self, entry: &SearchEntry) -> Route {
        // Attribute names come back in the server's spelling; compare case-insensitively.
        let value = entry
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.config.flag_attribute))
            .and_then(|(_, v)| v.first().cloned());
        match value {
            None => Route::Unset,
            Some(v) if v == self.config.target_value => Route::Target,
            Some(v) if v == self.config.legacy_value => Route::Legacy,
            Some(v) => Route::Other(v),
        }
    }

    pub async fn route(&self, email: &EmailAddress) -> Result<Route, DirectoryError> {
        let entry = self.find(email).await?;
        Ok(self.route_of_entry(&entry))
    }

    /// Points the user at the target platform. Idempotent: flipping a user who
    /// is already on the target changes nothing.
    pub async fn flip_to_target(&self, email: &EmailAddress) -> Result<(), DirectoryError> {
        self.set_route(email, &self.config.target_value.clone())
            .await
    }

    /// Points the user back at the legacy platform (admin rollback only).
    pub async fn flip_to_legacy(&self, email: &EmailAddress) -> Result<(), DirectoryError> {
        self.set_route(email, &self.config.legacy_value.clone())
            .await
    }

    async fn set_route(&self, email: &EmailAddress, value: &str) -> Result<(), DirectoryError> {
        let entry = self.find(email).await?;
        let mut ldap = self.ldap.clone();
        let values = HashSet::from([value]);
        ldap.modify(
            &entry.dn,
            vec![Mod::Replace(self.config.flag_attribute.as_str(), values)],
        )
        .await?
        .success()?;
        Ok(())
    }
}
