//! IMAP endpoints for one user, built from the configuration: the engine logs
//! in to both sides as the configured master user on behalf of the user.

use crate::imap::{Auth, Endpoint, Security};
use cutover_core::config::{ImapServerConfig, Security as CfgSecurity};
use secrecy::SecretString;

fn endpoint(server: &ImapServerConfig, user: &str) -> Endpoint {
    let security = match server.security {
        CfgSecurity::Tls => Security::Tls,
        CfgSecurity::StartTls => Security::StartTls,
        CfgSecurity::Plain => Security::Plain,
    };
    Endpoint {
        host: server.host.clone(),
        port: server.port,
        security,
        auth: Auth::Master {
            user: user.to_string(),
            master: server.master_user.clone(),
            password: server
                .master_password
                .clone()
                .unwrap_or_else(|| SecretString::from(String::new())),
        },
        ca_file: server.ca_file.clone(),
    }
}

pub fn legacy_endpoint(config: &cutover_core::config::Config, user: &str) -> Endpoint {
    endpoint(&config.legacy, user)
}

pub fn target_endpoint(config: &cutover_core::config::Config, user: &str) -> Endpoint {
    endpoint(&config.target, user)
}
