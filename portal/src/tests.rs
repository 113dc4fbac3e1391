//! Router tests with `oneshot` against a temp SQLite database. None of them
//! reaches the legacy server (that is the e2e test's job, against real Dovecot).

use super::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use cutover_core::config::Config;
use cutover_core::db::Db;
use cutover_core::db::jobs::JobRepo;
use cutover_core::db::outbox::OutboxRepo;
use cutover_core::db::sessions::SessionRepo;
use cutover_core::db::slots::SlotRepo;
use cutover_core::db::users::{Profile, UserRepo};
use cutover_core::{EmailAddress, MigrationState, UserId};
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt as _;

struct TestApp {
    db: Db,
    state: PortalState,
    _dir: tempfile::TempDir,
}

async fn app(attempts: u32) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("portal.db").display()
    ))
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let mut config = Config::default();
    config.portal.login_attempts = attempts;
    // Nothing listens here: a test that reaches the legacy check gets a 503.
    config.legacy.port = 1;
    let state = PortalState::new(db.clone(), Arc::new(config));
    TestApp {
        db,
        state,
        _dir: dir,
    }
}

impl TestApp {
    async fn send(&self, req: Request<Body>) -> Response<Body> {
        router(self.state.clone()).oneshot(req).await.unwrap()
    }

    /// An imported user with a live session: (cookie header, csrf token).
    async fn signed_in(&self, email: &str) -> (String, String) {
        let id = UserId::parse(&format!("u-{}", email.replace('@', "-"))).unwrap();
        let profile = Profile {
            id: id.clone(),
            email: EmailAddress::parse(email).unwrap(),
            display_name: "Test User".into(),
            locale: "en".into(),
            wave: "w1".into(),
        };
        self.db.upsert_profile(&profile).await.unwrap();
        let (token, session) = self.db.create_session(&id, 600).await.unwrap();
        (format!("cutover_session={token}"), session.csrf_token)
    }
}

fn post_form(uri: &str, cookie: &str, body: &str, ip: [u8; 4]) -> Request<Body> {
    let mut req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

async fn body_text(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn set_cookies(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

const CSRF: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn sign_in_form_sets_a_strict_csrf_cookie_and_security_headers() {
    let t = app(5).await;
    let res = t.send(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let c = &cookies[0];
    assert!(c.starts_with("cutover_csrf="), "{c}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(c.contains(flag), "{flag} missing in {c}");
    }
    let h = res.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    let token = c
        .trim_start_matches("cutover_csrf=")
        .split(';')
        .next()
        .unwrap();
    let html = body_text(res).await;
    assert!(html.contains(&format!("name=\"csrf\" value=\"{token}\"")));
    assert!(!html.contains("<script"));
}

#[tokio::test]
async fn login_without_matching_csrf_is_forbidden() {
    let t = app(5).await;
    let body = "email=a%40example.com&password=x&csrf=";
    let res = t.send(post_form("/login", "", body, [10, 0, 0, 1])).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let other = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let body = format!("email=a%40example.com&password=x&csrf={other}");
    let res = t
        .send(post_form(
            "/login",
            &format!("cutover_csrf={CSRF}"),
            &body,
            [10, 0, 0, 1],
        ))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_address_is_told_it_is_not_in_the_migration() {
    let t = app(5).await;
    let body = format!("email=nobody%40example.com&password=x&csrf={CSRF}");
    let res = t
        .send(post_form(
            "/login",
            &format!("cutover_csrf={CSRF}"),
            &body,
            [10, 0, 0, 1],
        ))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(body_text(res).await.contains("not part of the migration"));
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_and_per_ip() {
    let t = app(2).await;
    let cookie = format!("cutover_csrf={CSRF}");
    let login = |email: &str, ip: [u8; 4]| {
        post_form(
            "/login",
            &cookie,
            &format!("email={email}&password=x&csrf={CSRF}"),
            ip,
        )
    };
    // Per address: two failures from different IPs, then the address is blocked.
    assert_eq!(
        t.send(login("x%40example.com", [10, 0, 0, 1]))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.send(login("x%40example.com", [10, 0, 0, 2]))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = t.send(login("x%40example.com", [10, 0, 0, 3])).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(body_text(res).await.contains("Too many attempts"));
    // Per IP: 10.0.0.1 failed once above; one more address from it fills its quota.
    assert_eq!(
        t.send(login("y%40example.com", [10, 0, 0, 1]))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.send(login("z%40example.com", [10, 0, 0, 1]))
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client and address is unaffected.
    assert_eq!(
        t.send(login("z%40example.com", [10, 0, 0, 9]))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn pages_need_a_session() {
    let t = app(5).await;
    let res = t
        .send(Request::get("/me").body(Body::empty()).unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/");
    let res = t
        .send(Request::get("/api/me").body(Body::empty()).unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = t
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .send(Request::get("/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn booking_needs_the_session_csrf_token_and_schedules_the_cutover() {
    let t = app(5).await;
    let now = cutover_core::db::now();
    let start = now + 3 * 3600;
    t.db.ensure_slots(&[start], 10).await.unwrap();
    let slot = t.db.open_slots(now, 10).await.unwrap()[0].clone();
    let (cookie, csrf) = t.signed_in("alice@example.com").await;

    let res = t
        .send(
            Request::get("/me")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("alice@example.com"));
    assert!(html.contains(&format!("value=\"{}\"", slot.id.0)));

    let forged = format!("slot_id={}&csrf={CSRF}", slot.id.0);
    let res = t
        .send(post_form("/book", &cookie, &forged, [10, 0, 0, 1]))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let user = UserId::parse("u-alice-example.com").unwrap();
    assert!(t.db.booking(&user).await.unwrap().is_none());

    let ok = format!("slot_id={}&csrf={csrf}", slot.id.0);
    for _ in 0..2 {
        let res = t
            .send(post_form("/book", &cookie, &ok, [10, 0, 0, 1]))
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/me?done=booked");
    }
    assert_eq!(
        t.db.user(&user).await.unwrap().unwrap().state,
        MigrationState::Scheduled
    );
    let jobs = t.db.jobs_of(&user).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].kind.as_str(), jobs[0].run_at), ("cutover", start));
    let notices = t.db.notices_of(&user).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].params["slot_starts_at"], start);
    assert_eq!(t.db.slot(slot.id).await.unwrap().unwrap().booked, 1);

    let res = t
        .send(
            Request::get("/api/me")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(json["state"], "scheduled");
    assert_eq!(json["booking"]["starts_at"], start);
}

#[tokio::test]
async fn slots_inside_the_lead_time_cannot_be_booked() {
    let t = app(5).await;
    let soon = cutover_core::db::now() + 60;
    t.db.ensure_slots(&[soon], 10).await.unwrap();
    let slot = t.db.open_slots(0, 10).await.unwrap()[0].clone();
    let (cookie, csrf) = t.signed_in("bob@example.com").await;
    let res = t
        .send(post_form(
            "/book",
            &cookie,
            &format!("slot_id={}&csrf={csrf}", slot.id.0),
            [10, 0, 0, 1],
        ))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(body_text(res).await.contains("too close"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let t = app(5).await;
    let (cookie, csrf) = t.signed_in("carol@example.com").await;
    let res = t
        .send(post_form("/logout", &cookie, "csrf=wrong", [10, 0, 0, 1]))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = t
        .send(post_form(
            "/logout",
            &cookie,
            &format!("csrf={csrf}"),
            [10, 0, 0, 1],
        ))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(&res)[0].contains("Max-Age=0"));
    let res = t
        .send(
            Request::get("/me")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn ensure_slots_is_idempotent() {
    let t = app(5).await;
    let cfg = cutover_core::config::SlotsConfig {
        interval_minutes: 60,
        horizon_hours: 5,
        capacity: 3,
        lead_minutes: 0,
    };
    let now = 3600 * 500_000 + 5;
    assert_eq!(ensure_slots(&t.db, &cfg, now).await.unwrap(), 5);
    assert_eq!(ensure_slots(&t.db, &cfg, now).await.unwrap(), 0);
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let t = app(5).await;
    let res = t
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert!(res.headers().get("x-request-id").is_some());
}
