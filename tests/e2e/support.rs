//! Helpers shared by the end-to-end tests.

use cutover_engine::imap::{Auth, Endpoint, Security};
use cutover_testkit::Dovecot;

/// An IMAP endpoint logging in to `dovecot` as its master user on behalf of `user`.
pub fn master_endpoint(dovecot: &Dovecot, user: &str) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        port: dovecot.imap_port,
        security: Security::Plain,
        auth: Auth::Master {
            user: user.into(),
            master: dovecot.master_user.clone(),
            password: dovecot.master_password.clone().into(),
        },
        ca_file: None,
    }
}

pub use crate::copy::{Fingerprint, fingerprint};

pub fn total_messages(fp: &Fingerprint) -> usize {
    fp.values().map(Vec::len).sum()
}

/// Asserts two fingerprints are equal, naming the first difference per folder.
pub fn assert_same_mailbox(legacy: &Fingerprint, target: &Fingerprint) {
    let mut problems = Vec::new();
    for (folder, msgs) in legacy {
        match target.get(folder) {
            None => problems.push(format!(
                "{folder}: missing on target ({} messages)",
                msgs.len()
            )),
            Some(t) if t != msgs => {
                let missing: Vec<_> = msgs.iter().filter(|m| !t.contains(m)).take(3).collect();
                let extra: Vec<_> = t.iter().filter(|m| !msgs.contains(m)).take(3).collect();
                problems.push(format!(
                    "{folder}: {} on legacy, {} on target; e.g. only on legacy {missing:?}, only on target {extra:?}",
                    msgs.len(),
                    t.len()
                ));
            }
            Some(_) => {}
        }
    }
    // The target platform may create its default folders; they must not hold
    // anything that did not come from the source.
    for (folder, msgs) in target.iter().filter(|(f, _)| !legacy.contains_key(*f)) {
        if !msgs.is_empty() {
            problems.push(format!(
                "{folder}: only on target, with {} messages",
                msgs.len()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "mailboxes differ:\n{}",
        problems.join("\n")
    );
}

/// Runs the real `cutover` binary with `args`; the caller's own password
/// variables are dropped first so that only `env` counts.
pub fn run_cutover(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(args)
        .env_remove("CUTOVER_SOURCE_PASSWORD")
        .env_remove("CUTOVER_TARGET_PASSWORD")
        .envs(env.iter().copied())
        .env(
            "CUTOVER_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .output()
        .expect("run cutover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
