//! The "Login" part of the copy contract on real servers: implicit TLS and
//! STARTTLS with certificate checks, plain text only on request, own password
//! and master user, XOAUTH2/OAUTHBEARER with tokens re-read on every connect.

use crate::copy::{USER, write_folder};
use crate::support::{fingerprint, master_endpoint, total_messages};
use cutover_engine::imap::{
    Auth, Endpoint, ImapError, OAuthMechanism, Security, Session, TokenSource,
};
use cutover_testkit::{Dovecot, DovecotOptions, DovecotTls, OidcProvider, TestCa};
use std::path::Path;

const PASSWORD: &str = "alice-pw";

use crate::support::run_cutover as cutover;

/// Three small folders: INBOX, Work, Work/2024.
fn small_mailbox(root: &Path, tag: &str) {
    mailbox_with(root, tag, &[("INBOX", 2), ("Work", 2), ("Work/2024", 1)]);
}

fn mailbox_with(root: &Path, tag: &str, folders: &[(&str, usize)]) {
    for &(folder, n) in folders {
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

const EMAIL: &str = "alice@example.com";
const IDP_PASSWORD: &str = "alice-at-the-idp";

/// Each call hands out the next token (each from its own sign-in) and
/// revokes the one it handed out before, so only the newest token is valid:
/// a copy that reused an old token on a later connection would fail.
fn rotating_token_command(dir: &Path, idp: &OidcProvider, tokens: &[String]) -> String {
    for (i, t) in tokens.iter().enumerate() {
        std::fs::write(dir.join(format!("token.{}", i + 1)), t).unwrap();
    }
    let script = dir.join("rotate-token.sh");
    let body = r#"#!/bin/sh
set -eu
cd "DIR"
n=$(( $(cat calls 2>/dev/null || echo 0) + 1 )); echo "$n" > calls
if [ -f "token.$((n - 1))" ]; then
  curl -sSf -u cutover:cutover-secret --data-urlencode "token=$(cat "token.$((n - 1))")" "REVOKE" >/dev/null
fi
cat "token.$n"
"#
    .replace("DIR", dir.to_str().unwrap())
    .replace("REVOKE", &idp.revocation_url());
    std::fs::write(&script, body).unwrap();
    format!("sh {}", script.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_are_read_again_on_every_connect() {
    // TTL well above a run: expiry is exercised through revocation, which
    // introspection reports the same way (active: false).
    let idp = OidcProvider::start(&[(EMAIL, IDP_PASSWORD)], 600).expect("oidc-provider must start");
    let source = Dovecot::start(DovecotOptions {
        oauth2_introspection_url: Some(idp.introspection_url()),
        ..DovecotOptions::legacy()
    })
    .expect("Dovecot with the oauth2 passdb must start");
    source.add_user(EMAIL, "only-oauth-is-used").unwrap();
    let target = Dovecot::start(DovecotOptions::target()).expect("target Dovecot must start");
    target.add_user(USER, PASSWORD).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    small_mailbox(&tmp.path().join("mail"), "oauth");
    let loaded = source
        .load_maildir(EMAIL, &tmp.path().join("mail"))
        .unwrap();

    // Revoking a token revokes its whole grant: independent sign-ins.
    let tokens = idp.sign_in(EMAIL, IDP_PASSWORD).unwrap();
    let other = idp.sign_in(EMAIL, IDP_PASSWORD).unwrap();
    let token_file = tmp.path().join("access-token");
    std::fs::write(&token_file, format!("{}\n", tokens.access_token)).unwrap();

    // The engine reads the token file on every connect, with either mechanism.
    let ep = |mechanism| Endpoint {
        host: "127.0.0.1".into(),
        port: source.imap_port,
        security: Security::Plain,
        auth: Auth::OAuth {
            user: EMAIL.into(),
            token: TokenSource::File(token_file.clone()),
            mechanism,
        },
        ca_file: None,
    };
    let s = Session::connect(&ep(OAuthMechanism::XOAuth2))
        .await
        .expect("XOAUTH2 login");
    s.logout().await;
    idp.revoke(&tokens.access_token).unwrap();
    let err = Session::connect(&ep(OAuthMechanism::OAuthBearer))
        .await
        .expect_err("a revoked token must not log in");
    assert!(err.is_auth_failure(), "{err:?}");
    std::fs::write(&token_file, &other.access_token).unwrap();
    let s = Session::connect(&ep(OAuthMechanism::OAuthBearer))
        .await
        .expect("OAUTHBEARER with the rewritten token file");
    s.logout().await;

    // The CLI with a token file holding a refreshed token.
    let refreshed = idp.refresh(&other.refresh_token).unwrap();
    std::fs::write(&token_file, &refreshed).unwrap();
    let target_pw = tmp.path().join("target-pw");
    std::fs::write(&target_pw, PASSWORD).unwrap();
    let source_url = format!("imap://alice%40example.com@127.0.0.1:{}", source.imap_port);
    let target_url = format!("imap://{USER}@127.0.0.1:{}", target.imap_port);
    let database = format!("sqlite://{}", tmp.path().join("cutover.db").display());
    let base: Vec<String> = [
        "copy",
        "--json",
        "--allow-plaintext",
        "--source",
        &source_url,
        "--target",
        &target_url,
        "--target-password-file",
        target_pw.to_str().unwrap(),
        "--database",
        &database,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
        a.extend(extra);
        cutover(&a, &[])
    };
    let (code, out, err) = run(&["--source-oauth-token-file", token_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}\n{}", source.log());
    assert_eq!(json(&out)["messages_copied"], loaded.messages as u64);

    // The CLI with a token command that rotates the token on every call:
    // every connection must fetch its own. Two folders to copy and two workers
    // give two source connections one after the other: the planning one
    // (reused by the first worker), then the second worker's.
    mailbox_with(
        &tmp.path().join("more"),
        "later",
        &[("Later", 2), ("Later/Still", 1)],
    );
    let more = source
        .load_maildir(EMAIL, &tmp.path().join("more"))
        .unwrap();
    let rot = tmp.path().join("rotation");
    std::fs::create_dir(&rot).unwrap();
    let rotation: Vec<String> = (0..6)
        .map(|_| idp.sign_in(EMAIL, IDP_PASSWORD).unwrap().access_token)
        .collect();
    let command = rotating_token_command(&rot, &idp, &rotation);
    let (code, out, err) = run(&[
        "--source-oauth-command",
        &command,
        "--oauth-mechanism",
        "oauthbearer",
        "--concurrency",
        "2",
    ]);
    assert_eq!(code, 0, "{out}\n{err}\n{}", source.log());
    assert_eq!(json(&out)["messages_copied"], more.messages as u64);
    let calls: u32 = std::fs::read_to_string(rot.join("calls"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(calls, 2, "token command runs once per connection");

    // A revoked (or expired) token is an authentication error.
    std::fs::write(&token_file, &tokens.access_token).unwrap();
    let (code, out, err) = run(&["--source-oauth-token-file", token_file.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("authentication failed"), "{err}");
    assert!(
        !err.contains(&tokens.access_token),
        "no token in output: {err}"
    );
}
