//! HTTP routes beside Socket.IO: health, metrics, the demo page and its data.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use skillup_cache::Bytes;
use socketioxide::SocketIo;

use crate::relay::Relay;
use crate::state::AppState;

#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    pub io: SocketIo,
    pub relay: Relay,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// `ok` when the Redis subscription is up, `degraded` (still 200: sockets stay
/// connected and get what they missed when it returns) when it is not.
pub async fn health(State(state): State<HttpState>) -> Response {
    let subscribed = state.relay.is_connected();
    let redis = tokio::time::timeout(Duration::from_secs(1), state.app.cache.ping()).await;
    let redis_up = matches!(redis, Ok(Ok(_))) && subscribed;
    let hub = state.app.hub.stats();
    let sockets = hub.sockets.load(std::sync::atomic::Ordering::Relaxed);
    let rooms = hub.rooms.load(std::sync::atomic::Ordering::Relaxed);
    let body = json!({
        "status": if redis_up { "ok" } else { "degraded" },
        "checks": { "redis": { "status": if redis_up { "up" } else { "down" }, "subscribed": subscribed } },
        "connections": sockets,
        "rooms": rooms,
        "replay": {
            "last": hub.last.load(std::sync::atomic::Ordering::Relaxed),
            "window": hub.window.load(std::sync::atomic::Ordering::Relaxed),
        },
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// Liveness: 200 while the process serves HTTP; it checks nothing else.
pub async fn livez() -> Response {
    (StatusCode::OK, Json(json!({"status": "live"}))).into_response()
}

/// Readiness: 200 while the Redis subscription is up, which is what brings a new
/// socket its live events; 503 otherwise, so a balancer sends new sockets to a
/// node that has it (sockets already here stay, and get what they missed from
/// the replay window once it returns).
pub async fn readyz(State(state): State<HttpState>) -> Response {
    let subscribed = state.relay.is_connected();
    let body = json!({
        "status": if subscribed { "ready" } else { "not_ready" },
        "checks": { "redis": { "status": if subscribed { "up" } else { "down" }, "subscribed": subscribed } },
    });
    let status = if subscribed {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

pub async fn metrics_text(State(state): State<HttpState>) -> Response {
    metrics::gauge!("realtime_sockets").set(state.io.sockets().len() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The signed-in user's courses with progress (the API's `/api/me` snapshot, read
/// through the same `user:{id}` cache entry), for the demo page.
pub async fn demo_me(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Ok(claims) = state.app.jwt.verify(token) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        );
    };
    if let Ok(true) = state
        .app
        .cache
        .is_revoked(&claims.revocation_id(token))
        .await
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this session was signed out",
        );
    }
    let user = claims.user_id();
    let db = state.app.db.clone();
    let cache = &state.app.cache;
    let lookup = cache
        .get_or_load(
            &cache.keys().user(user),
            cache.user_ttl(),
            move || async move {
                let me = skillup_db::profiles::me(&db, user).await?;
                Ok::<_, skillup_db::DbError>(
                    me.map(|m| Bytes::from(serde_json::to_vec(&m).unwrap_or_default())),
                )
            },
        )
        .await;
    match lookup {
        Ok(found) => match found.value {
            Some(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            None => Json(json!({"profile": null, "enrollments": []})).into_response(),
        },
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "the database is unavailable",
        ),
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}
