//! `cutover copy`: a one-off IMAP-to-IMAP copy, usable without any configuration.
//! Sync state lives in the migration database, so a second identical run copies
//! nothing.

use anyhow::{Context, bail};
use clap::Args;
use cutover_engine::copy::{CopyOptions, CopyReport, Progress, sync_mailbox};
use cutover_engine::imap::{Auth, Endpoint, OAuthMechanism, Security, TokenSource};
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::SecretString;
use std::path::PathBuf;
use std::process::ExitCode;

/// How to reach the source and the target (shared with `cutover verify`).
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Source account: imap://user@host:port or imaps://user@host:port.
    #[arg(long)]
    pub source: String,
    /// Target account: imap://user@host:port or imaps://user@host:port.
    #[arg(long)]
    pub target: String,
    /// File holding the source password (else env CUTOVER_SOURCE_PASSWORD).
    #[arg(long)]
    pub source_password_file: Option<PathBuf>,
    /// File holding the target password (else env CUTOVER_TARGET_PASSWORD).
    #[arg(long)]
    pub target_password_file: Option<PathBuf>,
    /// Log in to the source as this master user on behalf of the URL's user.
    #[arg(long)]
    pub source_master: Option<String>,
    /// Log in to the target as this master user on behalf of the URL's user.
    #[arg(long)]
    pub target_master: Option<String>,
    /// OAuth access token file for the source (re-read on every connection).
    #[arg(long)]
    pub source_oauth_token_file: Option<PathBuf>,
    /// Shell command printing an OAuth access token for the source.
    #[arg(long)]
    pub source_oauth_command: Option<String>,
    /// OAuth access token file for the target.
    #[arg(long)]
    pub target_oauth_token_file: Option<PathBuf>,
    /// Shell command printing an OAuth access token for the target.
    #[arg(long)]
    pub target_oauth_command: Option<String>,
    /// SASL mechanism for OAuth logins.
    #[arg(long, default_value = "xoauth2", value_parser = ["xoauth2", "oauthbearer"])]
    pub oauth_mechanism: String,
    /// Allow imap:// without STARTTLS (credentials in clear text).
    #[arg(long)]
    pub allow_plaintext: bool,
    /// Extra CA certificate (PEM) to trust for both servers.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

struct Side<'a> {
    url: &'a str,
    password_file: Option<&'a PathBuf>,
    env: &'static str,
    master: Option<&'a String>,
    token_file: Option<&'a PathBuf>,
    token_command: Option<&'a String>,
}

impl ConnArgs {
    pub fn source_endpoint(&self) -> anyhow::Result<Endpoint> {
        self.endpoint(Side {
            url: &self.source,
            password_file: self.source_password_file.as_ref(),
            env: "CUTOVER_SOURCE_PASSWORD",
            master: self.source_master.as_ref(),
            token_file: self.source_oauth_token_file.as_ref(),
            token_command: self.source_oauth_command.as_ref(),
        })
        .context("--source")
    }

    pub fn target_endpoint(&self) -> anyhow::Result<Endpoint> {
        self.endpoint(Side {
            url: &self.target,
            password_file: self.target_password_file.as_ref(),
            env: "CUTOVER_TARGET_PASSWORD",
            master: self.target_master.as_ref(),
            token_file: self.target_oauth_token_file.as_ref(),
            token_command: self.target_oauth_command.as_ref(),
        })
        .context("--target")
    }

    /// A stable sync-state key for this pair of accounts.
    pub fn account_key(&self) -> String {
        format!(
            "copy:{} -> {}",
            strip_secret(&self.source),
            strip_secret(&self.target)
        )
    }

    fn endpoint(&self, side: Side<'_>) -> anyhow::Result<Endpoint> {
        let url = url::Url::parse(side.url)
            .with_context(|| format!("invalid URL {:?}", strip_secret(side.url)))?;
        if !url.password().unwrap_or("").is_empty() {
            bail!("put the password in a file or the environment, not in the URL");
        }
        let (security, default_port) = match url.scheme() {
            "imaps" => (Security::Tls, 993),
            "imap" if self.allow_plaintext => (Security::Plain, 143),
            "imap" => (Security::StartTls, 143),
            other => bail!("unsupported scheme {other:?} (use imap:// or imaps://)"),
        };
        let host = url
            .host_str()
            .context("URL has no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let user = percent_decode(url.username());
        if user.is_empty() {
            bail!("URL has no user (imap://user@host)");
        }
        let auth = if side.token_file.is_some() || side.token_command.is_some() {
            let token = match (side.token_file, side.token_command) {
                (Some(f), _) => TokenSource::File(f.clone()),
                (None, Some(c)) => TokenSource::Command(c.clone()),
                (None, None) => unreachable!("checked above"),
            };
            let mechanism = if self.oauth_mechanism == "oauthbearer" {
                OAuthMechanism::OAuthBearer
            } else {
                OAuthMechanism::XOAuth2
            };
            Auth::OAuth {
                user,
                token,
                mechanism,
            }
        } else {
            let password = read_password(side.password_file, side.env)?;
            match side.master {
                Some(master) => Auth::Master {
                    user,
                    master: master.clone(),
                    password,
                },
                None => Auth::Login { user, password },
            }
        };
        Ok(Endpoint {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            auth,
            ca_file: self.ca_file.clone(),
        })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn strip_secret(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

fn read_password(file: Option<&PathBuf>, env: &str) -> anyhow::Result<SecretString> {
    let raw = match file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => std::env::var(env)
            .with_context(|| format!("no password: give a password file or set {env}"))?,
    };
    let pw = raw.trim_end_matches(['\r', '\n']).to_owned();
    if pw.is_empty() {
        bail!("empty password");
    }
    Ok(SecretString::from(pw))
}

#[derive(Args, Debug)]
pub struct CopyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Print one JSON summary object instead of text and a progress bar.
    #[arg(long)]
    pub json: bool,
    /// Migration database holding the sync state.
    #[arg(long, default_value = "sqlite://cutover.db", env = "CUTOVER_DATABASE")]
    pub database: String,
    /// Folders copied at once (one connection per side each).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Do not propagate source deletions of copied messages.
    #[arg(long)]
    pub no_expunge: bool,
    /// Messages per fetch/append batch.
    #[arg(long, default_value_t = CopyOptions::default().batch_messages)]
    pub batch_messages: usize,
    /// Message bytes per fetch/append batch (bounds memory per connection pair).
    #[arg(long, default_value_t = CopyOptions::default().batch_bytes)]
    pub batch_bytes: u64,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn planned(&self, messages: u64) {
        self.0.set_length(messages);
    }
    fn advanced(&self, messages: u64, _bytes: u64) {
        self.0.inc(messages);
    }
    fn folder(&self, name: &str) {
        self.0.set_message(name.to_owned());
    }
}

pub async fn run(args: CopyArgs) -> anyhow::Result<ExitCode> {
    let source = args.conn.source_endpoint()?;
    let target = args.conn.target_endpoint()?;
    let db = cutover_core::db::Db::connect(&args.database)
        .await
        .context("opening the database")?;
    db.migrate().await.context("migrating the database")?;
    let opts = CopyOptions {
        concurrency: args.concurrency.max(1),
        propagate_expunges: !args.no_expunge,
        batch_messages: args.batch_messages.max(1),
        batch_bytes: args.batch_bytes.max(1),
        ..CopyOptions::default()
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} msgs {per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    };
    let progress = Bar(bar);
    let report = sync_mailbox(
        &db,
        &args.conn.account_key(),
        &source,
        &target,
        &opts,
        &progress,
    )
    .await?;
    progress.0.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(r: &CopyReport) {
    for f in &r.folders {
        println!(
            "{:<40} {:>6} copied {:>6} already there{}",
            f.source,
            f.copied,
            f.skipped,
            if f.errors > 0 {
                format!(" {} errors", f.errors)
            } else {
                String::new()
            }
        );
    }
    for e in &r.errors {
        match e.uid {
            Some(uid) => println!("error: {} UID {uid}: {}", e.folder, e.reason),
            None => println!("error: {}: {}", e.folder, e.reason),
        }
    }
    println!(
        "{} copied, {} already there, {} bytes, {} errors in {:.2} s",
        r.messages_copied,
        r.messages_skipped,
        r.bytes,
        r.errors.len(),
        r.seconds
    );
}
