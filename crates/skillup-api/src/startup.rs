//! Building and running the server: binds its own listener (tests ask for port 0),
//! connects to Postgres and Redis, applies migrations, then serves until the
//! shutdown future resolves.

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use skillup_cache::Cache;
use skillup_common::auth::JwtKeys;
use tracing_actix_web::TracingLogger;

use crate::auth_failures::AuthFailures;
use crate::config::{ApiConfig, CorsOrigins};
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
        // The recorder first: queries run from here on (migrations, the first
        // loads) are counted too.
        skillup_common::telemetry::prometheus();
        let db = skillup_db::connect_lazy(&config.database).context("DATABASE_URL")?;
        skillup_db::migrate::run(&db)
            .await
            .with_context(|| format!("applying migrations on {}", config.database.url))?;
        let cache = Cache::connect_with_near_cache(&config.redis, &config.near_cache)
            .await
            .context("REDIS_URL")?;
        let state = AppState {
            db,
            cache,
            jwt: JwtKeys::new(&config.jwt),
            auth_failures: AuthFailures::new(&config.auth_failures),
        };
        let listener = TcpListener::bind((config.http.host, config.http.port))
            .with_context(|| format!("binding {}:{}", config.http.host, config.http.port))?;
        let port = listener.local_addr()?.port();
        let server = serve(
            listener,
            state.clone(),
            config.http.shutdown_grace,
            config.cors.clone(),
        )?;
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
        let stats = tokio::spawn(log_cache_stats(self.state.cache.clone(), CACHE_STATS_EVERY));
        let sweep = tokio::spawn(forget_recovered_clients(self.state.auth_failures.clone()));
        tokio::select! {
            res = server => { res.context("server task")?.context("server")?; }
            () = shutdown => {
                handle.stop(true).await;
            }
        }
        stats.abort();
        sweep.abort();
        self.state.cache.quit(self.grace).await;
        self.state.db.close().await;
        tracing::info!("skillup-api stopped");
        Ok(())
    }
}

/// How often the cache counters are logged.
const CACHE_STATS_EVERY: Duration = Duration::from_secs(60);

/// Logs the cache hit ratio every minute while there is traffic, the line
/// operators of the original Node design watch (`/metrics` has the same counters).
async fn log_cache_stats(cache: Cache, every: Duration) {
    let mut last = cache.counters();
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let now = cache.counters();
        let (hits, misses) = (now.hits - last.hits, now.misses - last.misses);
        if hits + misses > 0 || now.errors > last.errors {
            #[expect(clippy::cast_precision_loss, reason = "a ratio for humans")]
            let ratio = hits as f64 / (hits + misses).max(1) as f64;
            tracing::info!(
                hits,
                misses,
                errors = now.errors - last.errors,
                hit_ratio = format!("{:.1}%", ratio * 100.0),
                total_hit_ratio = format!("{:.1}%", now.hit_ratio * 100.0),
                "cache stats since the last line"
            );
        }
        last = now;
    }
}

/// Every minute, drops the failure budgets that are full again, so addresses
/// that failed once do not stay in memory.
async fn forget_recovered_clients(failures: AuthFailures) {
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    loop {
        ticker.tick().await;
        failures.forget_recovered();
    }
}

/// The CORS middleware `CORS_ORIGINS` asks for (see [`CorsOrigins`]): the API's
/// methods, the `Authorization`, `Content-Type` and `If-None-Match` request
/// headers, `X-Cache` and `ETag` readable by scripts, preflights cached 10 minutes, never credentials.
fn cors(origins: &CorsOrigins) -> Cors {
    let base = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([
            header::HeaderName::from_static(crate::cached::X_CACHE),
            header::ETAG,
        ])
        .max_age(600);
    match origins {
        CorsOrigins::Disabled => base,
        CorsOrigins::Any => base.allow_any_origin().send_wildcard(),
        CorsOrigins::List(list) => list
            .iter()
            .fold(base, |cors, origin| cors.allowed_origin(origin)),
    }
}

/// Headers every response carries: no MIME sniffing, no framing, no referrer.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

fn serve(
    listener: TcpListener,
    state: AppState,
    grace: Duration,
    origins: CorsOrigins,
) -> anyhow::Result<Server> {
    let metrics = web::Data::new(skillup_common::telemetry::prometheus());
    let openapi = web::Data::new(OpenApiJson(crate::openapi::render()));
    let known_routes = web::Data::new(crate::fallback::KnownRoutes::from_openapi());
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::metrics::record))
            .wrap(security_headers())
            .wrap(Condition::new(
                origins != CorsOrigins::Disabled,
                cors(&origins),
            ))
            .wrap(TracingLogger::<crate::metrics::RootSpan>::new())
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
            .configure(routes::docs::routes)
            .configure(routes::courses::routes)
            .configure(routes::authoring::routes)
            .configure(routes::modules::routes)
            .configure(routes::lessons::routes)
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_hit_ratio_is_logged_each_interval_that_had_traffic() {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let redis = skillup_testkit::redis_config(
            &skillup_testkit::redis_url(),
            &skillup_testkit::unique_prefix(),
        );
        let cache = Cache::connect(&redis).await.unwrap();
        let key = cache.keys().course(skillup_common::CourseId::new_random());
        let every = Duration::from_millis(300);
        let task = tokio::spawn(log_cache_stats(cache.clone(), every));
        tokio::task::yield_now().await;
        for _ in 0..4 {
            cache
                .get_or_load(&key, Duration::from_secs(60), || async {
                    Ok::<_, ()>(Some(skillup_cache::Bytes::from_static(b"x")))
                })
                .await
                .unwrap();
        }
        tokio::time::sleep(every * 2 + every / 2).await;
        task.abort();
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("cache stats")).collect();
        assert_eq!(
            lines.len(),
            1,
            "one line for the interval with traffic, none for the idle one: {text}"
        );
        assert!(
            lines[0].contains("hits=3") && lines[0].contains("misses=1"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(r#"hit_ratio="75.0%""#), "{}", lines[0]);
    }
}
