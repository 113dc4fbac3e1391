//! The worker: claims jobs from the migration DB and runs them.
//!
//! `run_next_job` runs exactly one job and returns what happened, so tests can
//! drain the queue without sleeping; `run` only adds the loop, the sleeping and
//! the concurrency governor that admins can turn while it runs.

mod cutover;
mod endpoints;
mod preload;

pub use endpoints::{legacy_endpoint, target_endpoint};

use crate::directory::Directory;
use cutover_core::UserId;
use cutover_core::config::Config;
use cutover_core::db::jobs::{Job, JobKind, JobRepo};
use cutover_core::db::users::UserRepo;
use cutover_core::db::{Db, DbError, now};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

/// The DB setting that overrides `worker.concurrency` at run time.
pub const CONCURRENCY_SETTING: &str = "worker.concurrency";

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{step}: {message}")]
    Failed { step: &'static str, message: String },
    #[error("user {0} no longer exists")]
    NoUser(UserId),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl StepError {
    pub fn step(&self) -> &'static str {
        match self {
            StepError::Failed { step, .. } => step,
            StepError::NoUser(_) => "lookup",
            StepError::Db(_) => "database",
        }
    }
}

pub(crate) fn failed(step: &'static str, e: impl std::fmt::Display) -> StepError {
    StepError::Failed {
        step,
        message: e.to_string(),
    }
}

/// What one call of `run_next_job` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was due.
    Idle,
    Done {
        job: i64,
        kind: &'static str,
        user: UserId,
    },
    /// The job failed; it runs again at `retry_at`, or never when `None`.
    Failed {
        job: i64,
        kind: &'static str,
        user: UserId,
        error: String,
        retry_at: Option<i64>,
    },
}

#[derive(Clone)]
pub struct Worker {
    db: Db,
    config: Arc<Config>,
    id: String,
    directory: Arc<tokio::sync::OnceCell<Directory>>,
}

impl Worker {
    pub fn new(db: Db, config: Arc<Config>) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        let id = format!(
            "{host}-{}-{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 4]>())
        );
        Worker {
            db,
            config,
            id,
            directory: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The LDAP connection is opened on first use and shared.
    pub(crate) async fn directory(&self) -> Result<&Directory, StepError> {
        self.directory
            .get_or_try_init(|| Directory::connect(&self.config.ldap))
            .await
            .map_err(|e| failed("directory", e))
    }

    /// Claims and runs one due job.
    pub async fn run_next_job(&self) -> Result<Outcome, DbError> {
        let lease = self.config.worker.lease_secs as i64;
        let Some(job) = self.db.claim(&self.id, lease).await? else {
            return Ok(Outcome::Idle);
        };
        let span = tracing::info_span!("job", id = job.id, kind = job.kind.as_str(), user = %job.user_id, attempt = job.attempts);
        self.run_job(job).instrument(span).await
    }

    async fn run_job(&self, job: Job) -> Result<Outcome, DbError> {
        let heartbeat = self.spawn_heartbeat(job.id);
        let result = match job.kind {
            JobKind::Preload => preload::run(self, &job.user_id).await,
            JobKind::Cutover => cutover::run(self, &job.user_id).await,
        };
        heartbeat.abort();
        let kind = job.kind.as_str();
        match result {
            Ok(()) => {
                self.db.finish(job.id, &self.id).await?;
                info!("job done");
                metrics::counter!("cutover_jobs_total", "kind" => kind, "result" => "done")
                    .increment(1);
                Ok(Outcome::Done {
                    job: job.id,
                    kind,
                    user: job.user_id,
                })
            }
            Err(e) => {
                let error = e.to_string();
                warn!(%error, "job failed");
                metrics::counter!("cutover_jobs_total", "kind" => kind, "result" => "failed")
                    .increment(1);
                if !matches!(e, StepError::NoUser(_)) {
                    self.db
                        .record_failure(&job.user_id, e.step(), &error)
                        .await?;
                }
                if job.kind == JobKind::Cutover
                    && let Err(n) = cutover::notify_postponed(self, &job.user_id, job.id).await
                {
                    warn!(error = %n, "cannot queue the postponement notice");
                }
                let retry_at = (job.attempts < self.config.worker.max_attempts as i64).then(|| {
                    now() + backoff_secs(job.attempts, self.config.worker.retry_base_secs)
                });
                self.db.fail(job.id, &self.id, &error, retry_at).await?;
                Ok(Outcome::Failed {
                    job: job.id,
                    kind,
                    user: job.user_id,
                    error,
                    retry_at,
                })
            }
        }
    }

    fn spawn_heartbeat(&self, job: i64) -> tokio::task::JoinHandle<()> {
        let db = self.db.clone();
        let owner = self.id.clone();
        let lease = self.config.worker.lease_secs as i64;
        tokio::spawn(async move {
            let every = Duration::from_secs((lease as u64 / 3).max(1));
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = db.heartbeat(job, &owner, lease).await {
                    warn!(error = %e, "cannot extend the job lease");
                }
            }
        })
    }

    /// Current parallelism: the admin's live setting, else the configuration.
    pub async fn concurrency(&self) -> usize {
        match self.db.setting(CONCURRENCY_SETTING).await {
            Ok(Some(v)) => v.parse::<usize>().ok().filter(|n| *n > 0),
            _ => None,
        }
        .unwrap_or(self.config.worker.concurrency as usize)
    }

    /// Runs jobs until `shutdown` is cancelled, keeping at most `concurrency()`
    /// in flight. Running jobs finish before it returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = Duration::from_millis(self.config.worker.poll_interval_ms);
        let mut running: JoinSet<()> = JoinSet::new();
        info!(worker = %self.id, "worker started");
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            while running.try_join_next().is_some() {}
            let limit = self.concurrency().await;
            metrics::gauge!("cutover_worker_concurrency").set(limit as f64);
            metrics::gauge!("cutover_worker_running").set(running.len() as f64);
            let mut claimed_any = false;
            while running.len() < limit {
                let lease = self.config.worker.lease_secs as i64;
                match self.db.claim(&self.id, lease).await {
                    Ok(Some(job)) => {
                        claimed_any = true;
                        let me = self.clone();
                        let span = tracing::info_span!("job", id = job.id, kind = job.kind.as_str(), user = %job.user_id, attempt = job.attempts);
                        running.spawn(
                            async move {
                                if let Err(e) = me.run_job(job).await {
                                    warn!(error = %e, "job bookkeeping failed");
                                }
                            }
                            .instrument(span),
                        );
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn!(error = %e, "cannot claim jobs");
                        break;
                    }
                }
            }
            if claimed_any {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.cancelled() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        info!(
            running = running.len(),
            "worker stopping; waiting for running jobs"
        );
        while running.join_next().await.is_some() {}
    }
}

/// `base`, then twice that for each further attempt, capped at one hour.
fn backoff_secs(attempt: i64, base: u64) -> i64 {
    let base = i64::try_from(base).unwrap_or(3600);
    base.saturating_mul(1 << attempt.clamp(1, 12).saturating_sub(1))
        .min(3600)
}
