//! The thin path through the whole product, on real servers: profile import,
//! preload, portal sign-in and booking, the cutover sequence, autoconfig before
//! and after, and the two notices.

use crate::support::{assert_same_mailbox, fingerprint, master_endpoint, total_messages};
use cutover_engine::imap::{AppendMessage, Session};
use cutover_testkit::{Ports, Stack, free_port};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.com";
const ALICE_PW: &str = "alice-pw";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-mail")
}

/// The real binary, with the stack's secrets in the environment only.
struct Cutover {
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl Cutover {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .envs(self.env.iter().cloned());
        c.env(
            "CUTOVER_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
        );
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().expect("run cutover");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn user(&self, email: &str) -> serde_json::Value {
        let (code, out, err) = self.run(&["users", "show", email, "--json"]);
        assert_eq!(code, 0, "users show: {err}");
        serde_json::from_str(&out).expect("users show --json")
    }
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_state(
    cut: &Cutover,
    email: &str,
    want: &str,
    timeout: Duration,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let u = cut.user(email);
        if u["user"]["state"] == want {
            return u;
        }
        assert!(
            start.elapsed() < timeout,
            "{email} did not reach {want} within {timeout:?}: {}",
            serde_json::to_string_pretty(&u).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn write_config(dir: &Path, stack: &Stack, portal: u16, autoconfig: u16) -> PathBuf {
    let toml = format!(
        r#"
[database]
url = "sqlite://{db}"
[legacy]
port = {legacy}
security = "plain"
allow_plaintext = true
master_user = "{lmaster}"
[target]
port = {target}
security = "plain"
allow_plaintext = true
master_user = "{tmaster}"
[ldap]
url = "ldap://127.0.0.1:{ldap}"
bind_dn = "{bind_dn}"
base_dn = "ou=people,{base_dn}"
[portal]
listen = "127.0.0.1:{portal}"
public_url = "http://127.0.0.1:{portal}"
[autoconfig]
listen = "127.0.0.1:{autoconfig}"
[autoconfig.legacy]
imap_host = "imap.old.example.com"
[autoconfig.target]
imap_host = "imap.new.example.com"
[mailer]
smtp_port = {smtp}
smtp_security = "plain"
allow_plaintext = true
poll_interval_ms = 100
[worker]
poll_interval_ms = 100
[cutover]
propagation_secs = 1
[slots]
lead_minutes = 0
"#,
        db = dir.join("cutover.db").display(),
        legacy = stack.legacy.imap_port,
        target = stack.target.imap_port,
        lmaster = stack.legacy.master_user,
        tmaster = stack.target.master_user,
        ldap = stack.ldap.port,
        bind_dn = stack.ldap.admin_dn,
        base_dn = stack.ldap.base_dn,
        smtp = stack.smtp.port,
    );
    let path = dir.join("cutover.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

async fn autoconfig_host(http: &reqwest::Client, port: u16) -> String {
    let xml = http
        .get(format!(
            "http://127.0.0.1:{port}/mail/config-v1.1.xml?emailaddress={ALICE}"
        ))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = xml.find("<hostname>").expect("hostname in autoconfig") + "<hostname>".len();
    xml[start..start + xml[start..].find('<').unwrap()].to_string()
}

fn cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (kv, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = kv.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name} in {html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + 7;
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_moves_from_legacy_to_target() {
    let t0 = Instant::now();
    let stack = Stack::start(Ports::random()).expect("the real servers must start");
    for d in [&stack.legacy, &stack.target] {
        d.add_user(ALICE, ALICE_PW).unwrap();
    }
    stack
        .ldap
        .add_user("alice", ALICE, "Alice Example", ALICE_PW, "legacy")
        .unwrap();
    let loaded = stack.legacy.load_maildir(ALICE, &fixtures()).unwrap();
    assert!(loaded.messages >= 43, "{loaded:?}");

    let dir = tempfile::tempdir().unwrap();
    let (portal, autoconfig) = (free_port().unwrap(), free_port().unwrap());
    let cut = Cutover {
        config: write_config(dir.path(), &stack, portal, autoconfig),
        env: vec![
            (
                "CUTOVER_LEGACY__MASTER_PASSWORD".into(),
                stack.legacy.master_password.clone(),
            ),
            (
                "CUTOVER_TARGET__MASTER_PASSWORD".into(),
                stack.target.master_password.clone(),
            ),
            (
                "CUTOVER_LDAP__BIND_PASSWORD".into(),
                stack.ldap.admin_password.clone(),
            ),
        ],
    };
    assert_eq!(cut.run(&["db", "migrate"]).0, 0);

    // Profile import: a bad row is named by its line, the rest goes in; a re-import changes nothing.
    let csv = dir.path().join("users.csv");
    std::fs::write(&csv, format!("id,email,display_name,locale,wave\nu-alice,{ALICE},Alice Example,en,1\nu-bad,not-an-address,Bad,en,1\n")).unwrap();
    let (code, out, err) = cut.run(&["profiles", "import", csv.to_str().unwrap()]);
    assert_eq!(
        code, 2,
        "a rejected row makes the exit status non-zero: {out} {err}"
    );
    assert!(
        err.contains("users.csv:3:") && err.contains("not-an-address"),
        "{err}"
    );
    assert!(out.contains("1 new"), "{out}");
    let (_, out, _) = cut.run(&["profiles", "import", csv.to_str().unwrap()]);
    assert!(out.contains("0 new, 0 updated, 1 unchanged"), "{out}");

    let _server = Server(
        cut.cmd(&["serve"])
            .stdout(Stdio::null())
            .spawn()
            .expect("cutover serve"),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = Instant::now();
    while http
        .get(format!("http://127.0.0.1:{portal}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "portal did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Readiness: every dependency answers.
    let (code, out, err) = cut.run(&["healthcheck"]);
    assert_eq!(code, 0, "healthcheck: {out} {err}");
    assert!(
        out.contains("ok    database") && out.contains("ok    directory"),
        "{out}"
    );

    // Before the cutover autoconfig names the legacy servers.
    assert_eq!(
        autoconfig_host(&http, autoconfig).await,
        "imap.old.example.com"
    );

    // The worker preloads the mailbox right after the import.
    wait_for_state(&cut, ALICE, "preloaded", Duration::from_secs(60)).await;
    let legacy_ep = master_endpoint(&stack.legacy, ALICE);
    let target_ep = master_endpoint(&stack.target, ALICE);
    assert_same_mailbox(
        &fingerprint(&legacy_ep).await,
        &fingerprint(&target_ep).await,
    );

    // New mail on legacy after the preload, picked up by the cutover's delta.
    let late = b"From: late@example.org\r\nTo: alice@example.com\r\nSubject: arrived after the preload\r\nMessage-ID: <late-1@example.org>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\nHello again.\r\n";
    let date = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00+00:00").unwrap();
    let flags = vec!["\\Flagged".to_string()];
    let mut s = Session::connect(&legacy_ep).await.unwrap();
    let appended = s
        .append_many(
            "INBOX",
            &[AppendMessage {
                flags: &flags,
                internal_date: Some(&date),
                body: late,
            }],
        )
        .await
        .unwrap();
    assert!(appended[0].is_ok(), "{appended:?}");
    s.logout().await;

    // The user signs in with the legacy password and books a slot.
    let (_, out, err) = cut.run(&[
        "slots",
        "add",
        &chrono::Utc::now()
            .checked_add_signed(chrono::TimeDelta::seconds(3))
            .unwrap()
            .to_rfc3339(),
    ]);
    assert!(out.contains("slot at"), "{out} {err}");
    let page = http
        .get(format!("http://127.0.0.1:{portal}/"))
        .send()
        .await
        .unwrap();
    let pre = cookie(&page, "cutover_csrf").expect("login CSRF cookie");
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let login = http
        .post(format!("http://127.0.0.1:{portal}/login"))
        .header("cookie", format!("cutover_csrf={pre}"))
        .form(&[
            ("email", ALICE),
            ("password", ALICE_PW),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_redirection(), "login: {}", login.status());
    let session = cookie(&login, "cutover_session").expect("session cookie");
    let me = http
        .get(format!("http://127.0.0.1:{portal}/me"))
        .header("cookie", format!("cutover_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(me.contains(ALICE), "{me}");
    let slot_id = hidden(&me, "slot_id");
    let csrf = hidden(&me, "csrf");
    let book = http
        .post(format!("http://127.0.0.1:{portal}/book"))
        .header("cookie", format!("cutover_session={session}"))
        .form(&[("slot_id", slot_id.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(book.status().is_redirection(), "book: {}", book.status());

    // The worker runs the cutover at the slot.
    let user = wait_for_state(&cut, ALICE, "migrated", Duration::from_secs(90)).await;
    let kinds: Vec<&str> = user["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for step in [
        "booked",
        "cutover_started",
        "delta_synced",
        "connectors",
        "switched",
        "caught_up",
        "verified",
        "migrated",
    ] {
        assert!(kinds.contains(&step), "missing step {step} in {kinds:?}");
    }

    // The target mailbox: every folder, message, byte, flag and date.
    let legacy_fp = fingerprint(&legacy_ep).await;
    let target_fp = fingerprint(&target_ep).await;
    assert_same_mailbox(&legacy_fp, &target_fp);
    assert_eq!(total_messages(&target_fp), loaded.messages + 1);
    assert!(
        target_fp["INBOX"]
            .iter()
            .any(|m| m.2.contains(&"\\Flagged".to_string()))
    );

    // The directory flag points at the target, and autoconfig follows it.
    assert_eq!(
        stack.ldap.mail_host("alice").unwrap().as_deref(),
        Some("target")
    );
    assert_eq!(
        autoconfig_host(&http, autoconfig).await,
        "imap.new.example.com"
    );

    // The worker and the faces report to Prometheus.
    let metrics = http
        .get(format!("http://127.0.0.1:{portal}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "cutover_jobs_total",
        "cutover_autoconfig_requests_total",
        "cutover_mail_sent_total",
    ] {
        assert!(
            metrics.contains(series),
            "{series} missing from /metrics:\n{metrics}"
        );
    }

    // Exactly two mails: the booking confirmation and the "you have moved" notice.
    let mails = stack.smtp.wait_for(2, Duration::from_secs(20)).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails_after = stack.smtp.messages().unwrap();
    assert_eq!(mails_after.len(), 2, "each notice goes out exactly once");
    for m in &mails {
        assert_eq!(m.rcpt_to, vec![ALICE.to_string()]);
    }
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(&m.data)
                .unwrap()
                .subject()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.to_lowercase().contains("booked") || s.to_lowercase().contains("confirm")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.to_lowercase().contains("moved")),
        "{subjects:?}"
    );
    eprintln!(
        "e2e cutover: {} messages, {:.1} s",
        loaded.messages + 1,
        t0.elapsed().as_secs_f64()
    );
}
