//! CONDSTORE deltas and chunked folder scans of `cutover copy`.

use crate::copy::{USER, assert_same, copy, db, endpoint, fingerprint, servers};
use crate::copy_errors::{messages, write_messages};
use cutover_core::db::Db;
use cutover_engine::copy::{CopyOptions, CopyReport, FolderReport, NoProgress, sync_mailbox};
use cutover_engine::imap::{AppendMessage, Session, StoreMode};
use cutover_testkit::{Dovecot, DovecotOptions};

const LATE: &[u8] = b"From: late@example.com\r\nSubject: arrived later\r\nMessage-ID: <late@example.com>\r\nDate: Wed, 5 Jan 2022 10:00:00 +0000\r\n\r\nnew\r\n";

fn inbox(r: &CopyReport) -> FolderReport {
    r.folders
        .iter()
        .find(|f| f.source == "INBOX")
        .unwrap()
        .clone()
}

async fn copy_with(db: &Db, legacy: &Dovecot, target: &Dovecot, opts: &CopyOptions) -> CopyReport {
    let (src, tgt) = (endpoint(legacy, USER), endpoint(target, USER));
    let report = sync_mailbox(db, "alice", &src, &tgt, opts, &NoProgress)
        .await
        .expect("copy runs");
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    report
}

/// On the source INBOX: flag `flag_uid`, append one message, expunge `gone_uid`.
async fn change_source(legacy: &Dovecot, flag_uid: u32, late: bool, gone_uid: Option<u32>) {
    let mut s = Session::connect(&endpoint(legacy, USER)).await.unwrap();
    if late {
        let m = [AppendMessage {
            flags: &[],
            internal_date: None,
            body: LATE,
        }];
        s.append_many("INBOX", &m)
            .await
            .unwrap()
            .pop()
            .unwrap()
            .unwrap();
    }
    s.select("INBOX", false).await.unwrap();
    s.uid_store(&flag_uid.to_string(), &["\\Flagged".into()], StoreMode::Add)
        .await
        .unwrap();
    if let Some(g) = gone_uid {
        s.uid_store(&g.to_string(), &["\\Deleted".into()], StoreMode::Add)
            .await
            .unwrap();
        s.uid_expunge(&g.to_string()).await.unwrap();
    }
    s.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_after_one_flag_change_reads_only_that_message() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    write_messages(&tmp.path().join("mail/INBOX"), &messages("INBOX", 2000));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    let first = copy(&db, &legacy, &target).await;
    assert_eq!(first.messages_copied, 2000);
    assert_eq!(
        inbox(&first).scanned,
        2000,
        "the first pass reads every message"
    );

    change_source(&legacy, 1234, false, None).await;
    let second = copy(&db, &legacy, &target).await;
    assert_eq!(second.messages_copied, 0, "{second:#?}");
    assert_eq!(inbox(&second).flags_updated, 1, "{second:#?}");
    assert_eq!(
        inbox(&second).scanned,
        1,
        "only the changed message: {second:#?}"
    );
    assert_same(
        &fingerprint(&endpoint(&legacy, USER)).await,
        &fingerprint(&endpoint(&target, USER)).await,
    );

    // New mail, a flag change and an expunge in one delta.
    change_source(&legacy, 7, true, Some(1500)).await;
    let third = copy(&db, &legacy, &target).await;
    assert_eq!(third.messages_copied, 1, "{third:#?}");
    assert_eq!(inbox(&third).flags_updated, 1, "{third:#?}");
    assert_eq!(inbox(&third).expunged, 1, "{third:#?}");
    assert_eq!(
        inbox(&third).scanned,
        2,
        "the flag change and the new message"
    );
    assert_same(
        &fingerprint(&endpoint(&legacy, USER)).await,
        &fingerprint(&endpoint(&target, USER)).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_scanned_in_small_chunks_copies_and_deltas_the_same() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    write_messages(&tmp.path().join("mail/INBOX"), &messages("INBOX", 700));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    // 700 messages in chunks of 64: eleven metadata FETCHes, four in flight.
    let opts = CopyOptions {
        scan_chunk: 64,
        ..CopyOptions::default()
    };
    let first = copy_with(&db, &legacy, &target, &opts).await;
    assert_eq!(first.messages_copied, 700);
    assert_eq!(inbox(&first).scanned, 700);
    assert_same(
        &fingerprint(&endpoint(&legacy, USER)).await,
        &fingerprint(&endpoint(&target, USER)).await,
    );

    change_source(&legacy, 300, true, Some(650)).await;
    let second = copy_with(&db, &legacy, &target, &opts).await;
    assert_eq!(second.messages_copied, 1, "{second:#?}");
    assert_eq!(inbox(&second).flags_updated, 1, "{second:#?}");
    assert_eq!(inbox(&second).expunged, 1, "{second:#?}");
    assert_same(
        &fingerprint(&endpoint(&legacy, USER)).await,
        &fingerprint(&endpoint(&target, USER)).await,
    );
}
