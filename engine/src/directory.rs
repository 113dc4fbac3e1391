//! The LDAP directory: it holds the authoritative per-user migration flag that
//! mail routing, the IMAP proxy and autoconfig read.

use cutover_core::EmailAddress;
use cutover_core::config::LdapConfig;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry, ldap_escape};
use secrecy::ExposeSecret;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

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

/// A shared, bound connection to the directory. The `Ldap` handle is
/// multiplexed, so one `Directory` serves concurrent callers; when the server
/// drops the connection (restart, idle timeout) the next call reconnects.
#[derive(Clone)]
pub struct Directory {
    ldap: Arc<RwLock<Ldap>>,
    config: LdapConfig,
}

async fn open(config: &LdapConfig) -> Result<Ldap, DirectoryError> {
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
    Ok(ldap)
}

/// Errors of the transport rather than of the request: worth one reconnect.
fn is_connection_error(e: &ldap3::LdapError) -> bool {
    use ldap3::LdapError as E;
    matches!(
        e,
        E::Io { .. } | E::OpSend { .. } | E::ResultRecv { .. } | E::EndOfStream | E::Timeout { .. }
    )
}

impl Directory {
    /// Connects and binds with the service account.
    pub async fn connect(config: &LdapConfig) -> Result<Directory, DirectoryError> {
        let ldap = open(config).await?;
        Ok(Directory {
            ldap: Arc::new(RwLock::new(ldap)),
            config: config.clone(),
        })
    }

    async fn search(&self, filter: &str) -> Result<Vec<ldap3::ResultEntry>, DirectoryError> {
        let attrs = vec![self.config.flag_attribute.as_str()];
        let base = self.config.base_dn.as_str();
        let mut ldap = self.ldap.read().await.clone();
        let res = match ldap
            .search(base, Scope::Subtree, filter, attrs.clone())
            .await
        {
            Err(e) if is_connection_error(&e) => {
                tracing::warn!(error = %e, "directory connection lost; reconnecting");
                let mut fresh = open(&self.config).await?;
                *self.ldap.write().await = fresh.clone();
                fresh.search(base, Scope::Subtree, filter, attrs).await?
            }
            other => other?,
        };
        let (entries, _) = res.success()?;
        Ok(entries)
    }

    async fn find(&self, email: &EmailAddress) -> Result<SearchEntry, DirectoryError> {
        let filter = self
            .config
            .user_filter
            .replace("{email}", &ldap_escape(email.as_str()));
        let entries = self.search(&filter).await?;
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
        // find() has just refreshed the connection if it had dropped.
        let entry = self.find(email).await?;
        let mut ldap = self.ldap.read().await.clone();
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
