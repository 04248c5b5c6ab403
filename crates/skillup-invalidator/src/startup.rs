//! Building and running the invalidator: the health server on `PORT`, the
//! listener task and the worker loop, stopped together by the shutdown future.

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use skillup_cache::Cache;

use crate::config::InvalidatorConfig;
use crate::http::HealthState;
use crate::listener;
use crate::worker::Invalidator;

/// How long closing the Postgres pool may take at exit.
const POOL_CLOSE_WAIT: Duration = Duration::from_secs(1);

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    invalidator: Invalidator,
    listen_url: String,
    grace: Duration,
    max_backoff: Duration,
}

impl Application {
    /// Connects, migrates (so the outbox exists even if the API has not started
    /// yet) and binds `HOST:PORT` (port 0 picks a free one).
    pub async fn build(config: InvalidatorConfig) -> anyhow::Result<Self> {
        // The recorder first: queries run from here on (migrations, the first
        // loads) are counted too.
        let prometheus = skillup_common::telemetry::prometheus();
        let pool = skillup_db::connect_lazy(&config.database).context("DATABASE_URL")?;
        skillup_db::migrate::run(&pool)
            .await
            .with_context(|| format!("applying migrations on {}", config.database.url))?;
        let cache = Cache::connect(&config.redis).await.context("REDIS_URL")?;
        let invalidator = Invalidator::new(pool.clone(), cache.clone(), config.worker);
        let listener = TcpListener::bind((config.http.host, config.http.port))
            .with_context(|| format!("binding {}:{}", config.http.host, config.http.port))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(HealthState {
            pool,
            cache,
            invalidator: invalidator.clone(),
        });
        let metrics = web::Data::new(prometheus.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .configure(crate::http::routes)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(config.http.shutdown_grace.as_secs())
        .listen(listener)?
        .run();
        tracing::info!(port, "skillup-invalidator health listening");
        Ok(Self {
            port,
            server,
            invalidator,
            listen_url: config.database.url.expose().to_owned(),
            grace: config.http.shutdown_grace,
            max_backoff: config.worker.max_backoff,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn invalidator(&self) -> &Invalidator {
        &self.invalidator
    }

    /// Runs until `shutdown` resolves; then finishes the batch in hand, stops the
    /// health server, and closes Redis and Postgres.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (wake_tx, wake_rx) = listener::wake_channel();
        let listening = tokio::spawn(listener::listen(
            self.listen_url.clone(),
            wake_tx,
            self.max_backoff,
        ));
        let beating = tokio::spawn(crate::heartbeat::run(
            self.invalidator.pool().clone(),
            self.invalidator.cache().clone(),
        ));
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        self.invalidator
            .clone()
            .run(wake_rx, shutdown, self.grace)
            .await;
        listening.abort();
        beating.abort();
        handle.stop(true).await;
        let _ = server.await;
        self.invalidator.cache().quit(self.grace).await;
        // An abandoned batch's connection may still be inside a query Postgres
        // has not answered; closing the pool must not wait for it.
        if tokio::time::timeout(POOL_CLOSE_WAIT, self.invalidator.pool().close())
            .await
            .is_err()
        {
            tracing::warn!("postgres connections still busy at exit; dropped");
        }
        tracing::info!("skillup-invalidator stopped");
        Ok(())
    }
}
