//! Cutover slots and the users' bookings of them.

use super::{Db, DbError, now};
use crate::{SlotId, UserId};
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct Slot {
    pub id: SlotId,
    pub starts_at: i64,
    pub capacity: i64,
    pub booked: i64,
}

impl Slot {
    pub fn free(&self) -> i64 {
        (self.capacity - self.booked).max(0)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Booking {
    pub user_id: UserId,
    pub slot: Slot,
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("that slot does not exist")]
    NoSuchSlot,
    #[error("that slot is full")]
    Full,
    #[error("that slot is no longer open for booking")]
    Closed,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for BookingError {
    fn from(e: sqlx::Error) -> Self {
        BookingError::Db(e.into())
    }
}

fn decode(r: &sqlx::any::AnyRow) -> Result<Slot, DbError> {
    Ok(Slot {
        id: SlotId(r.try_get("id")?),
        starts_at: r.try_get("starts_at")?,
        capacity: r.try_get("capacity")?,
        booked: r.try_get("booked")?,
    })
}

pub trait SlotRepo {
    /// Makes sure a slot exists at each given time (idempotent).
    fn ensure_slots(
        &self,
        starts: &[i64],
        capacity: i64,
    ) -> impl Future<Output = Result<usize, DbError>> + Send;
    /// Slots starting at or after `from` with room left.
    fn open_slots(
        &self,
        from: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Slot>, DbError>> + Send;
    fn slot(&self, id: SlotId) -> impl Future<Output = Result<Option<Slot>, DbError>> + Send;
    /// Books (or moves) the user's slot. `earliest` is the first start time still bookable.
    fn book(
        &self,
        user: &UserId,
        slot: SlotId,
        earliest: i64,
    ) -> impl Future<Output = Result<Slot, BookingError>> + Send;
    fn booking(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<Booking>, DbError>> + Send;
}

impl SlotRepo for Db {
    async fn ensure_slots(&self, starts: &[i64], capacity: i64) -> Result<usize, DbError> {
        let sql = format!(
            "{} INTO slots (starts_at, capacity, booked) VALUES (?, ?, 0)",
            self.insert_ignore()
        );
        let mut added = 0;
        for s in starts {
            added += sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(*s)
                .bind(capacity)
                .execute(self.pool())
                .await?
                .rows_affected() as usize;
        }
        Ok(added)
    }

    async fn open_slots(&self, from: i64, limit: i64) -> Result<Vec<Slot>, DbError> {
        let rows = sqlx::query("SELECT id, starts_at, capacity, booked FROM slots WHERE starts_at >= ? AND booked < capacity ORDER BY starts_at LIMIT ?")
            .bind(from)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn slot(&self, id: SlotId) -> Result<Option<Slot>, DbError> {
        let row = sqlx::query("SELECT id, starts_at, capacity, booked FROM slots WHERE id = ?")
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn book(&self, user: &UserId, slot: SlotId, earliest: i64) -> Result<Slot, BookingError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query("SELECT id, starts_at, capacity, booked FROM slots WHERE id = ?")
            .bind(slot.0)
            .fetch_optional(&mut *tx)
            .await?;
        let target = row
            .as_ref()
            .map(decode)
            .transpose()?
            .ok_or(BookingError::NoSuchSlot)?;
        if target.starts_at < earliest {
            return Err(BookingError::Closed);
        }
        let previous: Option<i64> = sqlx::query("SELECT slot_id FROM bookings WHERE user_id = ?")
            .bind(user.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("slot_id"))
            .transpose()?;
        if previous == Some(slot.0) {
            return Ok(target);
        }
        // Compare-and-set on the counter: a full slot matches no row.
        let took =
            sqlx::query("UPDATE slots SET booked = booked + 1 WHERE id = ? AND booked < capacity")
                .bind(slot.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if took == 0 {
            return Err(BookingError::Full);
        }
        if let Some(old) = previous {
            sqlx::query("UPDATE slots SET booked = booked - 1 WHERE id = ? AND booked > 0")
                .bind(old)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE bookings SET slot_id = ?, created_at = ? WHERE user_id = ?")
                .bind(slot.0)
                .bind(now())
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("INSERT INTO bookings (user_id, slot_id, created_at) VALUES (?, ?, ?)")
                .bind(user.as_str())
                .bind(slot.0)
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Slot {
            booked: target.booked + 1,
            ..target
        })
    }

    async fn booking(&self, user: &UserId) -> Result<Option<Booking>, DbError> {
        let row = sqlx::query("SELECT s.id, s.starts_at, s.capacity, s.booked FROM bookings b JOIN slots s ON s.id = b.slot_id WHERE b.user_id = ?")
            .bind(user.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(decode).transpose()?.map(|slot| Booking {
            user_id: user.clone(),
            slot,
        }))
    }
}
