//! Messages, flags, deltas and the field failures of other tools
//! (research/imap-migration.md §3) on real Dovecots, one small input each.

use crate::copy::{
    USER, assert_same, copy, db, endpoint, fingerprint, servers, test_corpus, write_folder,
};
use crate::copy_errors::{copy_command, messages, run_json, write_messages};
use cutover_core::db::Db;
use cutover_core::db::sync_state::{FolderMarks, MessageRow, SyncStateRepo};
use cutover_engine::copy::{CopyOptions, CopyReport, Progress, sync_mailbox, verify};
use cutover_engine::imap::{AppendMessage, Session, StoreMode};
use cutover_testkit::{Dovecot, DovecotOptions};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

async fn copy_report(
    db: &Db,
    legacy: &Dovecot,
    target: &Dovecot,
    opts: &CopyOptions,
) -> CopyReport {
    sync_mailbox(
        db,
        "alice",
        &endpoint(legacy, USER),
        &endpoint(target, USER),
        opts,
        &cutover_engine::copy::NoProgress,
    )
    .await
    .expect("copy runs")
}

/// A message of about `mib` MiB: headers and one base64 attachment of
/// pseudo-random data (76-character lines).
fn big_message(mib: usize) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = b"From: big@example.com\r\nTo: alice@example.com\r\nSubject: a big attachment\r\nMessage-ID: <big@example.com>\r\nDate: Mon, 3 Jan 2022 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n\r\n".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < mib * 1024 * 1024 {
        for _ in 0..76 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push(ALPHABET[(x >> 58) as usize]);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--b--\r\n");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_message_is_byte_identical_and_memory_stays_bounded() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mail = tmp.path().join("mail");
    let big = big_message(50);
    assert!(big.len() > 50_000_000);
    write_folder(&mail.join("INBOX"), &[("big", &big)]);
    write_messages(&mail.join("INBOX"), &messages("INBOX", 3));
    legacy.load_maildir(USER, &mail).unwrap();

    let copy = copy_command(&legacy, &target, &tmp.path().join("cutover.db"), &[]);
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-v")
        .arg(copy.get_program())
        .args(copy.get_args());
    for (k, v) in copy.get_envs() {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    let (code, json, stderr) = run_json(&mut timed);
    assert_eq!(code, 0, "{json}\n{stderr}");
    assert_eq!(json["messages_copied"], 4);
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    assert!(src["INBOX"].iter().any(|m| m.1 == big.len()));
    assert_same(&src, &dst);
    let rss_kib: u64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no max RSS from /usr/bin/time -v: {stderr}"));
    assert!(
        rss_kib < 64 * 1024,
        "peak RSS {rss_kib} KiB copying a {} byte message (limit 64 MiB)",
        big.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_bit_headers_bare_lf_duplicates_and_no_message_id_are_copied_as_served() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let eight_bit: &[u8] = "From: Jürgen Weiß <j@example.de>\r\nSubject: Grüße aus Köln – 日本\r\nMessage-ID: <8bit@example.de>\r\nDate: Mon, 3 Jan 2022 10:00:00 +0000\r\n\r\nHallo\r\n".as_bytes();
    let bare_lf: &[u8] = b"From: unix@example.com\nSubject: bare LF\nMessage-ID: <lf@example.com>\nDate: Mon, 3 Jan 2022 11:00:00 +0000\n\nline one\nline two\n";
    let no_id: &[u8] =
        b"From: a@example.com\r\nSubject: no id\r\nDate: Mon, 3 Jan 2022 12:00:00 +0000\r\n\r\nx\r\n";
    write_folder(
        &tmp.path().join("mail/INBOX"),
        &[
            ("1", eight_bit),
            ("2", bare_lf),
            ("3", no_id),
            ("4", no_id),
            ("5", eight_bit),
        ],
    );
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    let report = copy(&db, &legacy, &target).await;
    assert_eq!(report.messages_copied, 5);
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    assert_same(&src, &dst);
    assert_eq!(dst["INBOX"].len(), 5, "duplicates are both copied");
}

const FLAGGED: &[&str] = &[
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Draft",
    "$Forwarded",
    "NonJunk",
    "$Label1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_and_keywords_are_kept_a_refused_flag_is_reported_never_the_message_lost() {
    // The source accepts 200-character keywords; the target keeps the default 50.
    let legacy_opts = DovecotOptions {
        extra_conf: "mail_max_keyword_length = 200\n".into(),
        ..DovecotOptions::legacy()
    };
    let (legacy, target) = servers(legacy_opts, DovecotOptions::target()).await;
    let long_kw = format!("Long{}", "x".repeat(60));
    let mut s = Session::connect(&endpoint(&legacy, USER)).await.unwrap();
    s.create("flags").await.unwrap();
    let sets: Vec<Vec<String>> = vec![
        FLAGGED.iter().map(|f| (*f).to_owned()).collect(),
        vec!["\\Seen".into()],
        vec![],
        vec!["\\Seen".into(), "xfwdx".into(), "NonJunk".into()],
        vec!["\\Flagged".into(), long_kw.clone()],
    ];
    let bodies: Vec<Vec<u8>> = (0..sets.len())
        .map(|i| format!("From: f@example.com\r\nSubject: flags {i}\r\nMessage-ID: <flags{i}@example.com>\r\nDate: Mon, 3 Jan 2022 10:00:0{i} +0000\r\n\r\nbody\r\n").into_bytes())
        .collect();
    let appends: Vec<AppendMessage> = sets
        .iter()
        .zip(&bodies)
        .map(|(f, b)| AppendMessage {
            flags: f,
            internal_date: None,
            body: b,
        })
        .collect();
    for r in s.append_many("flags", &appends).await.unwrap() {
        r.unwrap();
    }
    s.logout().await;
    // imapsync FAQ.Flags: servers that invent backslash keywords like \FORWARDED.
    // Dovecot serves whatever its keyword file names.
    let folder = legacy.home(USER).join("Maildir/flags");
    let kw = std::fs::read_to_string(folder.join("dovecot-keywords")).unwrap();
    std::fs::write(
        folder.join("dovecot-keywords"),
        kw.replace("xfwdx", "\\FORWARDED"),
    )
    .unwrap();
    for e in std::fs::read_dir(&folder).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("dovecot.index") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    assert!(
        src["flags"]
            .iter()
            .any(|m| m.2.contains(&"\\FORWARDED".to_owned())),
        "{:?}",
        src["flags"]
    );

    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let report = copy_report(&db, &legacy, &target, &CopyOptions::default()).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    assert_eq!(
        dst.get("flags").map(Vec::len),
        Some(sets.len()),
        "no message lost because of a flag: {report:#?}"
    );
    let refused = ["\\FORWARDED".to_owned(), long_kw.clone()];
    let mut expected = src["flags"].clone();
    for m in &mut expected {
        m.2.retain(|f| !refused.contains(f));
    }
    assert_eq!(dst["flags"], expected, "bytes, kept flags and INTERNALDATE");
    let folder = report.folders.iter().find(|f| f.source == "flags").unwrap();
    for flag in &refused {
        assert!(
            folder.refused_flags.contains(flag)
                || report
                    .errors
                    .iter()
                    .any(|e| e.reason.contains(flag.as_str())),
            "{flag} reported as refused: {report:#?}"
        );
    }
    let again = copy_report(&db, &legacy, &target, &CopyOptions::default()).await;
    assert!(
        again.errors.is_empty(),
        "reported once: {:#?}",
        again.errors
    );
    assert_eq!(again.messages_copied, 0);
    assert_eq!(
        fingerprint(&endpoint(&target, USER)).await["flags"],
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_uidvalidity_change_adopts_the_copies_and_leaves_target_only_mail_alone() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    test_corpus(&tmp.path().join("mail"));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    copy(&db, &legacy, &target).await;
    let local: &[u8] = b"From: me@example.com\r\nSubject: only on the target\r\nDate: Thu, 6 Jan 2022 10:00:00 +0000\r\n\r\nmine\r\n";
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    for folder in ["INBOX", "dups"] {
        t.append_many(
            folder,
            &[AppendMessage {
                flags: &[],
                internal_date: None,
                body: local,
            }],
        )
        .await
        .unwrap();
    }
    t.logout().await;
    let before = fingerprint(&endpoint(&target, USER)).await;

    for (i, folder) in ["INBOX", "dups", "fixtures/malformed"].iter().enumerate() {
        legacy
            .doveadm(&[
                "mailbox",
                "update",
                "-u",
                USER,
                "--uid-validity",
                &(1000 + i).to_string(),
                folder,
            ])
            .unwrap();
    }
    let again = copy(&db, &legacy, &target).await;
    assert_eq!(again.messages_copied, 0, "{again:#?}");
    assert!(
        again.folders.iter().map(|f| f.adopted).sum::<u64>() >= 5 + 1 + 20,
        "{again:#?}"
    );
    assert!(again.folders.iter().all(|f| f.expunged == 0), "{again:#?}");
    assert_eq!(fingerprint(&endpoint(&target, USER)).await, before);
    assert_eq!(copy(&db, &legacy, &target).await.messages_copied, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_change_alone_propagates_through_condstore() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    write_messages(&tmp.path().join("mail/INBOX"), &messages("INBOX", 5));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    copy(&db, &legacy, &target).await;

    let mut s = Session::connect(&endpoint(&legacy, USER)).await.unwrap();
    let sel = s.select("INBOX", false).await.unwrap();
    assert!(sel.highest_modseq.is_some(), "the source has CONDSTORE");
    s.uid_store(
        "2",
        &["\\Flagged".into(), "$Important".into()],
        StoreMode::Add,
    )
    .await
    .unwrap();
    s.logout().await;
    let second = copy(&db, &legacy, &target).await;
    assert_eq!(second.messages_copied, 0);
    assert_eq!(
        second.folders.iter().map(|f| f.flags_updated).sum::<u64>(),
        1,
        "{second:#?}"
    );
    assert_same(
        &fingerprint(&endpoint(&legacy, USER)).await,
        &fingerprint(&endpoint(&target, USER)).await,
    );
}

/// §3 #1: same headers, same size, no Message-ID, different bodies. After the
/// sync state is lost, adoption must not take one for the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookalikes_without_message_id_both_survive_lost_state() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let quota = |pct: &str| {
        format!("From: admin@example.com\r\nSubject: quota warning\r\nDate: Tue, 4 Jan 2022 10:00:00 +0000\r\n\r\nYour mailbox is now {pct}% full.\r\n").into_bytes()
    };
    write_folder(
        &tmp.path().join("mail/INBOX"),
        &[("1", &quota("80")), ("2", &quota("90"))],
    );
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let first = db(tmp.path()).await;
    copy(&first, &legacy, &target).await;
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    assert_same(&src, &fingerprint(&endpoint(&target, USER)).await);

    // The copy of the first one (lowest UID) is lost on the target, and so is the state.
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    t.select("INBOX", false).await.unwrap();
    let uids = t.uid_search_all().await.unwrap();
    let first_uid = uids[0].to_string();
    t.uid_store(&first_uid, &["\\Deleted".into()], StoreMode::Add)
        .await
        .unwrap();
    t.uid_expunge(&first_uid).await.unwrap();
    t.logout().await;
    // Verify sees the loss although the survivor has the same headers and size.
    let v = verify(&endpoint(&legacy, USER), &endpoint(&target, USER))
        .await
        .unwrap();
    assert!(!v.ok, "{v:#?}");
    assert_eq!(v.missing_on_target, 1, "{v:#?}");
    let other = tempfile::tempdir().unwrap();
    let fresh = db(other.path()).await;
    let again = copy(&fresh, &legacy, &target).await;
    assert_eq!(again.messages_copied, 1, "{again:#?}");
    assert_same(&src, &fingerprint(&endpoint(&target, USER)).await);
    let v = verify(&endpoint(&legacy, USER), &endpoint(&target, USER))
        .await
        .unwrap();
    assert!(v.ok && v.missing_on_target == 0, "{v:#?}");

    // What the header-only pairing left behind (90% twice, 80% missing) is not
    // complete either, although the counts of (Date, size) agree.
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    t.select("INBOX", false).await.unwrap();
    let uids = t.uid_search_all().await.unwrap();
    assert_eq!(uids.len(), 2, "{uids:?}");
    let eighty = uids[1].to_string(); // appended by the second run
    t.uid_store(&eighty, &["\\Deleted".into()], StoreMode::Add)
        .await
        .unwrap();
    t.uid_expunge(&eighty).await.unwrap();
    t.unselect().await.unwrap();
    let ninety = quota("90");
    for r in t
        .append_many(
            "INBOX",
            &[AppendMessage {
                flags: &[],
                internal_date: None,
                body: &ninety,
            }],
        )
        .await
        .unwrap()
    {
        r.unwrap();
    }
    t.logout().await;
    let v = verify(&endpoint(&legacy, USER), &endpoint(&target, USER))
        .await
        .unwrap();
    assert!(!v.ok, "{v:#?}");
    assert_eq!(v.missing_on_target, 1, "{v:#?}");
}

/// The in-flight rows of two lookalikes (same headers and size, no Message-ID)
/// after a crash where only the second APPEND landed: each row is resolved by
/// content, so the first message is appended, never the second one again.
/// Candidates bigger than a batch are compared piece by piece.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_lookalikes_are_resolved_by_content() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let quota = |pct: &str| {
        format!("From: admin@example.com\r\nSubject: quota warning\r\nDate: Tue, 4 Jan 2022 10:00:00 +0000\r\n\r\nYour mailbox is now {pct}% full.\r\n").into_bytes()
    };
    write_folder(
        &tmp.path().join("mail/INBOX"),
        &[("1", &quota("80")), ("2", &quota("90"))],
    );
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    copy(&db, &legacy, &target).await;
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    assert_same(&src, &fingerprint(&endpoint(&target, USER)).await);

    for folder in db.sync_folders("alice").await.unwrap() {
        let rows: Vec<MessageRow> = db
            .sync_messages(folder.id)
            .await
            .unwrap()
            .into_iter()
            .map(|r| MessageRow {
                target_uid: None,
                ..r
            })
            .collect();
        assert_eq!(rows.len(), 2);
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
    t.select("INBOX", false).await.unwrap();
    let uids = t.uid_search_all().await.unwrap();
    let first_uid = uids[0].to_string();
    t.uid_store(&first_uid, &["\\Deleted".into()], StoreMode::Add)
        .await
        .unwrap();
    t.uid_expunge(&first_uid).await.unwrap();
    t.logout().await;

    // Batches smaller than a message: the candidates are compared piece by piece.
    let opts = CopyOptions {
        batch_bytes: 64,
        ..CopyOptions::default()
    };
    let again = copy_report(&db, &legacy, &target, &opts).await;
    assert!(again.errors.is_empty(), "{again:#?}");
    assert_eq!(again.messages_copied, 1, "{again:#?}");
    assert_same(&src, &fingerprint(&endpoint(&target, USER)).await);
    let v = verify(&endpoint(&legacy, USER), &endpoint(&target, USER))
        .await
        .unwrap();
    assert!(v.ok, "{v:#?}");
}

/// §3 #6 and #11: a name holding the target's separator is mapped and reported;
/// two source folders that land on one target name (`trash`/`Trash`, `v1.2`/
/// `v1_2`) are an error, never a silent merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separator_in_a_name_and_two_sources_onto_one_target_are_reported_not_merged() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mail = tmp.path().join("mail");
    for (folder, n) in [
        ("INBOX", 1),
        ("v1.2", 2),
        ("v1_2", 3),
        ("trash", 4),
        ("Trash", 5),
    ] {
        write_messages(&mail.join(folder), &messages(folder, n));
    }
    legacy.load_maildir(USER, &mail).unwrap();
    let (code, json, stderr) = run_json(&mut copy_command(
        &legacy,
        &target,
        &tmp.path().join("c.db"),
        &[],
    ));
    assert_ne!(code, 0, "{json}\n{stderr}");
    let errs: Vec<String> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}: {}", e["folder"], e["reason"]))
        .collect();
    assert!(
        errs.iter().any(|e| e.contains("v1.2")),
        "separator mapping reported: {errs:?}"
    );
    let collisions = errs.iter().filter(|e| e.contains("not copied")).count();
    assert_eq!(collisions, 2, "{errs:?}");

    let src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    // Each copied folder's target holds exactly its source's messages, and no
    // two copied folders share a target name (case-insensitively).
    let mut targets = std::collections::BTreeSet::new();
    for f in json["folders"].as_array().unwrap() {
        let (source, target) = (f["source"].as_str().unwrap(), f["target"].as_str().unwrap());
        assert!(
            targets.insert(target.to_lowercase()),
            "{target} twice: {json}"
        );
        assert_eq!(
            dst[target], src[source],
            "{source} -> {target}, not a merge"
        );
    }
    assert_eq!(targets.len(), 3, "INBOX and one of each pair: {json}");
    assert_eq!(dst["INBOX"], src["INBOX"]);
}

/// Expunges source UIDs with doveadm while the copy runs: on the first progress
/// call (after the UID listing, before any body fetch) and after the first batch.
struct ExpungeDuring {
    conf: PathBuf,
    calls: AtomicUsize,
    before_fetch: &'static str,
    mid_copy: &'static str,
}

impl ExpungeDuring {
    fn expunge(&self, uids: &str) {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(["expunge", "-u", USER, "mailbox", "INBOX", "uid", uids])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

impl Progress for ExpungeDuring {
    fn advanced(&self, _messages: u64, _bytes: u64) {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => self.expunge(self.before_fetch),
            2 => self.expunge(self.mid_copy),
            _ => {}
        }
    }
}

/// §3 #18 and #22: UIDs that vanish between listing and fetch, and EXPUNGEs that
/// arrive unsolicited in the middle of the fetches, are gone, not failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_messages_expunged_during_the_copy_are_gone_not_failed() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    write_messages(&tmp.path().join("mail/INBOX"), &messages("INBOX", 50));
    legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let db = db(tmp.path()).await;
    let opts = CopyOptions {
        batch_messages: 10,
        ..CopyOptions::default()
    };
    let progress = ExpungeDuring {
        conf: legacy.conf_path().to_owned(),
        calls: AtomicUsize::new(0),
        before_fetch: "5:6",
        mid_copy: "15,35:36",
    };
    let report = sync_mailbox(
        &db,
        "alice",
        &endpoint(&legacy, USER),
        &endpoint(&target, USER),
        &opts,
        &progress,
    )
    .await
    .expect("copy runs");
    assert!(progress.calls.load(Ordering::SeqCst) > 2);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    // 15 was fetched before it vanished, so it was copied; the next run deletes it.
    assert_eq!(report.messages_copied, 50 - 4, "{report:#?}");
    let second = copy_report(&db, &legacy, &target, &opts).await;
    assert!(second.errors.is_empty(), "{:#?}", second.errors);
    assert_eq!(second.messages_copied, 0);
    assert_same(
        &fingerprint(&endpoint(&legacy, USER)).await,
        &fingerprint(&endpoint(&target, USER)).await,
    );
}
