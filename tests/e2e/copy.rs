//! `cutover copy` core contract on real Dovecots: a full copy is byte-identical
//! with flags and INTERNALDATE kept, across separator translation, and a second
//! run copies nothing.

use cutover_core::db::Db;
use cutover_engine::copy::{CopyOptions, CopyReport, NoProgress, sync_mailbox};
use cutover_engine::imap::{Auth, Endpoint, FetchItems, Security, Session, mutf7};
use cutover_testkit::{Dovecot, DovecotOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const USER: &str = "alice";

pub fn endpoint(d: &Dovecot, user: &str) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        port: d.imap_port,
        security: Security::Plain,
        auth: Auth::Master {
            user: user.into(),
            master: d.master_user.clone(),
            password: d.master_password.clone().into(),
        },
        ca_file: None,
    }
}

/// The 43 MIT-licensed fixture messages shipped with the project (malformed
/// MIME, bare LF, no Message-ID, 8-bit headers).
pub fn corpus_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-mail")
}

/// Copies `from` (a maildir tree) to `to`, recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// Writes one maildir folder `dir/cur` with the given messages.
pub fn write_folder(dir: &Path, msgs: &[(&str, &[u8])]) {
    std::fs::create_dir_all(dir.join("cur")).unwrap();
    for (name, body) in msgs {
        std::fs::write(dir.join("cur").join(name), body).unwrap();
    }
}

/// The fixtures plus true duplicates and look-alikes without Message-ID.
pub fn test_corpus(root: &Path) {
    copy_tree(&corpus_fixtures(), &root.join("fixtures"));
    let twin: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: twin\r\nMessage-ID: <twin@example.com>\r\nDate: Mon, 3 Jan 2022 10:00:00 +0000\r\n\r\nsame\r\n";
    let quota = |pct: &str| {
        format!("From: admin@example.com\r\nSubject: quota warning\r\nDate: Tue, 4 Jan 2022 10:00:00 +0000\r\n\r\nYour mailbox is now {pct}% full.\r\n").into_bytes()
    };
    let (q80, q90) = (quota("80"), quota("90"));
    write_folder(
        &root.join("dups"),
        &[
            ("1", twin),
            ("2", twin),
            ("3", &q80),
            ("4", &q90),
            ("5", &q80),
        ],
    );
    write_folder(&root.join("INBOX"), &[("1", twin)]);
}

/// Per folder (by UTF-8 display path with '/'): sorted (sha256 of BODY[], size,
/// flags without \Recent, INTERNALDATE).
pub type Fingerprint = BTreeMap<String, Vec<(String, usize, Vec<String>, String)>>;

pub async fn fingerprint(ep: &Endpoint) -> Fingerprint {
    let mut s = Session::connect(ep).await.expect("login");
    let ns = s.namespace().await.expect("NAMESPACE").expect("namespace");
    let sep = ns.delimiter.unwrap_or('/');
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
                assert_eq!(
                    body.len(),
                    m.size.unwrap() as usize,
                    "RFC822.SIZE vs BODY[]"
                );
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
                    m.internal_date.unwrap().to_rfc3339(),
                ));
            }
        }
        msgs.sort();
        let rel = entry.name.strip_prefix(&ns.prefix).unwrap_or(&entry.name);
        let name: Vec<String> = rel
            .split(sep)
            .map(|c| mutf7::decode(c).unwrap_or_else(|| c.into()))
            .collect();
        out.insert(name.join("/"), msgs);
    }
    s.logout().await;
    out
}

pub async fn copy(db: &Db, legacy: &Dovecot, target: &Dovecot) -> CopyReport {
    let opts = CopyOptions::default();
    let report = sync_mailbox(
        db,
        "alice",
        &endpoint(legacy, USER),
        &endpoint(target, USER),
        &opts,
        &NoProgress,
    )
    .await
    .expect("copy runs");
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    report
}

/// Every source folder is on the target with the same messages.
pub fn assert_same(source: &Fingerprint, target: &Fingerprint) {
    for (folder, msgs) in source {
        let Some(t) = target.get(folder) else {
            panic!(
                "folder {folder:?} missing on target; target has {:?}",
                target.keys().collect::<Vec<_>>()
            )
        };
        assert_eq!(msgs.len(), t.len(), "count in {folder}");
        assert_eq!(msgs, t, "messages (bytes, flags, INTERNALDATE) in {folder}");
    }
}

pub async fn servers(legacy: DovecotOptions, target: DovecotOptions) -> (Dovecot, Dovecot) {
    let l = Dovecot::start(legacy).expect("legacy Dovecot must start");
    let t = Dovecot::start(target).expect("target Dovecot must start");
    l.add_user(USER, "alice-pw").unwrap();
    t.add_user(USER, "alice-pw").unwrap();
    (l, t)
}

pub async fn db(dir: &Path) -> Db {
    let db = Db::connect(&format!("sqlite://{}", dir.join("cutover.db").display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_copy_is_identical_and_second_run_copies_nothing() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    test_corpus(&tmp.path().join("mail"));
    let loaded = legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    assert_eq!(loaded.messages, 43 + 6, "{loaded:?}");
    let db = db(tmp.path()).await;

    let first = copy(&db, &legacy, &target).await;
    assert_eq!(first.messages_copied, loaded.messages as u64);
    assert_eq!(first.messages_skipped, 0);
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    let total: usize = src.values().map(Vec::len).sum();
    assert_eq!(total, loaded.messages);
    assert_eq!(
        first.bytes,
        src.values().flatten().map(|m| m.1 as u64).sum::<u64>()
    );
    assert_eq!(src["dups"].len(), 5, "duplicates are all copied");
    assert!(src["fixtures/malformed"].len() > 10);
    assert_same(&src, &dst);
    let per_folder: BTreeMap<&str, u64> = first
        .folders
        .iter()
        .map(|f| (f.source.as_str(), f.copied))
        .collect();
    for (folder, msgs) in &src {
        assert_eq!(
            per_folder.get(folder.as_str()).copied(),
            Some(msgs.len() as u64),
            "{folder}"
        );
    }

    let second = copy(&db, &legacy, &target).await;
    assert_eq!(second.messages_copied, 0, "{second:#?}");
    assert_eq!(second.messages_skipped, loaded.messages as u64);
    assert_eq!(fingerprint(&endpoint(&target, USER)).await, dst);
}
