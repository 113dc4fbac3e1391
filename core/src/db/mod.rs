//! The migration database: one `Db` handle over SQLite (default) or MySQL/MariaDB.
//!
//! We go through `sqlx::any` so that every repository is written once; the few
//! statements whose syntax differs between the dialects ask `Db::dialect()`.
//! Timestamps are stored as BIGINT unix seconds, which both dialects compare and
//! index the same way.

/// `format!` for SQL built only from constants and dialect keywords, never
/// from input (values always go through `bind`).
macro_rules! sql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

mod error;
pub mod events;
pub mod jobs;
pub mod outbox;
pub mod sessions;
pub mod slots;
pub mod sync_index;
pub mod sync_state;
pub mod users;

pub use error::DbError;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::time::Duration;

/// The SQL dialect behind a `Db`, chosen from the URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Mysql,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect)
            .finish()
    }
}

impl Db {
    /// Connects to `sqlite://path` (created when missing) or `mysql://…`.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            // A pool of SQLite connections must share one file: `sqlite::memory:`
            // would give every connection its own empty database.
            let rest = rest.trim_start_matches("//");
            if rest.is_empty() || rest.starts_with(":memory:") {
                return Err(DbError::Config(
                    "in-memory SQLite is not supported; give a file path".into(),
                ));
            }
            // Create the file's directory, as SQLite creates only the file.
            let path = rest.split('?').next().unwrap_or_default();
            if let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    DbError::Config(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let sep = if rest.contains('?') { '&' } else { '?' };
            let url = if rest.contains("mode=") {
                format!("sqlite://{rest}")
            } else {
                format!("sqlite://{rest}{sep}mode=rwc")
            };
            (Dialect::Sqlite, url)
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            (Dialect::Mysql, url.replacen("mariadb:", "mysql:", 1))
        } else {
            return Err(DbError::Config(format!(
                "unsupported database URL scheme in {url:?} (use sqlite:// or mysql://)"
            )));
        };
        let mut opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        opts = match dialect {
            // SQLite has one writer; a small pool plus WAL and a busy timeout keeps
            // readers going while the writer works.
            Dialect::Sqlite => opts.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode=WAL").await?;
                    conn.execute("PRAGMA busy_timeout=10000").await?;
                    conn.execute("PRAGMA synchronous=NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys=ON").await?;
                    Ok(())
                })
            }),
            Dialect::Mysql => opts.max_connections(16),
        };
        let pool = opts.connect(&url).await.map_err(DbError::Connect)?;
        Ok(Db { pool, dialect })
    }

    /// Applies the migrations of this dialect (idempotent).
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.dialect {
            Dialect::Sqlite => {
                sqlx::migrate!("../migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Dialect::Mysql => {
                sqlx::migrate!("../migrations/mysql")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `INSERT` that does nothing when a unique key already holds the row.
    pub fn insert_ignore(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "INSERT OR IGNORE",
            Dialect::Mysql => "INSERT IGNORE",
        }
    }

    /// Fails with a hint when the schema is missing (e.g. a command run
    /// without `--config` against a fresh default `cutover.db`).
    pub async fn check_schema(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1 FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map(|_| ())
            .map_err(|_| {
                DbError::Config(
                    "the migration database has no schema: run `cutover db migrate` with the same --config (or pass --config)".into(),
                )
            })
    }

    /// Cheap readiness probe for `cutover healthcheck` and `/healthz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Current time as unix seconds, the unit of every timestamp column.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
