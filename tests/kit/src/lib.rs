//! Real servers on loopback for tests and for the demo stack.
//!
//! There is one implementation of "start server X": the integration tests and
//! `cutover-stack demo` both use this crate. Every server runs as a child
//! process in its own world-traversable temp dir under [`BASE_DIR`], listens on
//! 127.0.0.1 only, and is killed when its handle is dropped. A server that does
//! not come up makes `start` fail with the server's log in the error.

mod dovecot;
mod maildir;
mod mailgen;
mod mariadb;
mod oauth;
mod ports;
pub mod probe;
mod process;
mod radicale;
mod slapd;
mod smtp;
mod stack;
mod tls;

pub use dovecot::{Dovecot, DovecotOptions, DovecotTls};
pub use maildir::{FALLBACK_DATE, LoadStats};
pub use mailgen::{GeneratedMail, generate_mail};
pub use mariadb::MariaDb;
pub use oauth::{OAuthTokens, OIDC_PROVIDER_VERSION, OidcProvider};
pub use ports::{Ports, free_port};
pub use radicale::Radicale;
pub use slapd::{Slapd, SlapdOptions};
pub use smtp::{ReceivedMail, SmtpSink};
pub use stack::{
    DEMO_LDAP_ADMIN_PASSWORD, DEMO_MASTER_PASSWORD, DEMO_USERS, DemoUser, Stack, demo_users_csv,
};
pub use tls::TestCa;

use anyhow::Context as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// All server directories live below this world-writable base. A `mktemp -d`
/// parent (mode 0700) would lock out the daemons' unprivileged workers.
pub const BASE_DIR: &str = "/tmp/cutover-kit";

/// Creates a fresh, world-traversable directory `BASE_DIR/<prefix>-XXXXXX`.
/// Set `CUTOVER_KIT_KEEP=1` to keep it after the server stops (for debugging).
pub(crate) fn server_dir(prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    let base = Path::new(BASE_DIR);
    if !base.exists() {
        std::fs::create_dir_all(base).with_context(|| format!("create {BASE_DIR}"))?;
        // sticky + world-writable like /tmp, so that several users can share it
        let _ = std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o1777));
    }
    let mut dir = tempfile::Builder::new()
        .prefix(&format!("{prefix}-"))
        .tempdir_in(base)
        .with_context(|| format!("create a temp dir in {BASE_DIR}"))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod 755 {}", dir.path().display()))?;
    if std::env::var_os("CUTOVER_KIT_KEEP").is_some_and(|v| v == "1") {
        dir.disable_cleanup(true);
    }
    Ok(dir)
}

/// Writes a file readable by everybody (daemons read configs after dropping privileges).
pub(crate) fn write_public(path: &Path, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("chmod {}", path.display()))
}

/// A random hex string for throwaway test secrets and names.
pub fn random_token(bytes: usize) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(bytes * 2);
    out
}

/// Reads a log file for an error message (never fails; a missing log says so).
pub(crate) fn read_log(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(b) => {
            let s = String::from_utf8_lossy(&b);
            // keep errors readable: the tail is what matters
            let tail: Vec<&str> = s.lines().rev().take(200).collect();
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

/// Runs a command to completion; on failure the error carries its output.
pub(crate) fn run_cmd(cmd: &mut std::process::Command) -> anyhow::Result<String> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("run {cmd:?}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether this process runs as root (daemons then drop to other users).
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
