//! Profile load: turns the customer's CSV extract into users.
//!
//! A bad row is reported with its line number and the rest are imported.
//! Re-importing the same file changes nothing (rows are upserted by user id and
//! compared by a hash of their attributes).

use cutover_core::db::Db;
use cutover_core::db::jobs::{JobKind, JobRepo};
use cutover_core::db::users::{Profile, UpsertOutcome, UserRepo};
use cutover_core::{EmailAddress, UserId};
use serde::{Deserialize, Serialize};
use std::io::Read;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the profile file: {0}")]
    Csv(#[from] csv::Error),
    #[error(
        "the header must name the columns id and email (optional: display_name, locale, wave); found {0:?}"
    )]
    Header(Vec<String>),
}

/// One rejected row, named by its line in the file.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportReport {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: Vec<RowError>,
}

#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    wave: String,
}

fn parse_row(row: Row) -> Result<Profile, String> {
    let id = UserId::parse(&row.id).map_err(|e| e.to_string())?;
    let email = EmailAddress::parse(&row.email).map_err(|e| e.to_string())?;
    let locale = match row.locale.trim() {
        "" => "en".to_string(),
        l if l.len() <= 16
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            l.to_string()
        }
        l => return Err(format!("invalid locale {l:?}")),
    };
    Ok(Profile {
        id,
        email,
        display_name: row.display_name.trim().to_string(),
        locale,
        wave: row.wave.trim().to_string(),
    })
}

/// Imports every row it can. `preload` queues a mailbox preload for new users.
pub async fn import_csv<R: Read>(
    db: &Db,
    input: R,
    preload: bool,
    mut on_row: impl FnMut(),
) -> Result<ImportReport, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .flexible(false)
        .from_reader(input);
    let headers: Vec<String> = rdr.headers()?.iter().map(str::to_string).collect();
    if !headers.iter().any(|h| h == "id") || !headers.iter().any(|h| h == "email") {
        return Err(ImportError::Header(headers));
    }
    let header_record = rdr.headers()?.clone();
    let mut report = ImportReport::default();
    let mut seen_ids = std::collections::HashSet::new();
    for record in rdr.records() {
        on_row();
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.errors.push(RowError {
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let profile = match record
            .deserialize::<Row>(Some(&header_record))
            .map_err(|e| e.to_string())
            .and_then(parse_row)
        {
            Ok(p) => p,
            Err(message) => {
                report.errors.push(RowError { line, message });
                continue;
            }
        };
        if !seen_ids.insert(profile.id.clone()) {
            report.errors.push(RowError {
                line,
                message: format!("user id {} appears twice in this file", profile.id),
            });
            continue;
        }
        match db.upsert_profile(&profile).await {
            Ok(UpsertOutcome::Inserted) => {
                report.inserted += 1;
                if preload
                    && let Err(e) = db
                        .enqueue(JobKind::Preload, &profile.id, cutover_core::db::now())
                        .await
                {
                    report.errors.push(RowError {
                        line,
                        message: format!("user {}: cannot queue the preload: {e}", profile.id),
                    });
                }
            }
            Ok(UpsertOutcome::Updated) => report.updated += 1,
            Ok(UpsertOutcome::Unchanged) => report.unchanged += 1,
            Err(e) => report.errors.push(RowError {
                line,
                message: format!("user {}: {e}", profile.id),
            }),
        }
    }
    Ok(report)
}
