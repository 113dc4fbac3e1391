//! Crash safety of `cutover copy`: the process killed with SIGKILL at random
//! points, then rerun, leaves every source message on the target exactly once;
//! a rerun after the sync state was lost adopts by headers with multiplicity.

use crate::copy::{USER, assert_same, endpoint, fingerprint, servers, test_corpus};
use crate::copy_errors::{copy_command, run_json, write_messages};
use cutover_engine::imap::{FetchItems, Session, StoreMode, uid_set};
use cutover_testkit::{Dovecot, DovecotOptions, generate_mail};
use std::path::Path;
use std::time::{Duration, Instant};

/// A small xorshift generator seeded per run; the seed is printed so a failing
/// run can be replayed with `CUTOVER_CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("CUTOVER_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| u64::from_str_radix(&cutover_testkit::random_token(8), 16).unwrap());
        eprintln!("crash seed {seed} (CUTOVER_CRASH_SEED to replay)");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Messages on the target over all folders (doveadm, independent of our client).
fn target_count(target: &Dovecot) -> u64 {
    target
        .doveadm(&["mailbox", "status", "-u", USER, "messages", "*"])
        .unwrap()
        .lines()
        .filter_map(|l| l.rsplit_once("messages=")?.1.trim().parse::<u64>().ok())
        .sum()
}

/// When to kill a running copy.
enum KillAt {
    /// After this long (may land in login, planning or copying).
    Time(Duration),
    /// As soon as the target holds at least this many messages.
    Messages(u64),
}

/// Starts a copy and kills it with SIGKILL at `at`; false if it ended first.
fn kill_at(legacy: &Dovecot, target: &Dovecot, db: &Path, at: &KillAt) -> bool {
    let mut child = copy_command(legacy, target, db, &["--batch-messages", "25"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn cutover copy");
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let now = match at {
            KillAt::Time(d) => started.elapsed() >= *d,
            KillAt::Messages(n) => target_count(target) >= *n,
        };
        if now || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_then_rerun_copies_every_message_exactly_once() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mail = tmp.path().join("mail");
    test_corpus(&mail);
    generate_mail(&mail, "alice@example.com", "Alice Archer", 3000).unwrap();
    let loaded = legacy.load_maildir(USER, &mail).unwrap();
    let db = tmp.path().join("cutover.db");

    let mut rng = Rng::new();
    let mut kills = 0;
    let mut mid_copy = 0;
    let mut timeline = Vec::new();
    for round in 0..6 {
        let before = target_count(&target);
        let total = loaded.messages as u64;
        let at = if round % 3 == 2 {
            KillAt::Time(Duration::from_millis(20 + rng.below(300)))
        } else {
            KillAt::Messages(before + 1 + rng.below((total - before) / 3 + 1))
        };
        if !kill_at(&legacy, &target, &db, &at) {
            timeline.push("finished".to_owned());
            break;
        }
        kills += 1;
        let after = target_count(&target);
        timeline.push(format!("{before} -> {after}"));
        if after > before && after < total {
            mid_copy += 1;
        }
    }
    eprintln!("kills: {timeline:?}");
    assert!(
        mid_copy >= 2,
        "at least two kills must land in the middle of copying: {timeline:?}"
    );
    assert!(kills >= 2);

    let (code, json, stderr) = run_json(&mut copy_command(&legacy, &target, &db, &[]));
    assert_eq!(code, 0, "{json}\n{stderr}");
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    assert_eq!(src.values().map(Vec::len).sum::<usize>(), loaded.messages);
    assert_same(&src, &dst);
    let (code, json, _) = run_json(&mut copy_command(&legacy, &target, &db, &[]));
    assert_eq!(code, 0);
    assert_eq!(json["messages_copied"], 0, "{json}");
}

/// Exact duplicates with and without Message-ID, three of each.
fn twins(n: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..n {
        let mid = if i % 2 == 0 {
            format!("Message-ID: <twin{i}@example.com>\r\n")
        } else {
            String::new()
        };
        let body = format!(
            "From: twin@example.com\r\nSubject: twin {i}\r\n{mid}Date: Tue, 4 Jan 2022 {:02}:{:02}:00 +0000\r\n\r\nthe same text {i}\r\n",
            i / 60,
            i % 60
        );
        for copy in 0..3 {
            out.push((format!("{i}-{copy}"), body.clone().into_bytes()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_state_after_a_partial_copy_adopts_duplicates_with_multiplicity() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mail = tmp.path().join("mail");
    write_messages(&mail.join("INBOX"), &twins(200));
    let loaded = legacy.load_maildir(USER, &mail).unwrap();
    assert_eq!(loaded.messages, 600);

    // Killed in the middle, then the database is gone.
    // 600 small messages copy in well under a second, so a kill can land
    // after the end; then the target is emptied and the copy tried again.
    let db = tmp.path().join("cutover.db");
    let mut rng = Rng::new();
    let mut landed = Vec::new();
    for _ in 0..5 {
        let at = KillAt::Messages(1 + rng.below(300));
        let killed = kill_at(&legacy, &target, &db, &at);
        let n = target_count(&target);
        landed.push(n);
        // A kill during login may come before the database file exists.
        let _ = std::fs::remove_file(&db);
        if killed && n > 0 && n < 600 {
            break;
        }
        target
            .doveadm(&["expunge", "-u", USER, "mailbox", "INBOX", "all"])
            .unwrap();
    }
    let n = *landed.last().unwrap();
    assert!(
        n > 0 && n < 600,
        "no kill landed in the middle of the copy: {landed:?}"
    );
    let (code, json, stderr) = run_json(&mut copy_command(&legacy, &target, &db, &[]));
    assert_eq!(code, 0, "{json}\n{stderr}");
    let src = fingerprint(&endpoint(&legacy, USER)).await;
    assert_same(&src, &fingerprint(&endpoint(&target, USER)).await);

    // One of each triple gone from the target, and whole triples too: a fresh
    // state adopts the rest and copies exactly the missing ones.
    let mut t = Session::connect(&endpoint(&target, USER)).await.unwrap();
    t.select("INBOX", false).await.unwrap();
    let uids = t.uid_search_all().await.unwrap();
    let gone: Vec<u32> = uids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 1 || (30..36).contains(i))
        .map(|(_, u)| *u)
        .collect();
    let set = uid_set(&gone);
    t.uid_store(&set, &["\\Deleted".into()], StoreMode::Add)
        .await
        .unwrap();
    t.uid_expunge(&set).await.unwrap();
    assert_eq!(
        t.uid_fetch("1:*", FetchItems::Flags, None)
            .await
            .unwrap()
            .len(),
        600 - gone.len()
    );
    t.logout().await;
    std::fs::remove_file(&db).unwrap();
    let (code, json, stderr) = run_json(&mut copy_command(&legacy, &target, &db, &[]));
    assert_eq!(code, 0, "{json}\n{stderr}");
    assert_eq!(json["messages_copied"], gone.len() as u64, "{json}");
    assert_same(&src, &fingerprint(&endpoint(&target, USER)).await);
}
