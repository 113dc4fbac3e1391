//! Portal sessions. The cookie carries a random token; only its SHA-256 is
//! stored, so a leaked database does not hand out live sessions.

use super::{Db, DbError, now};
use crate::UserId;
use sha2::{Digest, Sha256};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: UserId,
    pub csrf_token: String,
    pub expires_at: i64,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub trait SessionRepo {
    /// Returns the cookie token of a new session.
    fn create_session(
        &self,
        user: &UserId,
        ttl_secs: i64,
    ) -> impl Future<Output = Result<(String, Session), DbError>> + Send;
    fn session(&self, token: &str)
    -> impl Future<Output = Result<Option<Session>, DbError>> + Send;
    fn delete_session(&self, token: &str) -> impl Future<Output = Result<(), DbError>> + Send;
}

impl SessionRepo for Db {
    async fn create_session(
        &self,
        user: &UserId,
        ttl_secs: i64,
    ) -> Result<(String, Session), DbError> {
        let token = random_token();
        let session = Session {
            user_id: user.clone(),
            csrf_token: random_token(),
            expires_at: now() + ttl_secs,
        };
        sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(now())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(token_hash(&token))
        .bind(user.as_str())
        .bind(&session.csrf_token)
        .bind(session.expires_at)
        .execute(self.pool())
        .await?;
        Ok((token, session))
    }

    async fn session(&self, token: &str) -> Result<Option<Session>, DbError> {
        let row = sqlx::query("SELECT user_id, csrf_token, expires_at FROM sessions WHERE id_hash = ? AND expires_at >= ?")
            .bind(token_hash(token))
            .bind(now())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(Session {
                user_id: UserId::parse(&r.try_get::<String, _>("user_id")?)
                    .map_err(|e| DbError::Corrupt(e.to_string()))?,
                csrf_token: r.try_get("csrf_token")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(token_hash(token))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
