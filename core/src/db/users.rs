//! The users aggregate: profile attributes plus migration state.

use super::{Db, DbError, now};
use crate::{EmailAddress, MigrationState, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: EmailAddress,
    pub display_name: String,
    pub locale: String,
    pub wave: String,
    pub state: MigrationState,
    pub failed_step: Option<String>,
    pub last_error: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A profile as the customer's extract describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: UserId,
    pub email: EmailAddress,
    pub display_name: String,
    pub locale: String,
    pub wave: String,
}

impl Profile {
    /// Hash of the imported attributes: re-importing an unchanged row is a no-op.
    fn hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.email.as_str(),
            &self.display_name,
            &self.locale,
            &self.wave,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    Inserted,
    Updated,
    Unchanged,
}

const COLUMNS: &str = "id, email, display_name, locale, wave, state, failed_step, last_error, attempts, created_at, updated_at";

fn decode(row: &AnyRow) -> Result<User, DbError> {
    let corrupt = |e: crate::ParseError| DbError::Corrupt(e.to_string());
    Ok(User {
        id: UserId::parse(&row.try_get::<String, _>("id")?).map_err(corrupt)?,
        email: EmailAddress::parse(&row.try_get::<String, _>("email")?).map_err(corrupt)?,
        display_name: row.try_get("display_name")?,
        locale: row.try_get("locale")?,
        wave: row.try_get("wave")?,
        state: MigrationState::parse(&row.try_get::<String, _>("state")?).map_err(corrupt)?,
        failed_step: row.try_get("failed_step")?,
        last_error: row.try_get("last_error")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub trait UserRepo {
    /// Inserts a new profile or updates a changed one; the state is left alone.
    fn upsert_profile(
        &self,
        p: &Profile,
    ) -> impl Future<Output = Result<UpsertOutcome, DbError>> + Send;
    fn user(&self, id: &UserId) -> impl Future<Output = Result<Option<User>, DbError>> + Send;
    fn user_by_email(
        &self,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<Option<User>, DbError>> + Send;
    /// Moves the user to `to` only if the current state is one of `from`
    /// (compare-and-set, so two actors never both win). Clears the last error.
    fn transition(
        &self,
        id: &UserId,
        from: &[MigrationState],
        to: MigrationState,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;
    /// Records a failed step; the state becomes `failed` unless the user is
    /// already switched, in which case the state stays and only the error is kept
    /// (a switched user is never moved back on its own).
    fn record_failure(
        &self,
        id: &UserId,
        step: &str,
        error: &str,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn list_users(&self, limit: i64) -> impl Future<Output = Result<Vec<User>, DbError>> + Send;
}

impl UserRepo for Db {
    async fn upsert_profile(&self, p: &Profile) -> Result<UpsertOutcome, DbError> {
        let hash = p.hash();
        if let Some(other) = self.user_by_email(&p.email).await?
            && other.id != p.id
        {
            return Err(DbError::Conflict(format!(
                "{} already belongs to user {}",
                p.email, other.id
            )));
        }
        let t = now();
        let sql = format!(
            "{} INTO users (id, email, display_name, locale, wave, state, attempts, profile_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            self.insert_ignore()
        );
        let inserted = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(p.id.as_str())
            .bind(p.email.as_str())
            .bind(&p.display_name)
            .bind(&p.locale)
            .bind(&p.wave)
            .bind(MigrationState::Imported.as_str())
            .bind(&hash)
            .bind(t)
            .bind(t)
            .execute(self.pool())
            .await?
            .rows_affected();
        if inserted == 1 {
            return Ok(UpsertOutcome::Inserted);
        }
        let updated = sqlx::query(
            "UPDATE users SET email = ?, display_name = ?, locale = ?, wave = ?, profile_hash = ?, updated_at = ? WHERE id = ? AND profile_hash <> ?",
        )
        .bind(p.email.as_str())
        .bind(&p.display_name)
        .bind(&p.locale)
        .bind(&p.wave)
        .bind(&hash)
        .bind(t)
        .bind(p.id.as_str())
        .bind(&hash)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(if updated == 1 {
            UpsertOutcome::Updated
        } else {
            UpsertOutcome::Unchanged
        })
    }

    async fn user(&self, id: &UserId) -> Result<Option<User>, DbError> {
        let row = sqlx::query(sql!("SELECT {COLUMNS} FROM users WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, DbError> {
        let row = sqlx::query(sql!("SELECT {COLUMNS} FROM users WHERE email = ?"))
            .bind(email.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn transition(
        &self,
        id: &UserId,
        from: &[MigrationState],
        to: MigrationState,
    ) -> Result<bool, DbError> {
        if from.is_empty() {
            return Ok(false);
        }
        let marks = vec!["?"; from.len()].join(", ");
        let sql = format!(
            "UPDATE users SET state = ?, failed_step = NULL, last_error = NULL, updated_at = ? WHERE id = ? AND state IN ({marks})"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(to.as_str())
            .bind(now())
            .bind(id.as_str());
        for s in from {
            q = q.bind(s.as_str());
        }
        Ok(q.execute(self.pool()).await?.rows_affected() == 1)
    }

    async fn record_failure(&self, id: &UserId, step: &str, error: &str) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET state = CASE WHEN state IN (?, ?) THEN state ELSE ? END, failed_step = ?, last_error = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?",
        )
        .bind(MigrationState::Switched.as_str())
        .bind(MigrationState::Migrated.as_str())
        .bind(MigrationState::Failed.as_str())
        .bind(step)
        .bind(error)
        .bind(now())
        .bind(id.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn list_users(&self, limit: i64) -> Result<Vec<User>, DbError> {
        let rows = sqlx::query(sql!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT ?"))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }
}
