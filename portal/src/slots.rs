//! Generating the bookable cutover slots.

use cutover_core::config::SlotsConfig;
use cutover_core::db::slots::SlotRepo;
use cutover_core::db::{Db, DbError};

/// Start times every `interval_minutes` from the first interval boundary at or
/// after `now` up to `now + horizon_hours` (all in UTC unix seconds).
pub fn slot_starts(cfg: &SlotsConfig, now: i64) -> Vec<i64> {
    let step = i64::from(cfg.interval_minutes.max(1)) * 60;
    let end = now + i64::from(cfg.horizon_hours) * 3600;
    let rem = now.rem_euclid(step);
    let first = if rem == 0 { now } else { now - rem + step };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= end)
        .collect()
}

/// Makes sure every slot of the horizon exists (idempotent); returns how many
/// were added. The binary calls it at startup and hourly.
pub async fn ensure_slots(db: &Db, cfg: &SlotsConfig, now: i64) -> Result<usize, DbError> {
    db.ensure_slots(&slot_starts(cfg, now), i64::from(cfg.capacity))
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_the_next_boundary() {
        let cfg = SlotsConfig {
            interval_minutes: 30,
            horizon_hours: 2,
            capacity: 5,
            lead_minutes: 0,
        };
        let now = 1_800 * 1000 + 10;
        let s = slot_starts(&cfg, now);
        assert_eq!(s.first(), Some(&(1_800 * 1001)));
        assert!(s.windows(2).all(|w| w[1] - w[0] == 1_800));
        assert!(*s.last().unwrap_or(&0) <= now + 7200);
        assert_eq!(s.len(), 4);
        assert_eq!(slot_starts(&cfg, 1_800 * 1000)[0], 1_800 * 1000);
    }
}
