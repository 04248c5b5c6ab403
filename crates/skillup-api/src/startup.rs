//! Building and running the server: binds its own listener (tests ask for port 0),
//! connects to Postgres and Redis, applies migrations, then serves until the
//! shutdown future resolves.

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use skillup_cache::Cache;
use skillup_common::auth::JwtKeys;
use tracing_actix_web::TracingLogger;

use crate::config::ApiConfig;
use crate::error::error_response;
use crate::openapi::{OpenApiJson, openapi_json};
use crate::routes;
use crate::state::AppState;

/// A bound, ready-to-run API server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    grace: Duration,
}

impl Application {
    /// Connects, migrates and binds `HOST:PORT` (port 0 picks a free one).
    pub async fn build(config: ApiConfig) -> anyhow::Result<Self> {
        let db = skillup_db::connect_lazy(&config.database).context("DATABASE_URL")?;
        skillup_db::migrate::run(&db)
            .await
            .with_context(|| format!("applying migrations on {}", config.database.url))?;
        let cache = Cache::connect(&config.redis).await.context("REDIS_URL")?;
        let state = AppState {
            db,
            cache,
            jwt: JwtKeys::new(&config.jwt),
        };
        let listener = TcpListener::bind((config.http.host, config.http.port))
            .with_context(|| format!("binding {}:{}", config.http.host, config.http.port))?;
        let port = listener.local_addr()?.port();
        let server = serve(listener, state.clone(), config.http.shutdown_grace)?;
        tracing::info!(port, "skillup-api listening");
        Ok(Self {
            port,
            server,
            state,
            grace: config.http.shutdown_grace,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight
    /// requests finish within the grace period, and closes Redis and Postgres.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        tokio::select! {
            res = server => { res.context("server task")?.context("server")?; }
            () = shutdown => {
                handle.stop(true).await;
            }
        }
        self.state.cache.quit(self.grace).await;
        self.state.db.close().await;
        tracing::info!("skillup-api stopped");
        Ok(())
    }
}

fn serve(listener: TcpListener, state: AppState, grace: Duration) -> anyhow::Result<Server> {
    let metrics = web::Data::new(skillup_common::telemetry::prometheus());
    let openapi = web::Data::new(OpenApiJson(crate::openapi::render()));
    let known_routes = web::Data::new(crate::fallback::KnownRoutes::from_openapi());
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::metrics::record))
            .wrap(TracingLogger::default())
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(openapi.clone())
            .app_data(known_routes.clone())
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                actix_web::error::InternalError::from_response(
                    err.to_string(),
                    error_response(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        format!("invalid path: {err}"),
                    ),
                )
                .into()
            }))
            .app_data(web::PayloadConfig::new(crate::json::MAX_BODY_BYTES))
            .configure(routes::health::routes)
            .configure(routes::courses::routes)
            .configure(routes::authoring::routes)
            .configure(routes::structure::routes)
            .configure(routes::enrollments::routes)
            .configure(routes::progress::routes)
            .configure(routes::me::routes)
            .configure(routes::session::routes)
            .service(crate::metrics::metrics_text)
            .service(openapi_json)
            .default_service(web::to(crate::fallback::fallback))
    })
    .disable_signals()
    .shutdown_timeout(grace.as_secs())
    .listen(listener)?
    .run();
    Ok(server)
}
