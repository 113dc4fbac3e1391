//! `cutover healthcheck`: readiness of everything cutover depends on. Each
//! check prints one line; the exit status is non-zero if any fails.

use cutover_core::config::Config;
use std::process::ExitCode;
use std::time::Duration;

async fn tcp(host: &str, port: u16) -> anyhow::Result<()> {
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))??;
    Ok(())
}

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let mut ok = true;
    let mut report = |name: &str, res: anyhow::Result<()>| match res {
        Ok(()) => println!("ok    {name}"),
        Err(e) => {
            ok = false;
            println!("FAIL  {name}: {e:#}");
        }
    };
    let db = async {
        let db = super::open_db(config).await?;
        db.ping().await?;
        anyhow::Ok(())
    };
    report(
        &format!("database {}", super::redact_url(&config.database.url)),
        db.await,
    );
    let ldap = cutover_engine::directory::Directory::connect(&config.ldap)
        .await
        .map(|_| ())
        .map_err(Into::into);
    report(&format!("directory {}", config.ldap.url), ldap);
    report(
        &format!("legacy IMAP {}:{}", config.legacy.host, config.legacy.port),
        tcp(&config.legacy.host, config.legacy.port).await,
    );
    report(
        &format!("target IMAP {}:{}", config.target.host, config.target.port),
        tcp(&config.target.host, config.target.port).await,
    );
    report(
        &format!(
            "SMTP {}:{}",
            config.mailer.smtp_host, config.mailer.smtp_port
        ),
        tcp(&config.mailer.smtp_host, config.mailer.smtp_port).await,
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
