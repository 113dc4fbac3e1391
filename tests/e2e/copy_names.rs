//! Folder mapping on real Dovecots: separator and `INBOX.` prefix translation in
//! both directions, modified UTF-7 names, awkward characters, `\Noselect`
//! parents, special-use and subscriptions.

use crate::copy::{USER, assert_same, copy, db, endpoint, fingerprint, servers, write_folder};
use cutover_engine::imap::Session;
use cutover_testkit::DovecotOptions;
use std::path::Path;

const NAMES: [&str; 7] = [
    "Entwürfe",
    "日本語",
    "A&B",
    "with space",
    "100%",
    "star*",
    "parent/child",
];

fn message(i: usize, folder: &str) -> Vec<u8> {
    format!(
        "From: x@example.com\r\nSubject: {folder} {i}\r\nMessage-ID: <{i}.{}@example.com>\r\nDate: Mon, 3 Jan 2022 10:00:0{i} +0000\r\n\r\nbody {i}\r\n",
        folder.len()
    )
    .into_bytes()
}

fn tree(root: &Path, extra: &[&str]) {
    for folder in NAMES.iter().chain(extra).chain(&["INBOX"]) {
        let msgs: Vec<(String, Vec<u8>)> = (0..3)
            .map(|i| (i.to_string(), message(i, folder)))
            .collect();
        let msgs: Vec<(&str, &[u8])> = msgs
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        write_folder(&root.join(folder), &msgs);
    }
}

async fn subscriptions(ep: &cutover_engine::imap::Endpoint) -> Vec<String> {
    let mut s = Session::connect(ep).await.unwrap();
    let mut l = s.lsub().await.unwrap();
    l.sort();
    s.logout().await;
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotted_inbox_prefix_legacy_to_slash_target_with_special_use() {
    let legacy_opts = DovecotOptions {
        separator: '.',
        inbox_prefix: true,
        extra_conf:
            "namespace inbox {\n  mailbox \"Sent Items\" {\n    special_use = \\Sent\n  }\n}\n"
                .into(),
        ..DovecotOptions::legacy()
    };
    let target_opts = DovecotOptions {
        separator: '/',
        ..DovecotOptions::target()
    };
    let (legacy, target) = servers(legacy_opts, target_opts).await;
    let tmp = tempfile::tempdir().unwrap();
    tree(&tmp.path().join("mail"), &["Sent Items"]);
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;

    let first = copy(&db, &legacy, &target).await;
    assert_eq!(first.messages_copied, 3 * 9, "{first:#?}");
    let mut src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    // The legacy "Sent Items" (\Sent) lands in the target's own \Sent folder.
    let sent = src.remove("Sent Items").expect("legacy Sent Items");
    assert_eq!(dst["Sent"], sent);
    assert!(!dst.contains_key("Sent Items"));
    assert_same(&src, &dst);
    for name in NAMES {
        assert_eq!(dst[name].len(), 3, "{name}");
    }

    let subs = subscriptions(&endpoint(&target, USER)).await;
    for want in [
        "Entw&APw-rfe",
        "&ZeVnLIqe-",
        "A&-B",
        "with space",
        "parent/child",
    ] {
        assert!(
            subs.iter().any(|s| s == want),
            "{want} subscribed on target: {subs:?}"
        );
    }
    let second = copy(&db, &legacy, &target).await;
    assert_eq!(second.messages_copied, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_legacy_to_dotted_inbox_prefix_target() {
    let target_opts = DovecotOptions {
        separator: '.',
        inbox_prefix: true,
        ..DovecotOptions::target()
    };
    let (legacy, target) = servers(DovecotOptions::legacy(), target_opts).await;
    let tmp = tempfile::tempdir().unwrap();
    tree(&tmp.path().join("mail"), &[]);
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;

    let first = copy(&db, &legacy, &target).await;
    assert_eq!(first.messages_copied, 3 * 8, "{first:#?}");
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    assert_same(&src, &dst);
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    let names: Vec<String> = t
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    t.logout().await;
    for want in ["INBOX.Entw&APw-rfe", "INBOX.parent.child", "INBOX.A&-B"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert_eq!(copy(&db, &legacy, &target).await.messages_copied, 0);
}
