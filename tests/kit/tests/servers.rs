//! slapd, Radicale, SMTP sink, MariaDB: start each and make one real client call.

use cutover_testkit::{MariaDb, Radicale, Slapd, SmtpSink};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn slapd_user_is_searchable_and_password_protected() {
    let t = Instant::now();
    let ldap = Slapd::start_default().expect("start slapd");
    eprintln!("slapd start: {:?}", t.elapsed());
    ldap.add_user(
        "alice",
        "alice@example.com",
        "Alice Ärcher",
        "alice-pw",
        "legacy",
    )
    .expect("add");
    // anonymous search finds the user and the flag, but not the password
    let (ok, out) = run(Command::new("ldapsearch").args([
        "-x",
        "-LLL",
        "-H",
        &ldap.url(),
        "-b",
        &ldap.base_dn,
        "(mail=alice@example.com)",
    ]));
    assert!(ok, "{out}");
    assert!(
        out.contains("uid: alice") && out.contains("mailHost: legacy"),
        "{out}"
    );
    assert!(
        !out.contains("userPassword"),
        "password readable anonymously: {out}"
    );
    // the user can bind with its password
    let (ok, out) = run(Command::new("ldapwhoami").args([
        "-x",
        "-H",
        &ldap.url(),
        "-D",
        &ldap.user_dn("alice"),
        "-w",
        "alice-pw",
    ]));
    assert!(ok, "{out}");
    ldap.set_mail_host("alice", "target").expect("flip");
    assert_eq!(
        ldap.mail_host("alice").expect("read").as_deref(),
        Some("target")
    );
    let t = Instant::now();
    drop(ldap);
    eprintln!("slapd stop: {:?}", t.elapsed());
}

fn http(port: u16, req: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn radicale_propfind_207_and_401() {
    let t = Instant::now();
    let dav = Radicale::start(None).expect("start radicale");
    eprintln!("radicale start: {:?}", t.elapsed());
    dav.add_user("alice@example.com", "alice-pw").expect("add");
    let auth = base64_plain("alice@example.com:alice-pw");
    let ok = http(
        dav.port,
        &format!(
            "PROPFIND /alice@example.com/ HTTP/1.0\r\nAuthorization: Basic {auth}\r\nDepth: 0\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert!(
        ok.starts_with("HTTP/1.0 207") || ok.starts_with("HTTP/1.1 207"),
        "{ok}\n{}",
        dav.log()
    );
    let bad = base64_plain("alice@example.com:wrong");
    let denied = http(
        dav.port,
        &format!(
            "PROPFIND /alice@example.com/ HTTP/1.0\r\nAuthorization: Basic {bad}\r\nDepth: 0\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert!(denied.split_whitespace().nth(1) == Some("401"), "{denied}");
    let t = Instant::now();
    drop(dav);
    eprintln!("radicale stop: {:?}", t.elapsed());
}

fn base64_plain(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn smtp_sink_keeps_envelope_and_bytes() {
    let t = Instant::now();
    let smtp = SmtpSink::start(None).expect("start smtp");
    eprintln!("smtp start: {:?}", t.elapsed());
    let body =
        "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nline 1\r\n..dot line\r\n";
    let s = TcpStream::connect(("127.0.0.1", smtp.port)).expect("connect");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    let expect = |code: &str, r: &mut BufReader<TcpStream>| loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("read");
        assert!(line.starts_with(code), "want {code}, got {line}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect("220", &mut r);
    for (cmd, code) in [
        ("EHLO test", "250"),
        ("MAIL FROM:<a@example.com>", "250"),
        ("RCPT TO:<b@example.org>", "250"),
        ("RCPT TO:<c@example.org>", "250"),
        ("DATA", "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).expect("write");
        expect(code, &mut r);
    }
    w.write_all(format!("{body}.\r\n").as_bytes())
        .expect("write");
    expect("250", &mut r);
    w.write_all(b"QUIT\r\n").expect("quit");
    let got = smtp.wait_for(1, Duration::from_secs(5)).expect("wait");
    assert_eq!(got[0].mail_from, "a@example.com");
    assert_eq!(got[0].rcpt_to, vec!["b@example.org", "c@example.org"]);
    // dot-stuffing undone, everything else byte for byte
    assert_eq!(got[0].text(), body.replace("..dot", ".dot"));
    assert!(smtp.wait_for(2, Duration::from_millis(100)).is_err());
}

fn mariadb_select(db: &MariaDb) {
    let (ok, out) = run(Command::new("mariadb").args([
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        &db.port.to_string(),
        "-uroot",
        &db.database,
        "-e",
        "select 1 as one",
    ]));
    assert!(ok, "{out}\n{}", db.log());
    assert!(out.contains("one"), "{out}");
    assert!(
        db.url.starts_with("mysql://root@127.0.0.1:") && db.url.ends_with(&db.database),
        "{}",
        db.url
    );
}

#[test]
fn mariadb_fresh_database_dropped_on_drop() {
    let a = MariaDb::create().expect("create");
    let b = MariaDb::create().expect("create");
    assert_ne!(a.database, b.database);
    mariadb_select(&a);
    a.sql("CREATE TABLE t (x INT); INSERT INTO t VALUES (1)")
        .expect("sql");
    let name = a.database.clone();
    drop(a);
    let out = b.sql("SHOW DATABASES").expect("show");
    assert!(!out.contains(&name), "{name} not dropped: {out}");
}

#[test]
fn mariadb_private_server_starts() {
    let t = Instant::now();
    let db = MariaDb::create_private().expect("start mariadb");
    eprintln!("mariadb private start: {:?}", t.elapsed());
    mariadb_select(&db);
    let t = Instant::now();
    drop(db);
    eprintln!("mariadb stop: {:?}", t.elapsed());
}
