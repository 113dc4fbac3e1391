//! The autoconfig server against a real slapd: a user's answer follows the
//! LDAP migration flag, read at request time.

use cutover_autoconfig::{AutoconfigState, router};
use cutover_core::EmailAddress;
use cutover_core::config::{Config, LdapConfig};
use cutover_engine::directory::Directory;
use cutover_testkit::{Slapd, SlapdOptions};
use std::sync::Arc;

struct Server {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(config: Arc<Config>, dir: Directory) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let app = router(AutoconfigState::new(config, dir));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server {
        base: format!("http://{addr}"),
        task,
    }
}

async fn mozilla(http: &reqwest::Client, base: &str, email: &str) -> (u16, String) {
    let resp = http
        .get(format!("{base}/mail/config-v1.1.xml"))
        .query(&[("emailaddress", email)])
        .header("Host", "autoconfig.example.com")
        .send()
        .await
        .expect("GET autoconfig");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

async fn pox(http: &reqwest::Client, base: &str, email: &str) -> String {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{email}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#
    );
    let resp = http
        .post(format!("{base}/Autodiscover/Autodiscover.xml"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("POST autodiscover");
    assert_eq!(resp.status().as_u16(), 200);
    resp.text().await.expect("body")
}

fn slapd_ldap_config(slapd: &Slapd) -> LdapConfig {
    LdapConfig {
        url: slapd.url(),
        bind_dn: slapd.admin_dn.clone(),
        bind_password: Some(slapd.admin_password.clone().into()),
        base_dn: slapd.base_dn.clone(),
        ..LdapConfig::default()
    }
}

#[tokio::test]
async fn answers_follow_the_directory_flag() {
    let slapd = Slapd::start(SlapdOptions::default()).expect("start slapd");
    slapd
        .add_user(
            "u-ac-1",
            "alice.ac@example.com",
            "Alice Autoconfig",
            "secret",
            "legacy",
        )
        .expect("add user");

    let mut config = Config {
        ldap: slapd_ldap_config(&slapd),
        ..Config::default()
    };
    config.autoconfig.domains = vec!["example.com".into()];
    let config = Arc::new(config);
    let dir = Directory::connect(&config.ldap)
        .await
        .expect("connect to slapd");
    let server = serve(config.clone(), dir.clone()).await;
    let http = reqwest::Client::new();
    let legacy = &config.autoconfig.legacy;
    let target = &config.autoconfig.target;

    let (status, xml) = mozilla(&http, &server.base, "alice.ac@example.com").await;
    assert_eq!(status, 200);
    assert!(
        xml.contains(&format!("<hostname>{}</hostname>", legacy.imap_host)),
        "{xml}"
    );
    assert!(
        xml.contains("<username>alice.ac@example.com</username>"),
        "{xml}"
    );
    assert!(
        pox(&http, &server.base, "alice.ac@example.com")
            .await
            .contains(&format!("<Server>{}</Server>", legacy.imap_host))
    );

    // Unknown users in a served domain get the generic legacy answer, not an error.
    let (status, xml) = mozilla(&http, &server.base, "nobody@example.com").await;
    assert_eq!(status, 200);
    assert!(xml.contains(&format!("<hostname>{}</hostname>", legacy.imap_host)));
    // Domains we do not serve: 404.
    assert_eq!(
        mozilla(&http, &server.base, "alice@example.org").await.0,
        404
    );

    dir.flip_to_target(&EmailAddress::parse("alice.ac@example.com").expect("address"))
        .await
        .expect("flip");

    let (status, xml) = mozilla(&http, &server.base, "alice.ac@example.com").await;
    assert_eq!(status, 200);
    assert!(
        xml.contains(&format!("<hostname>{}</hostname>", target.imap_host)),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<hostname>{}</hostname>", target.smtp_host)),
        "{xml}"
    );
    let answer = pox(&http, &server.base, "alice.ac@example.com").await;
    assert!(
        answer.contains(&format!("<Server>{}</Server>", target.imap_host)),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("<Server>{}</Server>", target.smtp_host)),
        "{answer}"
    );
}
