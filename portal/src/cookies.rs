//! The two portal cookies, read from and written to raw headers.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

pub(crate) const SESSION_COOKIE: &str = "cutover_session";
pub(crate) const CSRF_COOKIE: &str = "cutover_csrf";

/// The value of cookie `name` from the request, if sent.
pub(crate) fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value; `max_age = Some(0)` deletes the cookie.
pub(crate) fn set(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

pub(crate) fn clear(name: &str, secure: bool) -> String {
    set(name, "", Some(0), secure)
}

/// Compares tokens in time independent of where they differ.
pub(crate) fn tokens_match(a: &str, b: &str) -> bool {
    if a.is_empty() || a.len() != b.len() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Our tokens are 64 hex characters; anything else from a client is ignored.
pub(crate) fn is_token(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; cutover_csrf=abc ; b=2"),
        );
        assert_eq!(get(&h, CSRF_COOKIE), Some("abc"));
        assert_eq!(get(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn compares_tokens() {
        assert!(tokens_match("abcd", "abcd"));
        assert!(!tokens_match("abcd", "abce"));
        assert!(!tokens_match("", ""));
        assert!(!tokens_match("abc", "abcd"));
    }
}
