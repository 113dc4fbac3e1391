use crate::legacy::{ImapLegacyLogin, LegacyLogin};
use crate::limiter::AttemptLimiter;
use cutover_core::config::Config;
use cutover_core::db::Db;
use std::sync::Arc;
use std::time::Duration;

/// Window in which `portal.login_attempts` failed sign-ins are allowed.
const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct PortalState {
    pub(crate) db: Db,
    pub(crate) config: Arc<Config>,
    pub(crate) legacy: Arc<dyn LegacyLogin>,
    pub(crate) limiter: Arc<AttemptLimiter>,
}

impl PortalState {
    /// Checks sign-ins against the legacy IMAP server from `config.legacy`.
    pub fn new(db: Db, config: Arc<Config>) -> Self {
        let legacy = Arc::new(ImapLegacyLogin::from_config(&config.legacy));
        Self::with_legacy(db, config, legacy)
    }

    /// Same as [`PortalState::new`] with another way to check legacy passwords.
    pub fn with_legacy(db: Db, config: Arc<Config>, legacy: Arc<dyn LegacyLogin>) -> Self {
        let limiter = Arc::new(AttemptLimiter::new(
            config.portal.login_attempts,
            LOGIN_WINDOW,
        ));
        PortalState {
            db,
            config,
            legacy,
            limiter,
        }
    }
}
