//! The portal against the real legacy Dovecot: sign in with a wrong and a right
//! legacy password, then book a slot and check the migration DB.
#![allow(clippy::unwrap_used)]

use cutover_core::config::{Config, Security};
use cutover_core::db::Db;
use cutover_core::db::jobs::JobRepo;
use cutover_core::db::outbox::OutboxRepo;
use cutover_core::db::users::{Profile, UserRepo};
use cutover_core::{EmailAddress, MigrationState, UserId};
use cutover_testkit::{Dovecot, DovecotOptions};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use std::net::SocketAddr;
use std::sync::Arc;

const EMAIL: &str = "dora@example.com";
const PASSWORD: &str = "dora-legacy-pw";

struct Portal {
    base: String,
    http: reqwest::Client,
    db: Db,
    _dir: tempfile::TempDir,
}

async fn start_portal(legacy: &Dovecot) -> Portal {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("cutover.db").display()
    ))
    .await
    .unwrap();
    db.migrate().await.unwrap();
    db.upsert_profile(&Profile {
        id: UserId::parse("u-dora").unwrap(),
        email: EmailAddress::parse(EMAIL).unwrap(),
        display_name: "Dora Explorer".into(),
        locale: "en".into(),
        wave: "w1".into(),
    })
    .await
    .unwrap();

    let mut config = Config::default();
    config.legacy.host = "127.0.0.1".into();
    config.legacy.port = legacy.imap_port;
    config.legacy.security = Security::Plain;
    config.legacy.allow_plaintext = true;
    // Secure stays on as in production; the test sends cookies back itself.
    config.portal.secure_cookies = true;
    let config = Arc::new(config);
    let added = cutover_portal::ensure_slots(&db, &config.slots, cutover_core::db::now())
        .await
        .unwrap();
    assert!(added > 0);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = cutover_portal::router(cutover_portal::PortalState::new(db.clone(), config));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Portal {
        base,
        http,
        db,
        _dir: dir,
    }
}

/// `name=value` of the cookie `name` set by a response, and its full header.
fn cookie_of(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_string(), v.to_string()))
}

fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..start + 64].to_string()
}

impl Portal {
    async fn login(&self, password: &str) -> reqwest::Response {
        let res = self
            .http
            .get(format!("{}/", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let (csrf_cookie, _) = cookie_of(&res, "cutover_csrf").expect("csrf cookie");
        let csrf = hidden_csrf(&res.text().await.unwrap());
        self.http
            .post(format!("{}/login", self.base))
            .header(COOKIE, csrf_cookie)
            .form(&[("email", EMAIL), ("password", password), ("csrf", &csrf)])
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn sign_in_with_legacy_password_and_book_a_slot() {
    let legacy = Dovecot::start(DovecotOptions::legacy()).expect("start legacy dovecot");
    legacy.add_user(EMAIL, PASSWORD).expect("add user");
    let p = start_portal(&legacy).await;

    // Wrong password: refused by the legacy server, no session.
    let res = p.login("not-the-password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{}", legacy.log());
    assert!(cookie_of(&res, "cutover_session").is_none());
    assert!(res.text().await.unwrap().contains("not correct"));

    // Right password: a Secure, HttpOnly, strict session cookie and off to /me.
    let res = p.login(PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", legacy.log());
    assert_eq!(res.headers()[LOCATION], "/me");
    let (session, full) = cookie_of(&res, "cutover_session").expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(full.contains(flag), "{flag} missing in {full}");
    }

    let res = p
        .http
        .get(format!("{}/me", p.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(EMAIL));
    let csrf = hidden_csrf(&html);

    let me: serde_json::Value = p
        .http
        .get(format!("{}/api/me", p.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["state"], "imported");
    assert_eq!(me["can_book"], true);
    let slot = &me["slots"][0];
    let (slot_id, starts_at) = (
        slot["id"].as_i64().unwrap(),
        slot["starts_at"].as_i64().unwrap(),
    );

    // Booking twice is one booking, one job and one notice.
    for _ in 0..2 {
        let res = p
            .http
            .post(format!("{}/book", p.base))
            .header(COOKIE, &session)
            .form(&[("slot_id", slot_id.to_string()), ("csrf", csrf.clone())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/me?done=booked");
    }

    let user = UserId::parse("u-dora").unwrap();
    assert_eq!(
        p.db.user(&user).await.unwrap().unwrap().state,
        MigrationState::Scheduled
    );
    let jobs = p.db.jobs_of(&user).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (
            jobs[0].kind.as_str(),
            jobs[0].state.as_str(),
            jobs[0].run_at
        ),
        ("cutover", "queued", starts_at)
    );
    let notices = p.db.notices_of(&user).await.unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].template, "booking_confirmed");
    assert_eq!(notices[0].to_addr, EMAIL);
    assert_eq!(notices[0].params["slot_starts_at"], starts_at);

    let res = p
        .http
        .get(format!("{}/me?done=booked", p.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("Your time is booked"));
    assert!(html.contains("Your switch is booked for"));
}
