//! An append-only log of what happened to each user, shown to admins and users.

use super::{Db, DbError, now};
use crate::UserId;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub detail: String,
}

pub trait EventRepo {
    fn record_event(
        &self,
        user: Option<&UserId>,
        kind: &str,
        detail: &str,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn events_of(&self, user: &UserId) -> impl Future<Output = Result<Vec<Event>, DbError>> + Send;
}

impl EventRepo for Db {
    async fn record_event(
        &self,
        user: Option<&UserId>,
        kind: &str,
        detail: &str,
    ) -> Result<(), DbError> {
        sqlx::query("INSERT INTO events (user_id, at, kind, detail) VALUES (?, ?, ?, ?)")
            .bind(user.map(|u| u.as_str().to_string()))
            .bind(now())
            .bind(kind)
            .bind(detail)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn events_of(&self, user: &UserId) -> Result<Vec<Event>, DbError> {
        let rows =
            sqlx::query("SELECT id, at, kind, detail FROM events WHERE user_id = ? ORDER BY id")
                .bind(user.as_str())
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
