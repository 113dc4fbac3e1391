//! The mailer against a real SMTP server: exactly one message per notice,
//! with the row's Message-ID, both parts, and retry/give-up decisions.

use cutover_core::config::{Config, Security};
use cutover_core::db::Db;
use cutover_core::db::outbox::{NewNotice, OutboxRepo};
use cutover_core::{EmailAddress, UserId};
use cutover_mailer::Mailer;
use cutover_testkit::SmtpSink;
use std::sync::Arc;
use std::time::Duration;

async fn temp_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("mailer.db").display());
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    (dir, db)
}

fn config(port: u16) -> Arc<Config> {
    let mut c = Config::default();
    c.mailer.smtp_host = "127.0.0.1".into();
    c.mailer.smtp_port = port;
    c.mailer.smtp_security = Security::Plain;
    c.mailer.allow_plaintext = true;
    c.mailer.from = "Mail Migration <migration@example.com>".into();
    c.mailer.max_attempts = 3;
    Arc::new(c)
}

fn moved_notice(user: &str, email: &str, template: &str) -> NewNotice {
    NewNotice {
        dedupe_key: format!("{template}:{user}"),
        user_id: Some(UserId::parse(user).expect("user id")),
        template: template.into(),
        locale: "en".into(),
        to: EmailAddress::parse(email).expect("address"),
        params: serde_json::json!({
            "display_name": "Alice Exämple",
            "email": email,
            "imap_host": "imap.new.example.net",
            "smtp_host": "smtp.new.example.net",
            "portal_url": "https://portal.example.net/",
        }),
    }
}

#[tokio::test]
async fn a_notice_is_delivered_exactly_once() {
    let sink = SmtpSink::start(None).expect("start SMTP sink");
    let (_dir, db) = temp_db().await;
    let notice = moved_notice("u-mail-1", "alice@example.com", "moved");
    assert!(
        db.enqueue_notice(&notice, "example.com")
            .await
            .expect("enqueue")
    );
    assert!(
        !db.enqueue_notice(&notice, "example.com")
            .await
            .expect("enqueue again"),
        "dedupe key must hold"
    );

    let mailer = Mailer::new(db.clone(), config(sink.port)).expect("mailer");
    assert_eq!(mailer.run_once().await.expect("first round"), 1);
    assert_eq!(mailer.run_once().await.expect("second round"), 0);

    let received = sink
        .wait_for(1, Duration::from_secs(10))
        .expect("one message");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = sink.messages().expect("messages");
    assert_eq!(all.len(), 1, "exactly one message expected");
    assert_eq!(received.len(), 1);

    let row = &db
        .notices_of(&UserId::parse("u-mail-1").expect("id"))
        .await
        .expect("rows")[0];
    assert_eq!(row.state, "sent");
    let parsed = mail_parser::MessageParser::default()
        .parse(&all[0].data[..])
        .expect("parse mail");
    let to = parsed.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("alice@example.com"));
    assert_eq!(to.name(), Some("Alice Exämple"));
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("migration@example.com"));
    assert_eq!(
        parsed.message_id().map(|id| format!("<{id}>")),
        Some(row.message_id.clone()),
        "the row's stable Message-ID"
    );
    assert_eq!(
        parsed.subject(),
        Some("You have moved: your new mail settings")
    );
    assert!(parsed.date().is_some());
    let text = parsed.body_text(0).expect("text part");
    assert!(text.contains("imap.new.example.net"), "{text}");
    let html = parsed.body_html(0).expect("html part");
    assert!(
        html.contains("<strong>smtp.new.example.net</strong>"),
        "{html}"
    );
    assert!(
        all[0].rcpt_to.iter().any(|r| r == "alice@example.com"),
        "{:?}",
        all[0].rcpt_to
    );
}

#[tokio::test]
async fn permanent_failures_give_up_and_transient_ones_are_rescheduled() {
    let sink = SmtpSink::start(None).expect("start SMTP sink");
    let (_dir, db) = temp_db().await;

    // A template that does not exist can never be sent: given up at once.
    db.enqueue_notice(
        &moved_notice("u-mail-2", "bob@example.com", "no_such_template"),
        "example.com",
    )
    .await
    .expect("enqueue");
    let mailer = Mailer::new(db.clone(), config(sink.port)).expect("mailer");
    assert_eq!(mailer.run_once().await.expect("round"), 0);
    let rows = db
        .notices_of(&UserId::parse("u-mail-2").expect("id"))
        .await
        .expect("rows");
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("failed", 1));

    // Nobody listening: a transient failure, retried later, not in this round.
    let closed = cutover_testkit::free_port().expect("free port");
    db.enqueue_notice(
        &moved_notice("u-mail-3", "carol@example.com", "moved"),
        "example.com",
    )
    .await
    .expect("enqueue");
    let offline = Mailer::new(db.clone(), config(closed)).expect("mailer");
    assert_eq!(offline.run_once().await.expect("round"), 0);
    let rows = db
        .notices_of(&UserId::parse("u-mail-3").expect("id"))
        .await
        .expect("rows");
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("pending", 1));
    assert!(sink.messages().expect("messages").is_empty());
}
