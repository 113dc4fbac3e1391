//! `cutover serve` and the single-part commands: wires the faces and the
//! worker to one database and one configuration, and shuts down gracefully.

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use cutover_core::config::Config;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

#[derive(Debug, Clone, Copy)]
pub struct Parts {
    portal: bool,
    autoconfig: bool,
    worker: bool,
    mailer: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        portal: true,
        autoconfig: true,
        worker: true,
        mailer: true,
    };
    pub const PORTAL: Parts = Parts {
        portal: true,
        autoconfig: false,
        worker: false,
        mailer: false,
    };
    pub const AUTOCONFIG: Parts = Parts {
        portal: false,
        autoconfig: true,
        worker: false,
        mailer: false,
    };
    pub const WORKER: Parts = Parts {
        portal: false,
        autoconfig: false,
        worker: true,
        mailer: false,
    };
    pub const MAILER: Parts = Parts {
        portal: false,
        autoconfig: false,
        worker: false,
        mailer: true,
    };
}

fn with_metrics(router: Router, handle: &PrometheusHandle) -> Router {
    let handle = handle.clone();
    router.route("/metrics", get(move || std::future::ready(handle.render())))
}

async fn serve_http(
    name: &'static str,
    listen: String,
    router: Router,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("{name}: cannot listen on {listen}"))?;
    info!(%name, addr = %listener.local_addr()?, "listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stop.cancelled().await })
    .await
    .with_context(|| format!("{name} server"))
}

pub async fn run(config: Arc<Config>, parts: Parts) -> anyhow::Result<ExitCode> {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let db = super::open_db(&config).await?;
    db.migrate().await.context("database migration")?;
    let stop = CancellationToken::new();
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();

    if parts.portal {
        cutover_portal::ensure_slots(&db, &config.slots, cutover_core::db::now()).await?;
        let state = cutover_portal::PortalState::new(db.clone(), config.clone());
        let router = with_metrics(cutover_portal::router(state), &metrics);
        tasks.spawn(serve_http(
            "portal",
            config.portal.listen.clone(),
            router,
            stop.clone(),
        ));
        // Keep offering slots as time moves on.
        let (db, slots, stop) = (db.clone(), config.slots.clone(), stop.clone());
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                    _ = stop.cancelled() => return Ok(()),
                }
                if let Err(e) =
                    cutover_portal::ensure_slots(&db, &slots, cutover_core::db::now()).await
                {
                    tracing::warn!(error = %e, "cannot extend the slot calendar");
                }
            }
        });
    }
    if parts.autoconfig {
        let directory = cutover_engine::directory::Directory::connect(&config.ldap)
            .await
            .context("autoconfig needs the directory")?;
        let state = cutover_autoconfig::AutoconfigState::new(config.clone(), directory);
        let router = with_metrics(cutover_autoconfig::router(state), &metrics);
        tasks.spawn(serve_http(
            "autoconfig",
            config.autoconfig.listen.clone(),
            router,
            stop.clone(),
        ));
    }
    if parts.worker {
        let worker = cutover_engine::worker::Worker::new(db.clone(), config.clone());
        let stop = stop.clone();
        tasks.spawn(async move {
            worker.run(stop).await;
            Ok(())
        });
    }
    if parts.mailer {
        let mailer = cutover_mailer::Mailer::new(db.clone(), config.clone()).context("mailer")?;
        let stop = stop.clone();
        tasks.spawn(async move {
            mailer.run(stop).await;
            Ok(())
        });
    }

    let result = tokio::select! {
        _ = shutdown_signal() => { info!("shutting down"); Ok(()) }
        Some(res) = tasks.join_next() => res.context("task panicked").and_then(|r| r),
    };
    stop.cancel();
    while let Some(res) = tasks.join_next().await {
        if let Ok(Err(e)) = res {
            tracing::warn!(error = %format!("{e:#}"), "part stopped with an error");
        }
    }
    result.map(|()| ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
