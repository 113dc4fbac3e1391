//! The "Login" part of the copy contract on real servers: implicit TLS and
//! STARTTLS with certificate checks, plain text only on request, own password
//! and master user, XOAUTH2/OAUTHBEARER with tokens re-read on every connect.

use crate::copy::{USER, write_folder};
use crate::support::{fingerprint, master_endpoint, total_messages};
use cutover_engine::imap::{Auth, Endpoint, ImapError, Security, Session};
use cutover_testkit::{Dovecot, DovecotOptions, DovecotTls, TestCa};
use std::path::Path;
use std::process::Command;

const PASSWORD: &str = "alice-pw";

fn cutover(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
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

/// Three small folders: INBOX, Work, Work/2024.
fn small_mailbox(root: &Path, tag: &str) {
    for (folder, n) in [("INBOX", 2), ("Work", 2), ("Work/2024", 1)] {
        let msgs: Vec<(String, Vec<u8>)> = (0..n)
            .map(|i| {
                let body = format!(
                    "From: a@example.com\r\nTo: alice@example.com\r\nSubject: {tag} {folder} {i}\r\n\
                     Message-ID: <{tag}-{i}-{}@example.com>\r\nDate: Mon, 3 Jan 2022 10:00:0{i} +0000\r\n\r\nhello\r\n",
                    folder.replace('/', "-")
                );
                (format!("{tag}{i}"), body.into_bytes())
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = msgs
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        write_folder(&root.join(folder), &refs);
    }
}

fn tls_dovecot(opts: DovecotOptions, ca: &TestCa) -> Dovecot {
    let d = Dovecot::start(DovecotOptions {
        tls: Some(DovecotTls::from_ca(ca)),
        ..opts
    })
    .expect("Dovecot with TLS must start");
    d.add_user(USER, PASSWORD).unwrap();
    d
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaps_and_starttls_verify_the_certificate() {
    let ca = TestCa::generate().unwrap();
    let legacy = tls_dovecot(DovecotOptions::legacy(), &ca);
    let target = tls_dovecot(DovecotOptions::target(), &ca);
    let tmp = tempfile::tempdir().unwrap();
    small_mailbox(&tmp.path().join("mail"), "tls");
    let loaded = legacy.load_maildir(USER, &tmp.path().join("mail")).unwrap();
    let master_pw = tmp.path().join("master-pw");
    std::fs::write(&master_pw, format!("{}\n", legacy.master_password)).unwrap();
    let imaps_port = legacy.imaps_port.expect("imaps listener");
    let source = format!("imaps://{USER}@127.0.0.1:{imaps_port}");
    let target_url = format!("imap://{USER}@127.0.0.1:{}", target.imap_port);
    let database = format!("sqlite://{}", tmp.path().join("cutover.db").display());
    let ca_file = ca.ca_cert.to_str().unwrap();
    let env = [("CUTOVER_TARGET_PASSWORD", PASSWORD)];
    // Source: implicit TLS as the master user; target: STARTTLS with the
    // user's own password (LOGIN).
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "copy",
            "--json",
            "--source",
            &source,
            "--target",
            &target_url,
            "--source-master",
            &legacy.master_user,
            "--source-password-file",
            master_pw.to_str().unwrap(),
            "--database",
            &database,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        cutover(&refs, &env)
    };

    // Without the CA: the private certificate is refused, naming the host.
    let (code, out, err) = run(&[]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("certificate") && err.contains("127.0.0.1"),
        "clear certificate error naming the host: {err}"
    );

    let (code, out, err) = run(&["--ca-file", ca_file]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)["messages_copied"], loaded.messages as u64);

    // The copy really went through: the target holds every message.
    let got = fingerprint(&Endpoint {
        ca_file: Some(ca.ca_cert.clone()),
        security: Security::StartTls,
        ..master_endpoint(&target, USER)
    })
    .await;
    assert_eq!(total_messages(&got), loaded.messages);

    // The same servers in plain text, only because the operator asked for it.
    let plain_source = format!("imap://{USER}@127.0.0.1:{}", legacy.imap_port);
    let mut a = args(&["--allow-plaintext"]);
    a[3] = plain_source;
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, out, err) = cutover(&refs, &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)["messages_skipped"], loaded.messages as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_starttls_means_no_login() {
    // A server without TLS does not offer STARTTLS.
    let plain = Dovecot::start(DovecotOptions::legacy()).expect("Dovecot must start");
    plain.add_user(USER, PASSWORD).unwrap();

    let ep = Endpoint {
        host: "127.0.0.1".into(),
        port: plain.imap_port,
        security: Security::StartTls,
        auth: Auth::Login {
            user: USER.into(),
            password: PASSWORD.to_owned().into(),
        },
        ca_file: None,
    };
    let err = Session::connect(&ep)
        .await
        .expect_err("no silent downgrade");
    assert!(matches!(err, ImapError::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");

    // Through the CLI: imap:// without --allow-plaintext insists on STARTTLS.
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("imap://{USER}@127.0.0.1:{}", plain.imap_port);
    let database = format!("sqlite://{}", tmp.path().join("cutover.db").display());
    let (code, out, err) = cutover(
        &[
            "copy",
            "--source",
            &url,
            "--target",
            &url,
            "--database",
            &database,
        ],
        &[
            ("CUTOVER_SOURCE_PASSWORD", PASSWORD),
            ("CUTOVER_TARGET_PASSWORD", PASSWORD),
        ],
    );
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("STARTTLS"), "{err}");
    // The password never went over the wire: no authentication reached the server.
    let log = plain.log();
    assert!(
        !log.contains(&format!("user=<{USER}>")),
        "no login attempt expected:\n{log}"
    );
}
