//! Dovecot: start, log in (user and master), load a maildir.

use cutover_testkit::probe::ImapProbe;
use cutover_testkit::{Dovecot, DovecotOptions};
use std::path::Path;
use std::time::Instant;

/// The 43 MIT-licensed fixture messages shipped with the project.
fn fixtures() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sample-mail"
    ))
}

#[test]
fn login_as_user_and_as_master() {
    let t = Instant::now();
    let dc = Dovecot::start(DovecotOptions::legacy()).expect("start");
    eprintln!("start: {:?}", t.elapsed());
    dc.add_user("alice@example.com", "alice-pw")
        .expect("add_user");

    let mut p = ImapProbe::connect(dc.imap_port).expect("connect");
    assert!(p.greeting.starts_with("* OK"), "{}", p.greeting);
    let r = p.login("alice@example.com", "alice-pw").expect("login");
    assert!(r.is_ok(), "{r:?}\n{}", dc.log());

    let mut p = ImapProbe::connect(dc.imap_port).expect("connect");
    let r = p
        .login(
            &format!("alice@example.com*{}", dc.master_user),
            &dc.master_password,
        )
        .expect("master login");
    assert!(r.is_ok(), "{r:?}\n{}", dc.log());
    let r = p.command("ID NIL").expect("id");
    assert!(r.lines().iter().any(|l| l.contains("\"legacy\"")), "{r:?}");

    // a user added later works without a restart; a wrong password fails fast
    dc.add_user("bob@example.com", "bob-pw").expect("add bob");
    let mut p = ImapProbe::connect(dc.imap_port).expect("connect");
    let t = Instant::now();
    assert!(!p.login("bob@example.com", "wrong").expect("login").is_ok());
    let r = p.login("bob@example.com", "bob-pw").expect("login");
    assert!(r.is_ok(), "{r:?}\n{}", dc.log());
    assert!(t.elapsed().as_secs() < 3, "auth penalty: {:?}", t.elapsed());
    // an unknown user is a plain authentication failure, not a server error
    let mut p = ImapProbe::connect(dc.imap_port).expect("connect");
    let r = p.login("nobody@example.com", "x").expect("login");
    assert!(
        r.status.contains("[AUTHENTICATIONFAILED]"),
        "{r:?}\n{}",
        dc.log()
    );

    let t = Instant::now();
    let pid = dc.pid();
    drop(dc);
    eprintln!("stop: {:?}", t.elapsed());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "master still there"
    );
}

#[test]
fn start_failure_reports_the_log() {
    let opts = DovecotOptions {
        extra_conf: "this is not a setting\n".into(),
        ..DovecotOptions::legacy()
    };
    let err = Dovecot::start(opts).err().expect("must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains("Error in configuration file"), "{msg}");
}

fn check_loaded(opts: DovecotOptions, folders: &[&str]) {
    let dc = Dovecot::start(opts).expect("start");
    dc.add_user("alice@example.com", "pw").expect("add_user");
    let t = Instant::now();
    let stats = dc
        .load_maildir("alice@example.com", fixtures())
        .expect("load");
    eprintln!("load {stats:?} in {:?}", t.elapsed());
    assert_eq!(stats.messages, 43);
    assert_eq!(stats.folders, 2);

    let mut p = ImapProbe::connect(dc.imap_port).expect("connect");
    assert!(p.login("alice@example.com", "pw").expect("login").is_ok());
    let lsub = p
        .command("LSUB \"\" \"*\"")
        .expect("lsub")
        .lines()
        .join("\n");
    let mut total = 0;
    for f in folders {
        assert!(lsub.contains(f), "{f} not subscribed: {lsub}");
        let r = p.command(&format!("EXAMINE \"{f}\"")).expect("examine");
        assert!(r.is_ok(), "{r:?}");
        let r = p
            .command("FETCH 1:* (INTERNALDATE FLAGS BODY.PEEK[HEADER.FIELDS (DATE)])")
            .expect("fetch");
        for line in r.lines() {
            total += 1;
            check_internaldate(&line);
        }
    }
    assert_eq!(total, 43);
}

/// INTERNALDATE equals the Date: header (or the fallback date without one).
fn check_internaldate(line: &str) {
    let idate = line
        .split("INTERNALDATE \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect(line);
    let idate =
        chrono::DateTime::parse_from_str(idate.trim(), "%d-%b-%Y %H:%M:%S %z").expect(idate);
    let header = line.split_once("\r\n").map(|(_, h)| h).unwrap_or("");
    let want = mail_parser::MessageParser::new()
        .parse_headers(header.as_bytes())
        .and_then(|m| m.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp()))
        .unwrap_or(cutover_testkit::FALLBACK_DATE);
    assert_eq!(idate.timestamp(), want, "{line}");
}

#[test]
fn load_maildir_fs_layout() {
    check_loaded(DovecotOptions::legacy(), &["malformed", "thirdparty"]);
}

#[test]
fn load_maildir_maildir_plus_plus_with_inbox_prefix() {
    let opts = DovecotOptions {
        inbox_prefix: true,
        ..DovecotOptions::target()
    };
    check_loaded(opts, &["INBOX.malformed", "INBOX.thirdparty"]);
}
