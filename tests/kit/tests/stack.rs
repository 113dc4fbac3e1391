//! The whole stack, and the `cutover-stack demo` binary around a command.

use cutover_testkit::probe::ImapProbe;
use cutover_testkit::{DEMO_USERS, Ports, Stack, demo_users_csv};
use std::process::Command;
use std::time::Instant;

#[test]
fn demo_users_csv_matches_examples() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo-users.csv");
    let file = std::fs::read_to_string(path).expect("examples/demo-users.csv");
    assert_eq!(file, demo_users_csv(DEMO_USERS));
}

#[test]
fn stack_starts_and_provisions_users_everywhere() {
    let t = Instant::now();
    let stack = Stack::start(Ports::random()).expect("start stack");
    eprintln!("stack start: {:?}", t.elapsed());
    let alice = &DEMO_USERS[0];
    stack.add_user(alice, "legacy").expect("add");
    for dc in [&stack.legacy, &stack.target] {
        let mut p = ImapProbe::connect(dc.imap_port).expect("connect");
        let r = p.login(alice.email, &alice.password()).expect("login");
        assert!(r.is_ok(), "{} {r:?}", dc.name());
    }
    assert_eq!(
        stack.ldap.mail_host("alice").expect("ldap").as_deref(),
        Some("legacy")
    );
    let t = Instant::now();
    drop(stack);
    eprintln!("stack stop: {:?}", t.elapsed());
}

#[test]
fn demo_binary_runs_a_command_with_the_stack_env() {
    let state = tempfile::tempdir().expect("tmp");
    let script = r#"set -e
test -s "$CUTOVER_DEMO_USERS_CSV"
exec 3<>"/dev/tcp/127.0.0.1/$CUTOVER_DEMO_LEGACY_IMAP_PORT"
printf 'a LOGIN alice@example.com alice-pw\r\nb STATUS INBOX (MESSAGES)\r\nc LOGOUT\r\n' >&3
cat <&3
exit 7"#;
    let out = Command::new(env!("CARGO_BIN_EXE_cutover-stack"))
        .args(["demo", "--random-ports", "--messages", "50", "--state-dir"])
        .arg(state.path())
        .args(["--", "bash", "-c", script])
        .output()
        .expect("run cutover-stack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stdout}\n{stderr}");
    assert!(stdout.contains("a OK"), "{stdout}\n{stderr}");
    // 50 generated messages, 23 of them in INBOX (45%, plus rounding)
    assert!(stdout.contains("(MESSAGES "), "{stdout}");
    assert!(
        std::fs::read_to_string(state.path().join("stack.env"))
            .expect("env")
            .contains("CUTOVER_DEMO_LDAP_URL")
    );
}

#[test]
fn demo_binary_loads_only_the_corpus_and_exports_the_dovecot_configs() {
    let state = tempfile::tempdir().expect("tmp");
    let corpus = tempfile::tempdir().expect("tmp");
    for (folder, n) in [("Projects/cur", 2), ("cur", 1)] {
        let dir = corpus.path().join(folder);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for i in 0..n {
            std::fs::write(
                dir.join(format!("{i}.eml")),
                format!("Subject: m{i}\r\nMessage-ID: <{folder}{i}@x>\r\n\r\nbody\r\n"),
            )
            .expect("write");
        }
    }
    let script = r#"set -e
grep -q '^ *separator = /$' "$CUTOVER_DEMO_TARGET_CONF"
test -d "$CUTOVER_DEMO_TARGET_HOMES"
test -d "$CUTOVER_DEMO_LEGACY_HOMES/alice@example.com/Maildir"
test ! -e "$CUTOVER_DEMO_LEGACY_HOMES/bob@example.com"
doveadm -c "$CUTOVER_DEMO_LEGACY_CONF" mailbox status -u alice@example.com messages '*'"#;
    let out = Command::new(env!("CARGO_BIN_EXE_cutover-stack"))
        .args(["demo", "--random-ports", "--messages", "0"])
        .args(["--target-separator", "/", "--corpus"])
        .arg(corpus.path())
        .arg("--state-dir")
        .arg(state.path())
        .args(["--", "bash", "-c", script])
        .output()
        .expect("run cutover-stack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let mut lines: Vec<&str> = stdout.lines().filter(|l| l.contains("messages=")).collect();
    lines.sort();
    // the corpus only, nothing generated
    assert_eq!(
        lines,
        ["INBOX messages=1", "Projects messages=2"],
        "{stdout}\n{stderr}"
    );
}
