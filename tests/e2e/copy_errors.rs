//! Errors stay local: a folder the source cannot select, a folder the target
//! cannot create and a message the target refuses are reported with folder (and
//! UID) in the `--json` summary, everything else is copied, and the exit status
//! is non-zero.

use crate::copy::{USER, assert_same, endpoint, fingerprint, servers, write_folder};
use cutover_engine::imap::{FetchItems, Session};
use cutover_testkit::{Dovecot, DovecotOptions};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// `cutover copy --json` from `legacy` to `target` as their master users, with
/// the sync state in `db` (a file path), plus `extra` arguments.
pub fn copy_command(legacy: &Dovecot, target: &Dovecot, db: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
    cmd.arg("copy")
        .arg("--source")
        .arg(format!("imap://{USER}@127.0.0.1:{}", legacy.imap_port))
        .arg("--target")
        .arg(format!("imap://{USER}@127.0.0.1:{}", target.imap_port))
        .args(["--source-master", &legacy.master_user])
        .args(["--target-master", &target.master_user])
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .args(["--allow-plaintext", "--json"])
        .args(extra)
        .env("CUTOVER_SOURCE_PASSWORD", &legacy.master_password)
        .env("CUTOVER_TARGET_PASSWORD", &target.master_password)
        .env(
            "CUTOVER_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
        );
    cmd
}

/// Runs a copy command to its end: (exit code, the JSON summary, stderr).
pub fn run_json(cmd: &mut Command) -> (i32, Value, String) {
    let out = cmd.output().expect("run cutover copy");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("one JSON object ({e}): {stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// `n` small distinct messages for `folder`.
pub fn messages(folder: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("{i}"),
                format!(
                    "From: x@example.com\r\nSubject: {folder} {i}\r\nMessage-ID: <{i}.{}@example.com>\r\nDate: Mon, 3 Jan 2022 10:{i:02}:00 +0000\r\n\r\nbody {i}\r\n",
                    folder.replace(['/', ' '], "_")
                )
                .into_bytes(),
            )
        })
        .collect()
}

pub fn write_messages(dir: &Path, msgs: &[(String, Vec<u8>)]) {
    let refs: Vec<(&str, &[u8])> = msgs
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    write_folder(dir, &refs);
}

fn errors(json: &Value) -> Vec<(String, Option<u64>, String)> {
    json["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| {
            (
                e["folder"].as_str().unwrap_or_default().to_owned(),
                e["uid"].as_u64(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unselectable_source_and_uncreatable_target_folders_are_reported_the_rest_copied() {
    let (legacy, target) = servers(DovecotOptions::legacy(), DovecotOptions::target()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mail = tmp.path().join("mail");
    // On the legacy LAYOUT=fs store every level is its own directory; on the
    // Maildir++ target the whole path becomes one name, too long for the fs.
    let long: Vec<String> = ["a", "b", "c"].iter().map(|c| c.repeat(100)).collect();
    let long_path = long.join("/");
    for (folder, n) in [
        ("INBOX", 3),
        ("ok", 4),
        ("locked", 2),
        (long_path.as_str(), 2),
        ("zz after", 3),
    ] {
        write_messages(&mail.join(folder), &messages(folder, n));
    }
    legacy.load_maildir(USER, &mail).unwrap();
    // The mail processes run as another user: a mode 000 folder cannot be selected.
    let locked = legacy.home(USER).join("Maildir/locked");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();

    let db = tmp.path().join("cutover.db");
    let (code, json, stderr) = run_json(&mut copy_command(&legacy, &target, &db, &[]));
    assert_ne!(code, 0, "errors make the exit status non-zero: {json}");
    let errs = errors(&json);
    assert!(
        errs.iter().any(|e| e.0 == "locked" && e.1.is_none()),
        "locked folder reported: {errs:?}\n{stderr}"
    );
    assert!(
        errs.iter().any(|e| e.0 == long_path && e.1.is_none()),
        "uncreatable target folder reported: {errs:?}"
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(json["messages_copied"], 3 + 4 + 3, "{json}");

    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    assert!(!dst.contains_key("locked") || dst["locked"].is_empty());
    src.remove("locked");
    src.remove(&long_path);
    assert_same(&src, &dst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_target_refuses_is_reported_with_folder_and_uid_the_rest_copied() {
    let quota = "mail_plugins = $mail_plugins quota\nplugin {\n  quota = maildir:User quota\n  quota_max_mail_size = 100k\n}\n";
    let target_opts = DovecotOptions {
        extra_conf: quota.into(),
        ..DovecotOptions::target()
    };
    let (legacy, target) = servers(DovecotOptions::legacy(), target_opts).await;
    let tmp = tempfile::tempdir().unwrap();
    let mail = tmp.path().join("mail");
    let mut inbox = messages("INBOX", 6);
    inbox[3].1 = format!(
        "From: big@example.com\r\nSubject: too big for the target\r\nMessage-ID: <big@example.com>\r\nDate: Mon, 3 Jan 2022 10:03:00 +0000\r\n\r\n{}",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567\r\n"
            .repeat(3000)
    )
    .into_bytes();
    write_messages(&mail.join("INBOX"), &inbox);
    write_messages(&mail.join("other"), &messages("other", 4));
    legacy.load_maildir(USER, &mail).unwrap();
    let mut s = Session::connect(&endpoint(&legacy, USER)).await.unwrap();
    s.select("INBOX", true).await.unwrap();
    let big_uid = s
        .uid_fetch("1:*", FetchItems::Meta, None)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.size.unwrap() > 100_000)
        .and_then(|f| f.uid)
        .unwrap();
    s.logout().await;

    let db = tmp.path().join("cutover.db");
    for run in 0..2 {
        let (code, json, stderr) = run_json(&mut copy_command(&legacy, &target, &db, &[]));
        assert_ne!(code, 0, "run {run}: {json}\n{stderr}");
        let errs = errors(&json);
        assert_eq!(errs.len(), 1, "run {run}: {errs:?}");
        assert_eq!(errs[0].0, "INBOX");
        assert_eq!(errs[0].1, Some(u64::from(big_uid)), "{errs:?}");
        let expected_copied = if run == 0 { 5 + 4 } else { 0 };
        assert_eq!(
            json["messages_copied"], expected_copied,
            "run {run}: {json}"
        );
    }
    let mut src = fingerprint(&endpoint(&legacy, USER)).await;
    let dst = fingerprint(&endpoint(&target, USER)).await;
    src.get_mut("INBOX").unwrap().retain(|m| m.1 < 100_000);
    assert_same(&src, &dst);
}
