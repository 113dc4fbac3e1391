//! The repository suite, run unchanged against SQLite and MariaDB.

use cutover_core::db::Db;
use cutover_core::db::jobs::{JobKind, JobRepo};
use cutover_core::db::outbox::{NewNotice, OutboxRepo};
use cutover_core::db::sessions::SessionRepo;
use cutover_core::db::slots::{BookingError, SlotRepo};
use cutover_core::db::users::{Profile, UpsertOutcome, UserRepo};
use cutover_core::{EmailAddress, MigrationState as S, UserId};

fn profile(id: &str, email: &str) -> Profile {
    Profile {
        id: UserId::parse(id).unwrap(),
        email: EmailAddress::parse(email).unwrap(),
        display_name: format!("User {id}"),
        locale: "en".into(),
        wave: "w1".into(),
    }
}

async fn suite(db: &Db) {
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();

    // Users: upsert is idempotent, an address cannot belong to two ids, renames keep the id.
    let alice = profile("u1", "alice@example.com");
    assert_eq!(
        db.upsert_profile(&alice).await.unwrap(),
        UpsertOutcome::Inserted
    );
    assert_eq!(
        db.upsert_profile(&alice).await.unwrap(),
        UpsertOutcome::Unchanged
    );
    let renamed = Profile {
        email: EmailAddress::parse("alice.new@example.com").unwrap(),
        ..alice.clone()
    };
    assert_eq!(
        db.upsert_profile(&renamed).await.unwrap(),
        UpsertOutcome::Updated
    );
    assert_eq!(
        db.upsert_profile(&alice).await.unwrap(),
        UpsertOutcome::Updated
    );
    assert!(
        db.upsert_profile(&profile("u2", "alice@example.com"))
            .await
            .is_err()
    );
    db.upsert_profile(&profile("u2", "bob@example.com"))
        .await
        .unwrap();
    let u1 = alice.id.clone();
    let u2 = UserId::parse("u2").unwrap();
    assert_eq!(db.user(&u1).await.unwrap().unwrap().state, S::Imported);

    // State changes are compare-and-set.
    assert!(
        db.transition(&u1, &[S::Imported], S::Provisioned)
            .await
            .unwrap()
    );
    assert!(
        !db.transition(&u1, &[S::Imported], S::Preloading)
            .await
            .unwrap()
    );
    db.record_failure(&u1, "preload", "boom").await.unwrap();
    let u = db.user(&u1).await.unwrap().unwrap();
    assert_eq!(
        (u.state, u.failed_step.as_deref(), u.attempts),
        (S::Failed, Some("preload"), 1)
    );
    assert!(db.transition(&u1, &[S::Failed], S::Switched).await.unwrap());
    db.record_failure(&u1, "catch_up", "late").await.unwrap();
    assert_eq!(
        db.user(&u1).await.unwrap().unwrap().state,
        S::Switched,
        "a switched user never falls back"
    );

    // Jobs: enqueue is idempotent, one running job per user, retries requeue.
    let now = cutover_core::db::now();
    db.enqueue(JobKind::Preload, &u1, now - 5).await.unwrap();
    db.enqueue(JobKind::Preload, &u1, now - 5).await.unwrap();
    db.enqueue(JobKind::Cutover, &u1, now - 1).await.unwrap();
    db.enqueue(JobKind::Preload, &u2, now + 3600).await.unwrap();
    assert_eq!(db.pending_jobs().await.unwrap(), 3);
    let first = db.claim("w1", 60).await.unwrap().unwrap();
    assert_eq!(
        (first.kind, first.user_id.as_str(), first.attempts),
        (JobKind::Preload, "u1", 1)
    );
    assert!(
        db.claim("w2", 60).await.unwrap().is_none(),
        "u1 is busy and u2's job is not due"
    );
    db.fail(first.id, "w1", "transient", Some(now - 1))
        .await
        .unwrap();
    let again = db.claim("w2", 60).await.unwrap().unwrap();
    assert_eq!(again.user_id, u1);
    db.finish(again.id, "w2").await.unwrap();
    let next = db.claim("w2", 60).await.unwrap().unwrap();
    db.fail(next.id, "w2", "permanent", None).await.unwrap();
    let jobs = db.jobs_of(&u1).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.state == "done").count(), 1);
    assert_eq!(jobs.iter().filter(|j| j.state == "failed").count(), 1);
    // An expired lease is taken over.
    db.enqueue(JobKind::Preload, &u2, now - 1).await.unwrap();
    let j = db.claim("dead", -1).await.unwrap().unwrap();
    let taken = db.claim("alive", 60).await.unwrap().unwrap();
    assert_eq!(taken.id, j.id);
    assert!(!db.heartbeat(j.id, "dead", 60).await.unwrap());

    // Concurrent workers: every job is claimed once, and never two of one user.
    for i in 0..10 {
        let p = profile(&format!("c{i}"), &format!("c{i}@example.com"));
        db.upsert_profile(&p).await.unwrap();
        db.enqueue(JobKind::Preload, &p.id, now - 1).await.unwrap();
        db.enqueue(JobKind::Cutover, &p.id, now - 1).await.unwrap();
    }
    let claims = futures_claims(db, 8).await;
    let mut users: Vec<&str> = claims.iter().map(|j| j.user_id.as_str()).collect();
    users.sort();
    let before = users.len();
    users.dedup();
    assert_eq!(before, users.len(), "two jobs of one user running at once");
    assert_eq!(users.len(), 10, "each user has one job running");
    for j in &claims {
        db.finish(j.id, "racer").await.unwrap();
    }

    // Settings.
    db.set_setting("worker.concurrency", "3").await.unwrap();
    db.set_setting("worker.concurrency", "5").await.unwrap();
    assert_eq!(
        db.setting("worker.concurrency").await.unwrap().as_deref(),
        Some("5")
    );

    // Slots: ensure is idempotent, capacity holds, re-booking moves the count.
    assert_eq!(
        db.ensure_slots(&[now + 600, now + 1200], 1).await.unwrap(),
        2
    );
    assert_eq!(db.ensure_slots(&[now + 600], 1).await.unwrap(), 0);
    let open = db.open_slots(now, 10).await.unwrap();
    assert_eq!(open.len(), 2);
    let (a, b) = (open[0].id, open[1].id);
    db.book(&u1, a, now).await.unwrap();
    assert!(matches!(
        db.book(&u2, a, now).await,
        Err(BookingError::Full)
    ));
    db.book(&u1, b, now).await.unwrap();
    db.book(&u2, a, now).await.unwrap();
    assert_eq!(db.booking(&u1).await.unwrap().unwrap().slot.id, b);
    assert!(matches!(
        db.book(&u1, a, now + 10_000).await,
        Err(BookingError::Closed)
    ));
    assert!(db.open_slots(now, 10).await.unwrap().is_empty());

    // Outbox: one row per dedupe key, claimed once.
    let notice = NewNotice {
        dedupe_key: "moved:u1".into(),
        user_id: Some(u1.clone()),
        template: "moved".into(),
        locale: "en".into(),
        to: EmailAddress::parse("alice@example.com").unwrap(),
        params: serde_json::json!({"k": "v"}),
    };
    assert!(db.enqueue_notice(&notice, "example.com").await.unwrap());
    assert!(!db.enqueue_notice(&notice, "example.com").await.unwrap());
    let claimed = db.claim_notices(10, 60).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].params["k"], "v");
    assert!(db.claim_notices(10, 60).await.unwrap().is_empty());
    db.mark_sent(claimed[0].id).await.unwrap();
    assert_eq!(db.notices_of(&u1).await.unwrap()[0].state, "sent");

    // Sessions: only the holder of the token gets in.
    let (token, s) = db.create_session(&u1, 60).await.unwrap();
    assert_eq!(
        db.session(&token).await.unwrap().unwrap().csrf_token,
        s.csrf_token
    );
    assert!(db.session("wrong").await.unwrap().is_none());
    db.delete_session(&token).await.unwrap();
    assert!(db.session(&token).await.unwrap().is_none());
    let (expired, _) = db.create_session(&u1, -10).await.unwrap();
    assert!(db.session(&expired).await.unwrap().is_none());
}

/// `n` workers claiming at once until nothing is left for them.
async fn futures_claims(db: &Db, n: usize) -> Vec<cutover_core::db::jobs::Job> {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..n {
        let db = db.clone();
        set.spawn(async move {
            let mut mine = Vec::new();
            while let Some(j) = db.claim(&format!("racer-{w}"), 60).await.unwrap() {
                mine.push(j);
            }
            mine
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r.unwrap());
    }
    all
}

#[tokio::test]
async fn repositories_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/m.db", dir.path().display()))
        .await
        .unwrap();
    suite(&db).await;
}

#[tokio::test]
async fn repositories_on_mariadb() {
    let maria = cutover_testkit::MariaDb::create().expect("MariaDB must be available");
    let db = Db::connect(&maria.url).await.unwrap();
    suite(&db).await;
}
