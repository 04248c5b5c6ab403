//! The default namespace: handshake auth, the user's room, and course subscriptions.
//!
//! - Handshake: `auth: {token}`; the same JWT rules as the API (HS256, `exp`,
//!   revocation). Refused connections get `connect_error` with message
//!   `unauthorized`. Like the API's reads, the revocation check fails open while
//!   Redis is down (a socket only receives; it cannot change anything).
//! - On connect the socket joins `user:{sub}`.
//! - `course:subscribe {course_id}` → ack `{ok:true}` and room `course:{id}` for an
//!   enrolled user, the course's instructor or an admin; else `{ok:false,error}`
//!   with `forbidden`, `bad_request` (no valid id) or `unavailable` (cannot check).
//! - `course:unsubscribe {course_id}` → leaves the room, ack `{ok:true}`.

use serde::Deserialize;
use serde_json::{Value, json};
use skillup_common::{CourseId, UserId};
use socketioxide::extract::{AckSender, Data, SocketRef, State, TryData};

use crate::state::AppState;

/// The handshake's `auth` object.
#[derive(Debug, Deserialize)]
pub struct HandshakeAuth {
    token: String,
}

/// Why a handshake was refused; the client sees only `unauthorized`.
#[derive(Debug)]
pub struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unauthorized")
    }
}

pub fn user_room(user: UserId) -> String {
    format!("user:{user}")
}

pub fn course_room(course: CourseId) -> String {
    format!("course:{course}")
}

/// Connect middleware: verifies `auth.token`, then admits the socket (see [`admit`]).
pub async fn authenticate(
    socket: SocketRef,
    TryData(auth): TryData<HandshakeAuth>,
    State(state): State<AppState>,
) -> Result<(), Unauthorized> {
    let token = auth.map_err(|_| Unauthorized)?.token;
    let claims = state.jwt.verify(&token).map_err(|e| {
        tracing::debug!(error = %e, "socket handshake refused");
        Unauthorized
    })?;
    match state.cache.is_revoked(&claims.revocation_id(&token)).await {
        Ok(true) => return Err(Unauthorized),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "revocation unknown (redis unavailable); accepting the socket")
        }
    }
    admit(&socket, claims.user_id());
    Ok(())
}

/// Stores the user id on the socket, joins `user:{sub}` and registers the event
/// handlers — in the middleware, before the client learns it is connected.
///
/// socketioxide sends the client its CONNECT packet when the middleware returns and
/// only then *spawns* the async connect handler; an event read before a spawned
/// handler registered anything has no handler and is dropped without an ack.
/// Clients emit `course:subscribe` as soon as they connect, so admitting in the
/// connect handler lost a subscription now and then on a busy node (found by
/// `scripts/chaos.sh`: one of fifteen sockets reconnecting to a restarted node).
fn admit(socket: &SocketRef, user: UserId) {
    socket.extensions.insert(user);
    socket.join(user_room(user));
    socket.on("course:subscribe", subscribe);
    socket.on("course:unsubscribe", unsubscribe);
}

/// Connect handler: counts the socket; [`authenticate`] has admitted it already.
pub async fn on_connect(socket: SocketRef) {
    metrics::gauge!("realtime_connections").increment(1.0);
    metrics::counter!("realtime_connections_total").increment(1);
    socket.on_disconnect(async || {
        metrics::gauge!("realtime_connections").decrement(1.0);
    });
}

fn course_id(data: &Value) -> Option<CourseId> {
    data.get("course_id")?.as_str()?.parse().ok()
}

async fn subscribe(
    socket: SocketRef,
    Data(data): Data<Value>,
    ack: AckSender,
    State(state): State<AppState>,
) {
    let (Some(user), Some(course)) = (socket.extensions.get::<UserId>(), course_id(&data)) else {
        ack.send(&json!({"ok": false, "error": "bad_request"})).ok();
        return;
    };
    let answer = match may_follow(&state, user, course).await {
        Ok(true) => {
            socket.join(course_room(course));
            json!({"ok": true})
        }
        Ok(false) => json!({"ok": false, "error": "forbidden"}),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check a course subscription");
            json!({"ok": false, "error": "unavailable"})
        }
    };
    ack.send(&answer).ok();
}

async fn unsubscribe(socket: SocketRef, Data(data): Data<Value>, ack: AckSender) {
    match course_id(&data) {
        Some(course) => {
            socket.leave(course_room(course));
            ack.send(&json!({"ok": true})).ok();
        }
        None => {
            ack.send(&json!({"ok": false, "error": "bad_request"})).ok();
        }
    }
}

/// Enrolled, instructor or admin: answered from the cached `user:{id}` snapshot
/// (role, enrollments) and `course:{id}` detail (instructor) when they are cached,
/// else from Postgres.
pub async fn may_follow(
    state: &AppState,
    user: UserId,
    course: CourseId,
) -> Result<bool, skillup_db::DbError> {
    let keys = state.cache.keys();
    if let Ok(Some(snapshot)) = state.cache.get(&keys.user(user)).await
        && let Ok(me) = serde_json::from_slice::<Value>(&snapshot)
    {
        let course_str = course.to_string();
        let enrolled = me["enrollments"]
            .as_array()
            .is_some_and(|list| list.iter().any(|e| e["course_id"] == course_str.as_str()));
        if enrolled || me["profile"]["role"] == "admin" {
            return Ok(true);
        }
    }
    if let Ok(Some(detail)) = state.cache.get(&keys.course(course)).await
        && let Ok(detail) = serde_json::from_slice::<Value>(&detail)
        && detail["instructor"]["id"] == user.to_string().as_str()
    {
        return Ok(true);
    }
    skillup_db::access::may_follow(&state.db, user, course).await
}
