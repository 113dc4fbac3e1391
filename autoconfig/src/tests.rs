use super::*;
use crate::lookup::LookupFuture;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use std::collections::HashMap;

/// Placements by address; `down@example.com` simulates a directory outage.
struct MapLookup(HashMap<&'static str, Placement>);

impl RouteLookup for MapLookup {
    fn placement<'a>(&'a self, email: &'a EmailAddress) -> LookupFuture<'a> {
        Box::pin(async move {
            if email.as_str() == "down@example.com" {
                return Err(LookupError("connection refused".into()));
            }
            Ok(self
                .0
                .get(email.as_str())
                .copied()
                .unwrap_or(Placement::Legacy))
        })
    }
}

fn app() -> Router {
    let mut config = Config::default();
    config.autoconfig.domains = vec!["example.com".into()];
    config.autoconfig.display_name = "Example & Co Mail".into();
    let lookup = MapLookup(HashMap::from([("moved@example.com", Placement::Target)]));
    router(AutoconfigState::new(Arc::new(config), lookup))
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn call(method: Method, uri: &str, host: &str, body: &str) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = app().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(uri: &str) -> Answer {
    call(Method::GET, uri, "autoconfig.example.com", "").await
}

/// Fails unless `xml` is well-formed; returns all text content.
fn well_formed_text(xml: &str) -> String {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut text = String::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Text(t) => text.push_str(&t.xml10_content()),
            quick_xml::events::Event::GeneralRef(r) => {
                let resolved = quick_xml::escape::unescape(&format!("&{};", r.xml10_content()))
                    .unwrap()
                    .into_owned();
                text.push_str(&resolved);
            }
            quick_xml::events::Event::Eof => return text,
            _ => {}
        }
    }
}

#[tokio::test]
async fn mozilla_gives_a_switched_user_the_target() {
    let a = get("/mail/config-v1.1.xml?emailaddress=Moved%40Example.com").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.headers[header::CONTENT_TYPE],
        "application/xml; charset=utf-8"
    );
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    assert!(
        a.body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">"
        ),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("<emailProvider id=\"example.com\">"),
        "{}",
        a.body
    );
    assert!(a.body.contains("<incomingServer type=\"imap\">"));
    assert!(a.body.contains("<hostname>imap.new.example.com</hostname>"));
    assert!(a.body.contains("<socketType>SSL</socketType>"));
    assert!(a.body.contains("<outgoingServer type=\"smtp\">"));
    assert!(a.body.contains("<socketType>STARTTLS</socketType>"));
    assert!(a.body.contains("<username>moved@example.com</username>"));
    assert!(
        a.body
            .contains("<authentication>password-cleartext</authentication>")
    );
    assert!(
        a.body
            .contains("<displayName>Example &amp; Co Mail</displayName>"),
        "{}",
        a.body
    );
    well_formed_text(&a.body);
}

#[tokio::test]
async fn mozilla_without_address_uses_the_host_and_placeholders() {
    for uri in [
        "/mail/config-v1.1.xml",
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/mail/config-v1.1.xml?emailaddress=",
    ] {
        let a = get(uri).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}");
        assert!(
            a.body.contains("<username>%EMAILADDRESS%</username>"),
            "{}",
            a.body
        );
        assert!(
            a.body.contains("<hostname>imap.example.com</hostname>"),
            "legacy servers expected"
        );
    }
    let a = call(
        Method::GET,
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "example.com:8443",
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn hostile_addresses_never_reach_the_xml_unescaped() {
    // Not a valid address: falls back to the domain, with placeholders.
    let a = get("/mail/config-v1.1.xml?emailaddress=%22%3Cx%3E%26%22%40example.com").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(!a.body.contains("<x>"), "{}", a.body);
    assert!(a.body.contains("<username>%EMAILADDRESS%</username>"));
    well_formed_text(&a.body);
    // A legal address with '&' and '\'' is escaped.
    let a = get("/mail/config-v1.1.xml?emailaddress=o'neil%26co%40example.com").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.contains("o&apos;neil&amp;co@example.com")
            || a.body.contains("o'neil&amp;co@example.com"),
        "{}",
        a.body
    );
    assert!(well_formed_text(&a.body).contains("o'neil&co@example.com"));
}

#[tokio::test]
async fn unknown_domains_get_404() {
    assert_eq!(
        get("/mail/config-v1.1.xml?emailaddress=bob%40example.org")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let a = call(
        Method::GET,
        "/mail/config-v1.1.xml",
        "autoconfig.example.org",
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = call(
        Method::POST,
        "/autodiscover/autodiscover.xml",
        "example.org",
        &pox_body("bob@example.org", OUTLOOK),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(get("/nothing-here").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn directory_outage_is_503_with_a_generic_body() {
    let a = get("/mail/config-v1.1.xml?emailaddress=down%40example.com").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!a.body.contains("refused"), "{}", a.body);
}

const OUTLOOK: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const MOBILESYNC: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006";

fn pox_body(email: &str, schema: &str) -> String {
    format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\n  <Request>\n    <EMailAddress>{email}</EMailAddress>\n    <AcceptableResponseSchema>{schema}</AcceptableResponseSchema>\n  </Request>\n</Autodiscover>"
    )
}

#[tokio::test]
async fn pox_answers_imap_and_smtp_in_any_path_casing() {
    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
        "/AutoDiscover/AutoDiscover.XML",
    ] {
        let a = call(
            Method::POST,
            path,
            "autodiscover.example.com",
            &pox_body("moved@example.com", OUTLOOK),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(a.headers[header::CONTENT_TYPE], "text/xml; charset=utf-8");
        assert!(a.body.contains("<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">"), "{}", a.body);
        assert!(a.body.contains(&format!("<Response xmlns=\"{OUTLOOK}\">")));
        assert!(a.body.contains("<Action>settings</Action>"));
        assert!(a.body.contains("<Type>IMAP</Type>"));
        assert!(a.body.contains("<Server>imap.new.example.com</Server>"));
        assert!(a.body.contains("<Type>SMTP</Type>"));
        assert!(
            a.body.contains("<Encryption>TLS</Encryption>"),
            "STARTTLS must be signalled: {}",
            a.body
        );
        assert!(a.body.contains("<LoginName>moved@example.com</LoginName>"));
        well_formed_text(&a.body);
    }
    // No schema element and a legacy user: still settings, legacy hosts.
    let body = "<Autodiscover><Request><EMailAddress>alice@example.com</EMailAddress></Request></Autodiscover>";
    let a = call(
        Method::POST,
        "/autodiscover/autodiscover.xml",
        "example.com",
        body,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.contains("<Server>imap.example.com</Server>"),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn pox_errors_are_autodiscover_documents() {
    let a = call(
        Method::POST,
        "/autodiscover/autodiscover.xml",
        "example.com",
        &pox_body("alice@example.com", MOBILESYNC),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("<ErrorCode>601</ErrorCode>"), "{}", a.body);
    let a = call(
        Method::POST,
        "/autodiscover/autodiscover.xml",
        "example.com",
        "<Autodiscover><Request>",
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("<ErrorCode>600</ErrorCode>"), "{}", a.body);
    let a = call(
        Method::POST,
        "/autodiscover/autodiscover.xml",
        "example.com",
        &pox_body("&quot;&lt;x&gt;&amp;&quot;@example.com", OUTLOOK),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.contains("<ErrorCode>600</ErrorCode>") && !a.body.contains("<x>"),
        "{}",
        a.body
    );
    let a = call(
        Method::GET,
        "/autodiscover/autodiscover.xml",
        "autodiscover.example.com",
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("<ErrorCode>600</ErrorCode>"));
    assert!(a.body.contains("<DebugData"), "{}", a.body);
}

#[test]
fn pox_request_parsing_is_tolerant() {
    let body = "<a:Autodiscover xmlns:a=\"x\"><a:Request><a:EMailAddress> alice&amp;bob@example.com </a:EMailAddress><Unknown/></a:Request></a:Autodiscover>";
    let req = pox::parse_request(body.as_bytes()).unwrap();
    assert_eq!(req.email.as_deref(), Some("alice&bob@example.com"));
    assert_eq!(req.schema, None);
    assert!(pox::parse_request(b"").is_err());
    assert!(pox::parse_request(b"\xff\xfe").is_err());
}

#[tokio::test]
async fn autodiscover_v2_points_at_the_pox_endpoint() {
    let a = get("/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=AutodiscoverV1&RedirectCount=1").await;
    assert_eq!(a.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["Protocol"], "AutodiscoverV1");
    assert_eq!(
        v["Url"],
        "https://autodiscover.example.com/autodiscover/autodiscover.xml"
    );
    let a =
        get("/Autodiscover/Autodiscover.json/v1.0/alice@example.com?protocol=autodiscoverv1").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a =
        get("/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=ActiveSync").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["ErrorCode"], "InvalidProtocol");
    let a = get("/autodiscover/autodiscover.json?Email=bob%40example.org&Protocol=AutodiscoverV1")
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn apple_profile_is_a_stable_plist() {
    let a = get("/apple/mobileconfig?emailaddress=moved%40example.com").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.headers[header::CONTENT_TYPE],
        "application/x-apple-aspen-config"
    );
    assert_eq!(
        a.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"example.com.mobileconfig\""
    );
    assert!(a.body.contains("<!DOCTYPE plist PUBLIC"), "{}", a.body);
    assert!(a.body.contains("<string>com.apple.mail.managed</string>"));
    assert!(a.body.contains("<string>imap.new.example.com</string>"));
    assert!(a.body.contains("<key>IncomingMailServerUseSSL</key>"));
    assert!(
        a.body
            .contains("<string>Example &amp; Co Mail (moved@example.com)</string>"),
        "{}",
        a.body
    );
    well_formed_text(&a.body);
    let again = get("/apple/mobileconfig?emailaddress=moved%40example.com").await;
    assert_eq!(
        a.body, again.body,
        "identifiers and UUIDs must be deterministic"
    );
    assert_eq!(
        get("/apple/mobileconfig").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn healthz_answers() {
    let a = get("/healthz").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, "ok");
}
