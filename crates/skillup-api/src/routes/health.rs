//! `GET /health`, `GET /health/redis` and the probes `GET /livez`, `GET /readyz`.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use skillup_cache::{CacheCounters, RedisInfo};
use utoipa::ToSchema;

use crate::state::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health)
        .service(health_redis)
        .service(livez)
        .service(readyz);
}

/// One dependency's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    /// `up` or `down`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    fn from_probe<E: std::fmt::Display>(probe: Result<Duration, E>) -> Self {
        match probe {
            Ok(rtt) => Self {
                status: "up",
                latency_ms: Some(ms(rtt)),
                error: None,
            },
            Err(e) => Self {
                status: "down",
                latency_ms: None,
                error: Some(e.to_string()),
            },
        }
    }

    fn is_up(&self) -> bool {
        self.status == "up"
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    pub database: Check,
    pub redis: Check,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `degraded` (Redis down: served from Postgres) or `down` (Postgres down).
    pub status: &'static str,
    pub checks: Checks,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// Liveness and dependencies: 200 while Postgres is up (`degraded` if Redis is
/// down), 503 otherwise.
#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, description = "Postgres up; Redis up (`ok`) or down (`degraded`)", body = Health),
    (status = 503, description = "Postgres down", body = Health)))]
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let Checks { database, redis } = dependencies(&state).await;
    let (status, code) = match (database.is_up(), redis.is_up()) {
        (true, true) => ("ok", 200),
        (true, false) => ("degraded", 200),
        (false, _) => ("down", 503),
    };
    let body = Health {
        status,
        checks: Checks { database, redis },
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default()).json(body)
}

/// Postgres and Redis, probed together, each within [`PROBE_TIMEOUT`].
async fn dependencies(state: &AppState) -> Checks {
    let (db, redis) = tokio::join!(
        skillup_db::ping(&state.db, PROBE_TIMEOUT),
        tokio::time::timeout(PROBE_TIMEOUT, state.cache.ping()),
    );
    Checks {
        database: Check::from_probe(db.map_err(|e| redact_db_error(&e))),
        redis: Check::from_probe(
            redis.unwrap_or(Err(skillup_cache::CacheError::Timeout(PROBE_TIMEOUT))),
        ),
    }
}

/// Keeps the kind of failure, drops driver detail (which may name hosts or users).
fn redact_db_error(e: &skillup_db::DbError) -> &'static str {
    if e.is_unavailable() {
        "unreachable"
    } else {
        "query failed"
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedisHealth {
    /// `up` or `down`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub stats: Option<RedisInfo>,
    #[schema(value_type = Object)]
    pub cache: CacheCounters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Redis round trip, server figures (`INFO`) and this process's cache counters.
#[utoipa::path(get, path = "/health/redis", tag = "operations", responses(
    (status = 200, description = "Redis up", body = RedisHealth),
    (status = 503, description = "Redis down", body = RedisHealth)))]
#[get("/health/redis")]
pub async fn health_redis(state: web::Data<AppState>) -> HttpResponse {
    let cache = &state.cache;
    let probe =
        async { Ok::<_, skillup_cache::CacheError>((cache.ping().await?, cache.info().await?)) };
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Ok((rtt, info))) => HttpResponse::Ok().json(RedisHealth {
            status: "up",
            latency_ms: Some(ms(rtt)),
            stats: Some(info),
            cache: cache.counters(),
            error: None,
        }),
        outcome => HttpResponse::ServiceUnavailable().json(RedisHealth {
            status: "down",
            latency_ms: None,
            stats: None,
            cache: cache.counters(),
            error: Some(match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".to_owned(),
            }),
        }),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Probe {
    /// `live`; for readiness `ready` or `not_ready`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
}

/// Liveness: 200 while the process serves HTTP. It checks nothing else, so an
/// orchestrator that restarts on it never restarts an API for an outage of
/// Postgres or Redis, which a restart cannot mend.
#[utoipa::path(get, path = "/livez", tag = "operations", responses(
    (status = 200, description = "The process is serving", body = Probe)))]
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(Probe {
        status: "live",
        checks: None,
    })
}

/// Readiness: 200 when this API can answer reads, that is when Postgres is
/// reachable or Redis is serving (cached reads, STALE during a Postgres outage);
/// 503 when neither is, so a balancer sends the traffic to another replica.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Postgres reachable or Redis serving", body = Probe),
    (status = 503, description = "Neither Postgres nor Redis answers", body = Probe)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let Checks { database, redis } = dependencies(&state).await;
    let ready = database.is_up() || redis.is_up();
    let body = Probe {
        status: if ready { "ready" } else { "not_ready" },
        checks: Some(Checks { database, redis }),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
