//! Helpers shared by the end-to-end tests.

use cutover_engine::imap::{Auth, Endpoint, FetchItems, Security, Session};
use cutover_testkit::Dovecot;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

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

/// What a mailbox looks like through IMAP: per folder, the sorted list of
/// (sha256 of BODY[], size, flags without \Recent, INTERNALDATE).
pub type Fingerprint = BTreeMap<String, Vec<(String, usize, Vec<String>, String)>>;

pub async fn fingerprint(ep: &Endpoint) -> Fingerprint {
    let mut s = Session::connect(ep).await.expect("login");
    let mut out = Fingerprint::new();
    for entry in s.list().await.expect("LIST") {
        if !entry.is_selectable() {
            continue;
        }
        let sel = s.select(&entry.name, true).await.expect("EXAMINE");
        let mut msgs = Vec::new();
        if sel.exists > 0 {
            let meta = s
                .uid_fetch("1:*", FetchItems::Meta, None)
                .await
                .expect("FETCH meta");
            let bodies = s
                .uid_fetch("1:*", FetchItems::Body, None)
                .await
                .expect("FETCH body");
            let body_of: BTreeMap<u32, Vec<u8>> = bodies
                .into_iter()
                .map(|f| (f.uid.unwrap(), f.body.unwrap()))
                .collect();
            for m in meta {
                let body = &body_of[&m.uid.unwrap()];
                let mut flags: Vec<String> = m
                    .flags
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|f| f != "\\Recent")
                    .collect();
                flags.sort();
                msgs.push((
                    hex::encode(Sha256::digest(body)),
                    body.len(),
                    flags,
                    m.internal_date.map(|d| d.to_rfc3339()).unwrap_or_default(),
                ));
            }
        }
        msgs.sort();
        out.insert(entry.name.clone(), msgs);
    }
    s.logout().await;
    out
}

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
