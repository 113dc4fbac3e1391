//! An OpenID Connect provider (the real `oidc-provider` from npm on Node) and
//! the authorization-code flow against it, driven with curl like a browser.
//!
//! Tokens are opaque and checked by RFC 7662 introspection, which is what
//! Dovecot's oauth2 passdb does (see [`crate::DovecotOptions::oauth2_introspection_url`]).

use crate::ports::free_port;
use crate::process::ServerProcess;
use crate::{BASE_DIR, random_token, run_cmd, write_public};
use anyhow::{Context as _, bail};
use base64::Engine as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pinned provider version (installed once into a cache under [`BASE_DIR`]).
pub const OIDC_PROVIDER_VERSION: &str = "9.13.3";
const SCRIPT: &str = include_str!("../assets/oidc-provider.mjs");
const CLIENT: &str = "cutover:cutover-secret";
const REDIRECT: &str = "http://127.0.0.1/callback";

/// Tokens from one authorization-code grant.
#[derive(Debug, Clone)]
pub struct OAuthTokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// A running provider; killed on drop.
pub struct OidcProvider {
    pub port: u16,
    process: ServerProcess,
    dir: tempfile::TempDir,
}

impl OidcProvider {
    /// Starts a provider knowing `users` (login, password); access tokens live
    /// `access_ttl_secs`. Dovecot's failure delay and our retries make short
    /// TTLs flaky: use 60 s or more.
    pub fn start(users: &[(&str, &str)], access_ttl_secs: u64) -> anyhow::Result<OidcProvider> {
        let modules = install()?;
        let dir = crate::server_dir("oidc")?;
        let d = dir.path();
        write_public(&d.join("provider.mjs"), SCRIPT)?;
        // ESM resolves packages from the script's directory upwards.
        std::os::unix::fs::symlink(&modules, d.join("node_modules"))
            .context("link node_modules")?;
        let port = free_port()?;
        let users: serde_json::Map<String, serde_json::Value> = users
            .iter()
            .map(|(u, p)| ((*u).to_owned(), serde_json::Value::from(*p)))
            .collect();
        let mut cmd = Command::new("node");
        cmd.arg(d.join("provider.mjs"))
            .env("PORT", port.to_string())
            .env("ACCESS_TTL", access_ttl_secs.to_string())
            .env("USERS", serde_json::Value::Object(users).to_string())
            .env("NODE_ENV", "test");
        let mut process = ServerProcess::spawn("oidc-provider", cmd, &d.join("provider.log"), &[])?;
        process.wait_ports(&[port])?;
        Ok(OidcProvider { port, process, dir })
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// For Dovecot's oauth2 passdb: the introspection endpoint with the
    /// resource server's client credentials.
    pub fn introspection_url(&self) -> String {
        format!(
            "http://dovecot:dovecot-secret@127.0.0.1:{}/token/introspection",
            self.port
        )
    }

    /// The token endpoint (client `cutover:cutover-secret`, HTTP Basic).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer())
    }

    /// The revocation endpoint (client `cutover:cutover-secret`, HTTP Basic).
    pub fn revocation_url(&self) -> String {
        format!("{}/token/revocation", self.issuer())
    }

    /// Signs `login` in through the provider's login and consent pages
    /// (authorization code + PKCE S256, `offline_access` for a refresh token).
    pub fn sign_in(&self, login: &str, password: &str) -> anyhow::Result<OAuthTokens> {
        let jar = self.dir.path().join(format!("cookies-{}", random_token(6)));
        let verifier = random_token(32);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(&verifier)?);
        let state = random_token(8);
        let op = self.issuer();
        let hop = |args: &[&str]| -> anyhow::Result<String> {
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "-o", "/dev/null", "-w", "%{redirect_url}", "-b"])
                .arg(&jar)
                .arg("-c")
                .arg(&jar)
                .args(args);
            let to = run_cmd(&mut cmd)?;
            if to.is_empty() {
                bail!("no redirect from {args:?}");
            }
            Ok(to)
        };
        let auth = format!("{op}/auth");
        let scope = "scope=openid email offline_access";
        let redirect = format!("redirect_uri={REDIRECT}");
        let state_arg = format!("state={state}");
        let challenge_arg = format!("code_challenge={challenge}");
        let mut args = vec!["-G", auth.as_str()];
        for p in [
            "client_id=cutover",
            "response_type=code",
            redirect.as_str(),
            scope,
            "prompt=consent",
            state_arg.as_str(),
            challenge_arg.as_str(),
            "code_challenge_method=S256",
        ] {
            args.extend(["--data-urlencode", p]);
        }
        let login_page = hop(&args)?;
        let login_arg = format!("login={login}");
        let password_arg = format!("password={password}");
        let resumed = hop(&[
            &format!("{login_page}/login"),
            "--data-urlencode",
            &login_arg,
            "--data-urlencode",
            &password_arg,
        ])?;
        let consent_page = hop(&[&resumed])?;
        if consent_page.starts_with(REDIRECT) {
            bail!("sign-in of {login} refused: {consent_page}");
        }
        let resumed = hop(&["-X", "POST", &format!("{consent_page}/confirm")])?;
        let callback = hop(&[&resumed])?;
        let _ = std::fs::remove_file(&jar);
        if query_param(&callback, "state").as_deref() != Some(state.as_str()) {
            bail!("state mismatch in {callback}");
        }
        let code = query_param(&callback, "code")
            .with_context(|| format!("no code in the callback {callback}"))?;
        let reply = self.token_request(&[
            "grant_type=authorization_code",
            &format!("code={code}"),
            &redirect,
            &format!("code_verifier={verifier}"),
        ])?;
        let field = |name: &str| -> anyhow::Result<String> {
            reply[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {name} in {reply}"))
        };
        Ok(OAuthTokens {
            access_token: field("access_token")?,
            refresh_token: field("refresh_token")?,
        })
    }

    /// A new access token from the refresh-token grant.
    pub fn refresh(&self, refresh_token: &str) -> anyhow::Result<String> {
        let reply = self.token_request(&[
            "grant_type=refresh_token",
            &format!("refresh_token={refresh_token}"),
        ])?;
        reply["access_token"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no access_token in {reply}"))
    }

    /// Revokes a token; introspection then reports it inactive (like an expired
    /// one). oidc-provider also revokes every other token of the same grant,
    /// refresh token included: sign in again for an independent token.
    pub fn revoke(&self, token: &str) -> anyhow::Result<()> {
        run_cmd(
            Command::new("curl")
                .args(["-sSf", "-u", CLIENT, "--data-urlencode"])
                .arg(format!("token={token}"))
                .arg(self.revocation_url()),
        )
        .map(|_| ())
    }

    fn token_request(&self, params: &[&str]) -> anyhow::Result<serde_json::Value> {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-u", CLIENT]);
        for p in params {
            cmd.args(["--data-urlencode", p]);
        }
        let out = run_cmd(cmd.arg(self.token_url()))?;
        serde_json::from_str(&out).with_context(|| format!("token endpoint said {out}"))
    }

    /// The provider's console output.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.process.stop();
    }
}

/// Installs the pinned `oidc-provider` once into `BASE_DIR/npm-oidc-provider-<v>`
/// (concurrent installers race to a rename); returns its `node_modules`.
fn install() -> anyhow::Result<PathBuf> {
    let cache = Path::new(BASE_DIR).join(format!("npm-oidc-provider-{OIDC_PROVIDER_VERSION}"));
    let modules = cache.join("node_modules");
    if modules.join("oidc-provider/package.json").exists() {
        return Ok(modules);
    }
    let staging = crate::server_dir("npm-install")?;
    let s = staging.path();
    write_public(
        &s.join("package.json"),
        format!(
            r#"{{"name":"cutover-kit-oidc","private":true,"type":"module","dependencies":{{"oidc-provider":"{OIDC_PROVIDER_VERSION}"}}}}"#
        ),
    )?;
    run_cmd(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(s),
    )
    .context("npm install oidc-provider (are nodejs and npm installed, with registry access?)")?;
    let staged = staging.keep();
    if std::fs::rename(&staged, &cache).is_err() {
        // Someone else finished first; theirs is as good as ours.
        let _ = std::fs::remove_dir_all(&staged);
    }
    if !modules.join("oidc-provider/package.json").exists() {
        bail!(
            "oidc-provider missing in {} after npm install",
            cache.display()
        );
    }
    Ok(modules)
}

fn sha256(data: &str) -> anyhow::Result<Vec<u8>> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("run openssl")?;
    child
        .stdin
        .take()
        .context("openssl stdin")?
        .write_all(data.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() || out.stdout.len() != 32 {
        bail!("openssl dgst failed ({})", out.status);
    }
    Ok(out.stdout)
}

/// One query parameter of a URL (values here are URL-safe; no decoding).
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}
