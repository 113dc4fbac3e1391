//! Deltas, crash safety and verification of `cutover copy` on real Dovecots.

use crate::copy::{USER, assert_same, copy, db, endpoint, fingerprint, servers, test_corpus};
use cutover_core::db::sync_state::{FolderMarks, MessageRow, SyncStateRepo};
use cutover_engine::copy::verify;
use cutover_engine::imap::{AppendMessage, FetchItems, Session, StoreMode, uid_set};
use cutover_testkit::DovecotOptions;

const LATE: &[u8] = b"From: late@example.com\r\nSubject: arrived after the preload\r\nMessage-ID: <late@example.com>\r\nDate: Wed, 5 Jan 2022 10:00:00 +0000\r\n\r\nnew\r\n";
const LOCAL: &[u8] = b"From: me@example.com\r\nSubject: only on the target\r\nDate: Thu, 6 Jan 2022 10:00:00 +0000\r\n\r\nmine\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_copies_new_mail_flag_changes_and_expunges_only() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    test_corpus(&tmp.path().join("mail"));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    let first = copy(&db, &legacy, &target).await;
    assert!(first.messages_copied > 40);

    // Source: new mail, a flag change with a keyword, one expunge.
    let mut s = Session::connect(&endpoint(&legacy, USER)).await.unwrap();
    let flags = vec!["\\Seen".to_owned()];
    let late = [AppendMessage {
        flags: &flags,
        internal_date: None,
        body: LATE,
    }];
    s.append_many("INBOX", &late)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    s.select("fixtures/malformed", false).await.unwrap();
    s.uid_store("1", &["\\Flagged".into(), "$Label1".into()], StoreMode::Add)
        .await
        .unwrap();
    s.uid_store("2", &["\\Seen".into()], StoreMode::Remove)
        .await
        .unwrap();
    s.select("dups", false).await.unwrap();
    let dups = s.uid_search_all().await.unwrap();
    s.uid_store(&dups[0].to_string(), &["\\Deleted".into()], StoreMode::Add)
        .await
        .unwrap();
    s.uid_expunge(&dups[0].to_string()).await.unwrap();
    s.logout().await;
    // Target: mail that exists only there must survive every delta.
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    let local = [AppendMessage {
        flags: &[],
        internal_date: None,
        body: LOCAL,
    }];
    t.append_many("INBOX", &local)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    t.logout().await;

    let second = copy(&db, &legacy, &target).await;
    assert_eq!(second.messages_copied, 1, "{second:#?}");
    let by_folder = |name: &str| {
        second
            .folders
            .iter()
            .find(|f| f.source == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_folder("fixtures/malformed").flags_updated, 2);
    assert_eq!(by_folder("dups").expunged, 1);

    let src = fingerprint(&endpoint(&legacy, USER)).await;
    let mut dst = fingerprint(&endpoint(&target, USER)).await;
    assert_eq!(dst["dups"].len(), 4);
    // Remove the target-only message before comparing INBOX.
    let inbox = dst.get_mut("INBOX").unwrap();
    assert_eq!(inbox.len(), src["INBOX"].len() + 1, "target-only mail kept");
    inbox.retain(|m| m.1 != LOCAL.len());
    assert_same(&src, &dst);

    let third = copy(&db, &legacy, &target).await;
    assert_eq!(third.messages_copied, 0);
    assert!(
        third
            .folders
            .iter()
            .all(|f| f.flags_updated == 0 && f.expunged == 0),
        "{third:#?}"
    );

    let v = verify(&endpoint(&legacy, USER), &endpoint(&target, USER))
        .await
        .unwrap();
    assert!(v.ok, "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_append_is_looked_up_not_appended_again() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    test_corpus(&tmp.path().join("mail"));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    copy(&db, &legacy, &target).await;
    let before = fingerprint(&endpoint(&target, USER)).await;

    // Crash after APPEND landed but before it was recorded: rows back in flight.
    // Crash before APPEND landed: row in flight, message absent on the target.
    for folder in db.sync_folders("alice").await.unwrap() {
        let rows: Vec<MessageRow> = db
            .sync_messages(folder.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.source_uid <= 3)
            .map(|r| MessageRow {
                target_uid: None,
                ..r
            })
            .collect();
        db.put_messages(folder.id, &rows).await.unwrap();
        let marks = FolderMarks {
            source_uidnext: folder.source_uidnext,
            source_messages: folder.source_messages,
            source_modseq: folder.source_modseq,
            complete: false,
        };
        db.mark_folder(folder.id, marks).await.unwrap();
    }
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    t.select("fixtures.thirdparty", false).await.unwrap();
    let uids = t.uid_search_all().await.unwrap();
    let gone = uid_set(&uids[..2]);
    t.uid_store(&gone, &["\\Deleted".into()], StoreMode::Add)
        .await
        .unwrap();
    t.uid_expunge(&gone).await.unwrap();
    t.logout().await;

    let rerun = copy(&db, &legacy, &target).await;
    let thirdparty = rerun
        .folders
        .iter()
        .find(|f| f.source == "fixtures/thirdparty")
        .unwrap();
    assert_eq!(thirdparty.copied, 2, "{rerun:#?}");
    assert_eq!(
        rerun.messages_copied, 2,
        "only the two that never landed: {rerun:#?}"
    );
    assert_eq!(fingerprint(&endpoint(&target, USER)).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_state_adopts_by_headers_without_duplicates() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    test_corpus(&tmp.path().join("mail"));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db1 = db(tmp.path()).await;
    copy(&db1, &legacy, &target).await;
    let before = fingerprint(&endpoint(&target, USER)).await;

    let other = tempfile::tempdir().unwrap();
    let fresh = db(other.path()).await;
    let again = copy(&fresh, &legacy, &target).await;
    assert_eq!(again.messages_copied, 0, "{again:#?}");
    assert!(again.folders.iter().map(|f| f.adopted).sum::<u64>() > 40);
    assert_eq!(fingerprint(&endpoint(&target, USER)).await, before);

    // Verify notices a message missing on the target.
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    t.select("dups", false).await.unwrap();
    let meta = t.uid_fetch("1:*", FetchItems::Meta, None).await.unwrap();
    let uid = meta[0].uid.unwrap().to_string();
    t.uid_store(&uid, &["\\Deleted".into()], StoreMode::Add)
        .await
        .unwrap();
    t.uid_expunge(&uid).await.unwrap();
    t.logout().await;
    let v = verify(&endpoint(&legacy, USER), &endpoint(&target, USER))
        .await
        .unwrap();
    assert!(!v.ok);
    assert_eq!(v.missing_on_target, 1, "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_target_appendlimit_are_reported_the_rest_copied() {
    let target_opts = DovecotOptions {
        extra_conf: "imap_capability = +APPENDLIMIT=300\n".into(),
        ..DovecotOptions::target()
    };
    let (legacy, target) = servers(DovecotOptions::legacy(), target_opts).await;
    let tmp = tempfile::tempdir().unwrap();
    let small: &[u8] = b"From: a@example.com\r\nSubject: small\r\nDate: Mon, 3 Jan 2022 10:00:00 +0000\r\n\r\nhi\r\n";
    let big = [small, &[b'x'; 400][..], b"\r\n"].concat();
    crate::copy::write_folder(&tmp.path().join("mail/INBOX"), &[("1", small), ("2", &big)]);
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    let report = cutover_engine::copy::sync_mailbox(
        &db,
        "alice",
        &endpoint(&legacy, USER),
        &endpoint(&target, USER),
        &cutover_engine::copy::CopyOptions::default(),
        &cutover_engine::copy::NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(report.messages_copied, 1, "{report:#?}");
    assert_eq!(report.errors.len(), 1, "{report:#?}");
    assert_eq!(report.errors[0].uid, Some(2));
    assert!(
        report.errors[0].reason.contains("APPENDLIMIT"),
        "{report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_limit_on_the_target_means_fewer_workers_not_failed_folders() {
    let target_opts = DovecotOptions {
        extra_conf: "mail_max_userip_connections = 2\n".into(),
        ..DovecotOptions::target()
    };
    let (legacy, target) = servers(DovecotOptions::legacy(), target_opts).await;
    let tmp = tempfile::tempdir().unwrap();
    test_corpus(&tmp.path().join("mail"));
    let loaded = legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    let opts = cutover_engine::copy::CopyOptions {
        concurrency: 4,
        ..Default::default()
    };
    let report = cutover_engine::copy::sync_mailbox(
        &db,
        "alice",
        &endpoint(&legacy, USER),
        &endpoint(&target, USER),
        &opts,
        &cutover_engine::copy::NoProgress,
    )
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{report:#?}");
    assert_eq!(report.messages_copied, loaded.messages as u64);
    assert_same(
        &fingerprint(&endpoint(&legacy, USER)).await,
        &fingerprint(&endpoint(&target, USER)).await,
    );
}
