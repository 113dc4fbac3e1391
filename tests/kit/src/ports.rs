//! Port allocation: fixed demo ports or free loopback ports.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// Ports handed out by this process, so two servers started at the same time
/// never get the same "free" port.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Finds a free port on 127.0.0.1 by binding port 0.
pub fn free_port() -> anyhow::Result<u16> {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if guard.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port found on 127.0.0.1")
}

/// The given port, or a free one.
pub(crate) fn port_or_free(port: Option<u16>) -> anyhow::Result<u16> {
    port.map_or_else(free_port, Ok)
}

/// Ports of a [`crate::Stack`]; `None` means "pick a free one".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ports {
    pub legacy_imap: Option<u16>,
    pub legacy_sieve: Option<u16>,
    pub target_imap: Option<u16>,
    pub target_sieve: Option<u16>,
    pub ldap: Option<u16>,
    pub radicale: Option<u16>,
    pub smtp: Option<u16>,
}

impl Ports {
    /// The fixed ports of the demo stack (documented in the README; keep them).
    pub const DEMO: Ports = Ports {
        legacy_imap: Some(14143),
        legacy_sieve: Some(14190),
        target_imap: Some(15143),
        target_sieve: Some(15190),
        ldap: Some(13389),
        radicale: Some(15232),
        smtp: Some(12525),
    };

    /// Free ports, for tests.
    pub fn random() -> Self {
        Ports::default()
    }

    /// The fixed demo ports ([`Ports::DEMO`]).
    pub const fn demo() -> Self {
        Ports::DEMO
    }
}
