//! Reading what clients send: query parameters with any casing, the Host header.

use axum::http::{HeaderMap, Uri, header};

/// The first query parameter whose name matches `name` case-insensitively
/// (Outlook and friends are inconsistent: `Email`, `email`, `Protocol`…).
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// The host the client asked for (Host header, or the authority on HTTP/2).
pub(crate) fn host(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.host().map(str::to_owned))
}

/// `autoconfig.example.com:8443` → `example.com`. Host and port are split,
/// never concatenated back (research P10).
pub(crate) fn domain_of_host(host: &str) -> Option<String> {
    let host = host.trim();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let name = name
        .strip_prefix("autoconfig.")
        .or_else(|| name.strip_prefix("autodiscover."))
        .unwrap_or(&name)
        .to_string();
    (!name.is_empty()).then_some(name)
}

pub(crate) fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_prefixes_and_ports_are_stripped() {
        assert_eq!(
            domain_of_host("autoconfig.Example.com:8443").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            domain_of_host("autodiscover.example.com.").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            domain_of_host("example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(domain_of_host("").as_deref(), None);
    }

    #[test]
    fn query_names_are_case_insensitive() {
        let q = Some("email=alice%40example.com&PROTOCOL=AutodiscoverV1");
        assert_eq!(
            query_param(q, "Email").as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            query_param(q, "protocol").as_deref(),
            Some("AutodiscoverV1")
        );
        assert_eq!(query_param(None, "email"), None);
    }
}
