//! A cutover that fails before the flag flip leaves the user on legacy and
//! tells them once; steps are driven one job at a time, without sleeping.

use cutover_core::config::{Config, Security};
use cutover_core::db::Db;
use cutover_core::db::jobs::{JobKind, JobRepo};
use cutover_core::db::slots::SlotRepo;
use cutover_core::db::users::UserRepo;
use cutover_core::{EmailAddress, MigrationState};
use cutover_engine::worker::{Outcome, Worker};
use cutover_mailer::Mailer;
use cutover_testkit::{Dovecot, Ports, Slapd, SmtpSink, Stack};
use std::sync::Arc;

const ALICE: &str = "alice@example.com";

fn config(legacy: &Dovecot, target: &Dovecot, ldap: &Slapd, smtp: &SmtpSink) -> Config {
    let mut c = Config::default();
    for (side, d) in [(&mut c.legacy, legacy), (&mut c.target, target)] {
        side.port = d.imap_port;
        side.security = Security::Plain;
        side.allow_plaintext = true;
        side.master_user = d.master_user.clone();
        side.master_password = Some(d.master_password.clone().into());
    }
    c.ldap.url = ldap.url();
    c.ldap.bind_dn = ldap.admin_dn.clone();
    c.ldap.bind_password = Some(ldap.admin_password.clone().into());
    c.ldap.base_dn = ldap.people_dn();
    c.mailer.smtp_port = smtp.port;
    c.mailer.smtp_security = Security::Plain;
    c.mailer.allow_plaintext = true;
    c.worker.retry_base_secs = 0;
    c.cutover.propagation_secs = 0;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_the_flip_keeps_the_user_on_legacy_and_tells_them_once() {
    // Taken apart so that the target can be stopped on its own.
    let Stack {
        legacy,
        target,
        ldap,
        radicale: _radicale,
        smtp,
    } = Stack::start(Ports::random()).expect("the real servers must start");
    let cfg = Arc::new(config(&legacy, &target, &ldap, &smtp));
    for d in [&legacy, &target] {
        d.add_user(ALICE, "alice-pw").unwrap();
    }
    ldap.add_user("alice", ALICE, "Alice Example", "alice-pw", "legacy")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/m.db", dir.path().display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();

    let csv = format!("id,email,display_name,locale\nalice,{ALICE},Alice Example,en\n");
    let report = cutover_engine::profiles::import_csv(&db, csv.as_bytes(), true, || {})
        .await
        .unwrap();
    assert_eq!(report.inserted, 1);
    let worker = Worker::new(db.clone(), cfg.clone());
    assert!(matches!(
        worker.run_next_job().await.unwrap(),
        Outcome::Done { .. }
    ));
    let id = db
        .user_by_email(&EmailAddress::parse(ALICE).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        db.user(&id).await.unwrap().unwrap().state,
        MigrationState::Preloaded
    );

    // Booked for now, but the target platform is down at the slot.
    let now = cutover_core::db::now();
    db.ensure_slots(&[now], 5).await.unwrap();
    let slot = db.open_slots(now, 1).await.unwrap()[0].id;
    db.book(&id, slot, now).await.unwrap();
    assert!(
        db.transition(&id, &[MigrationState::Preloaded], MigrationState::Scheduled)
            .await
            .unwrap()
    );
    db.enqueue(JobKind::Cutover, &id, now).await.unwrap();
    drop(target);

    for attempt in 1..=2 {
        match worker.run_next_job().await.unwrap() {
            Outcome::Failed {
                error, retry_at, ..
            } => {
                assert!(error.contains("recheck"), "attempt {attempt}: {error}");
                assert!(retry_at.is_some(), "a failed cutover is retried");
            }
            other => panic!("attempt {attempt}: expected a failure, got {other:?}"),
        }
        let user = db.user(&id).await.unwrap().unwrap();
        assert_eq!(user.state, MigrationState::Failed);
        assert_eq!(user.failed_step.as_deref(), Some("recheck"));
        assert_eq!(
            ldap.mail_host("alice").unwrap().as_deref(),
            Some("legacy"),
            "the flag is untouched"
        );
    }

    let mailer = Mailer::new(db.clone(), cfg.clone()).unwrap();
    assert_eq!(mailer.run_once().await.unwrap(), 1);
    assert_eq!(mailer.run_once().await.unwrap(), 0);
    let mails = smtp
        .wait_for(1, std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        mails.len(),
        1,
        "one notice however often the job is retried"
    );
    assert!(mails[0].text().contains("delayed"), "{}", mails[0].text());
    drop(legacy);
}
