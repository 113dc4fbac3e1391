//! How times and states read for a person.

use chrono::DateTime;
use cutover_core::MigrationState;

/// `Friday 14 March 2025, 18:00 UTC`
pub(crate) fn slot_time(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%A %-d %B %Y, %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("@{unix}"))
}

/// `2025-03-14 18:00 UTC`, for event lists.
pub(crate) fn short_time(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("@{unix}"))
}

pub(crate) fn state_words(state: MigrationState) -> &'static str {
    match state {
        MigrationState::Imported => {
            "Your mailbox is registered for the move. Nothing has been copied yet."
        }
        MigrationState::Provisioned => {
            "Your new mailbox is ready. Copying your mail will start soon."
        }
        MigrationState::Preloading => {
            "We are copying your mail to the new platform in the background. You can keep working as usual."
        }
        MigrationState::Preloaded => {
            "Your mail has been copied in advance. Pick a time for the final switch."
        }
        MigrationState::Scheduled => {
            "Your switch is booked. You can keep working as usual until then."
        }
        MigrationState::CuttingOver => "Your mailbox is being switched right now.",
        MigrationState::Switched => {
            "Your mailbox has been switched; we are doing the final checks."
        }
        MigrationState::Migrated => "Your mailbox has moved to the new platform.",
        MigrationState::Failed => {
            "Something went wrong with your move. We are retrying and the support team has been told."
        }
        MigrationState::RolledBack => {
            "Your move was undone by the support team. You stay on the current platform for now."
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_slot_times_in_utc() {
        assert_eq!(slot_time(0), "Thursday 1 January 1970, 00:00 UTC");
        assert_eq!(short_time(1_741_975_200), "2025-03-14 18:00 UTC");
    }
}
