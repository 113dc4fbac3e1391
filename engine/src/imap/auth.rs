//! SASL and LOGIN.

use super::conn::Conn;
use super::types::{Completion, Outcome};
use super::{Auth, ImapError, OAuthMechanism, TokenSource};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::secret::Secret;
use secrecy::{ExposeSecret, SecretString};
use std::borrow::Cow;

/// Authenticates; returns the tagged completion (it may carry capabilities).
pub(crate) async fn authenticate(
    conn: &mut Conn,
    auth: &Auth,
    caps: &[String],
) -> Result<Completion, ImapError> {
    let completion = match auth {
        Auth::Login { user, password } => {
            if caps.iter().any(|c| c.eq_ignore_ascii_case("LOGINDISABLED")) {
                return Err(ImapError::Auth("server has LOGINDISABLED".into()));
            }
            let username = AString::try_from(user.as_str())
                .map_err(|e| ImapError::Auth(format!("invalid user name: {e}")))?;
            let password = AString::try_from(password.expose_secret())
                .map_err(|_| ImapError::Auth("password cannot be sent with LOGIN".into()))?;
            let tag = conn
                .send(CommandBody::Login {
                    username,
                    password: Secret::new(password),
                })
                .await?;
            conn.wait(&tag).await?
        }
        Auth::Master {
            user,
            master,
            password,
        } => {
            let mut ir = Vec::new();
            ir.extend_from_slice(user.as_bytes());
            ir.push(0);
            ir.extend_from_slice(master.as_bytes());
            ir.push(0);
            ir.extend_from_slice(password.expose_secret().as_bytes());
            sasl(conn, AuthMechanism::Plain, ir, caps).await?
        }
        Auth::OAuth {
            user,
            token,
            mechanism,
        } => {
            let token = read_token(token).await?;
            let token = token.expose_secret();
            let (mech, ir) = match mechanism {
                OAuthMechanism::XOAuth2 => (
                    AuthMechanism::XOAuth2,
                    format!("user={user}\x01auth=Bearer {token}\x01\x01"),
                ),
                OAuthMechanism::OAuthBearer => (
                    AuthMechanism::OAuthBearer,
                    format!("n,a={user},\x01auth=Bearer {token}\x01\x01"),
                ),
            };
            sasl(conn, mech, ir.into_bytes(), caps).await?
        }
    };
    match completion.outcome {
        Outcome::Ok => Ok(completion),
        _ => Err(ImapError::Auth(completion.text)),
    }
}

async fn sasl(
    conn: &mut Conn,
    mechanism: AuthMechanism<'static>,
    initial: Vec<u8>,
    caps: &[String],
) -> Result<Completion, ImapError> {
    let sasl_ir = caps.iter().any(|c| c.eq_ignore_ascii_case("SASL-IR"));
    let (ir, mut pending) = if sasl_ir {
        (Some(Secret::new(Cow::Owned(initial))), None)
    } else {
        (None, Some(initial))
    };
    let tag = conn
        .send(CommandBody::Authenticate {
            mechanism,
            initial_response: ir,
        })
        .await?;
    loop {
        match conn.wait_or_continue(&tag, true).await? {
            Some(c) => return Ok(c),
            None => match pending.take() {
                Some(data) => conn.send_line(STANDARD.encode(data).as_bytes()).await?,
                // A challenge after our response is an error report (XOAUTH2):
                // answer empty so the server sends its tagged NO.
                None => conn.send_line(b"").await?,
            },
        }
    }
}

async fn read_token(source: &TokenSource) -> Result<SecretString, ImapError> {
    let raw = match source {
        TokenSource::File(path) => tokio::fs::read_to_string(path)
            .await
            .map_err(|e| ImapError::Token(format!("{}: {e}", path.display())))?,
        TokenSource::Command(cmd) => {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .output()
                .await
                .map_err(|e| ImapError::Token(format!("running token command: {e}")))?;
            if !out.status.success() {
                return Err(ImapError::Token(format!(
                    "token command exited with {}",
                    out.status
                )));
            }
            String::from_utf8(out.stdout)
                .map_err(|_| ImapError::Token("token command printed non-UTF-8".into()))?
        }
    };
    let token = raw.trim();
    if token.is_empty() {
        return Err(ImapError::Token("empty token".into()));
    }
    Ok(SecretString::from(token.to_owned()))
}
