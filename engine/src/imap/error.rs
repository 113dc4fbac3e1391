use thiserror::Error;

/// Everything that can go wrong talking to an IMAP server.
#[derive(Debug, Error)]
pub enum ImapError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed by the server")]
    Closed,
    #[error("server closed the session: {0}")]
    Bye(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("refusing to send credentials in plain text (security = plain not allowed here)")]
    PlaintextRefused,
    #[error("cannot obtain OAuth token: {0}")]
    Token(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("{command} refused: {status} {text}")]
    Refused {
        command: &'static str,
        status: &'static str,
        code: Option<String>,
        text: String,
    },
    #[error("server does not support {0}")]
    Unsupported(&'static str),
    #[error("timed out after {0} s")]
    Timeout(u64),
}

impl ImapError {
    /// True when the server rejected the credentials (not a transient failure).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, ImapError::Auth(_))
    }

    /// True when the connection is unusable afterwards.
    pub fn is_fatal_for_connection(&self) -> bool {
        matches!(
            self,
            ImapError::Connect { .. }
                | ImapError::Tls(_)
                | ImapError::Io(_)
                | ImapError::Closed
                | ImapError::Bye(_)
                | ImapError::Protocol(_)
                | ImapError::Timeout(_)
        )
    }

    /// The response code of a tagged NO/BAD (`TRYCREATE`, `OVERQUOTA`, …), if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            ImapError::Refused { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}
