//! `GET /` shows the sign-in form, `POST /login` checks the legacy password.

use crate::cookies::{self, CSRF_COOKIE, SESSION_COOKIE};
use crate::error::PortalError;
use crate::legacy::LoginResult;
use crate::session::{ClientIp, SignedIn};
use crate::state::PortalState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use cutover_core::EmailAddress;
use cutover_core::db::sessions::{SessionRepo, random_token};
use cutover_core::db::users::UserRepo;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "pages/login.html")]
pub(crate) struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

/// Deliberately without `Debug`: it holds the password.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    password: SecretString,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn form(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    if SignedIn::lookup(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/me").into_response());
    }
    let secure = state.config.portal.secure_cookies;
    // Login CSRF: a pre-session double-submit token, cookie + hidden field.
    let page = |csrf: String| LoginPage {
        csrf,
        email: String::new(),
        error: None,
    };
    Ok(
        match cookies::get(&headers, CSRF_COOKIE).filter(|t| cookies::is_token(t)) {
            Some(token) => page(token.to_string()).into_response(),
            None => {
                let token = random_token();
                let set = cookies::set(CSRF_COOKIE, &token, None, secure);
                (AppendHeaders([(SET_COOKIE, set)]), page(token)).into_response()
            }
        },
    )
}

pub(crate) async fn submit(
    State(state): State<PortalState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PortalError> {
    let csrf = cookies::get(&headers, CSRF_COOKIE).unwrap_or_default();
    if !cookies::tokens_match(csrf, &form.csrf) {
        return Err(PortalError::BadCsrf);
    }
    let again = |status: StatusCode, error: String| {
        let page = LoginPage {
            csrf: csrf.to_string(),
            email: form.email.trim().to_string(),
            error: Some(error),
        };
        Ok((status, page).into_response())
    };
    let ip_key = format!("ip:{ip}");
    if state.limiter.is_blocked(&ip_key) {
        metrics::counter!("cutover_portal_logins_total", "result" => "limited").increment(1);
        return Err(PortalError::TooManyAttempts);
    }
    let Ok(email) = EmailAddress::parse(&form.email) else {
        state.limiter.record_failure(&ip_key);
        return again(
            StatusCode::BAD_REQUEST,
            "Please enter a valid e-mail address.".into(),
        );
    };
    let addr_key = format!("addr:{email}");
    if state.limiter.is_blocked(&addr_key) {
        metrics::counter!("cutover_portal_logins_total", "result" => "limited").increment(1);
        return Err(PortalError::TooManyAttempts);
    }
    let fail = || {
        state.limiter.record_failure(&ip_key);
        state.limiter.record_failure(&addr_key);
    };
    let Some(user) = state.db.user_by_email(&email).await? else {
        fail();
        metrics::counter!("cutover_portal_logins_total", "result" => "unknown_address")
            .increment(1);
        tracing::info!(%email, %ip, "sign-in refused: address not in the migration");
        return again(
            StatusCode::FORBIDDEN,
            format!(
                "The address {email} is not part of the migration. Check the spelling, or contact your support team."
            ),
        );
    };
    match state.legacy.check(&email, &form.password).await? {
        LoginResult::Rejected => {
            fail();
            metrics::counter!("cutover_portal_logins_total", "result" => "rejected").increment(1);
            tracing::info!(user = %user.id, %ip, "sign-in refused: wrong password");
            again(
                StatusCode::UNAUTHORIZED,
                "The e-mail address or the password is not correct.".into(),
            )
        }
        LoginResult::Accepted => {
            state.limiter.reset(&addr_key);
            let ttl = i64::from(state.config.portal.session_minutes.max(1)) * 60;
            let (token, _) = state.db.create_session(&user.id, ttl).await?;
            metrics::counter!("cutover_portal_logins_total", "result" => "accepted").increment(1);
            tracing::info!(user = %user.id, %ip, "signed in");
            let secure = state.config.portal.secure_cookies;
            let cookies = AppendHeaders([
                (
                    SET_COOKIE,
                    cookies::set(SESSION_COOKIE, &token, Some(ttl), secure),
                ),
                (SET_COOKIE, cookies::clear(CSRF_COOKIE, secure)),
            ]);
            Ok((cookies, Redirect::to("/me")).into_response())
        }
    }
}
