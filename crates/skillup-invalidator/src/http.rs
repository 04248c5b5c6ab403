//! `GET /health`, the probes `GET /livez` and `GET /readyz`, and `GET /metrics`
//! of the invalidator.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use skillup_cache::Cache;
use skillup_db::PgPool;

const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

pub struct HealthState {
    pub pool: PgPool,
    pub cache: Cache,
    pub invalidator: crate::Invalidator,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health)
        .service(livez)
        .service(readyz)
        .service(metrics_text);
}

#[derive(Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Check {
    fn of<T, E: std::fmt::Display>(r: &Result<T, E>) -> Self {
        match r {
            Ok(_) => Self {
                status: "up",
                error: None,
            },
            Err(e) => Self {
                status: "down",
                error: Some(e.to_string()),
            },
        }
    }
}

#[derive(Serialize)]
struct Outbox {
    /// Records not yet applied.
    backlog: Option<i64>,
    /// Age of the oldest pending record: how stale the cache may be right now.
    oldest_pending_age_seconds: Option<f64>,
    /// Records this process has applied since start.
    processed: u64,
}

/// `ok` (200) when Postgres and Redis are up; `degraded` (200) when Redis is down
/// (records wait, nothing is lost); `down` (503) when Postgres is down.
#[get("/health")]
async fn health(state: web::Data<HealthState>) -> HttpResponse {
    let (db, redis, backlog) = tokio::join!(
        skillup_db::ping(&state.pool, PROBE_TIMEOUT),
        state.cache.ping(),
        tokio::time::timeout(PROBE_TIMEOUT, skillup_db::outbox::backlog(&state.pool)),
    );
    let backlog = backlog.ok().and_then(Result::ok);
    if let Some(b) = &backlog {
        #[expect(clippy::cast_precision_loss, reason = "a gauge")]
        metrics::gauge!("invalidation_backlog").set(b.pending as f64);
    }
    let (database, redis) = (Check::of(&db), Check::of(&redis));
    let (status, code) = match (database.status, redis.status) {
        ("up", "up") => ("ok", 200),
        ("up", _) => ("degraded", 200),
        _ => ("down", 503),
    };
    let body = serde_json::json!({
        "status": status,
        "checks": { "database": database, "redis": redis },
        "outbox": Outbox {
            backlog: backlog.map(|b| b.pending),
            oldest_pending_age_seconds: backlog.and_then(|b| b.oldest_age).map(|d| d.as_secs_f64()),
            processed: state.invalidator.processed(),
        },
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default()).json(body)
}

/// Liveness: 200 while the process serves HTTP; it checks nothing else.
#[get("/livez")]
async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "live"}))
}

/// Readiness: 200 when Postgres answers, which is what the worker needs to claim
/// records; 503 otherwise. Redis down does not make it unready: records wait in
/// the outbox and nothing is lost, and no other replica could do better.
#[get("/readyz")]
async fn readyz(state: web::Data<HealthState>) -> HttpResponse {
    let db = skillup_db::ping(&state.pool, PROBE_TIMEOUT).await;
    let database = Check::of(&db);
    let body = serde_json::json!({
        "status": if db.is_ok() { "ready" } else { "not_ready" },
        "checks": { "database": database },
    });
    if db.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus text: `invalidations_processed_total`, `invalidation_batch_duration_seconds`,
/// `invalidation_lag_seconds` (commit to delete), `invalidation_failures_total`, cache counters.
#[get("/metrics")]
async fn metrics_text(
    handle: web::Data<metrics_exporter_prometheus::PrometheusHandle>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
