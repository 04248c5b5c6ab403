//! The default namespace: the handshake, course subscriptions, and handing each
//! socket to the hub, which owns its rights and deliveries from then on.
//!
//! - Handshake: `auth: {token, offset?}`; the same JWT rules as the API (HS256,
//!   `exp`, revocation). Refused connections get `connect_error` with message
//!   `unauthorized`. Like the API's reads, the revocation check fails open while
//!   Redis is down (a socket only receives; it cannot change anything); the hub
//!   checks such sessions again once Redis answers.
//! - On connect the socket follows its own user (its progress events), and the
//!   hub replays what it missed after `auth.offset`.
//! - `course:subscribe {course_id, offset?}` → ack `{ok:true, recovered}` for an
//!   enrolled user (student level: course updates), the course's instructor or
//!   an admin (staff: also every learner's progress); else `{ok:false,error}`
//!   with `forbidden`, `bad_request` (no valid id) or `unavailable` (cannot
//!   check). `course:unsubscribe {course_id}` → ack `{ok:true}`.

use std::time::Duration;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::{Value, json};
use skillup_common::{CourseId, UserId};
use skillup_events::names;
use socketioxide::extract::{AckSender, Data, SocketRef, State, TryData};
use tokio::sync::oneshot;

use crate::hub::{Admission, Command, SessionKey, Subscribed, Subscription};
use crate::state::AppState;

/// How often a subscription is checked again when the hub says its rights
/// changed meanwhile (or it is still loading) before the ack says `unavailable`.
const SUBSCRIBE_ATTEMPTS: u32 = 50;
const SUBSCRIBE_RETRY: Duration = Duration::from_millis(100);

/// The handshake's `auth` object.
#[derive(Debug, Deserialize)]
pub struct HandshakeAuth {
    token: String,
    /// The offset of the last event the client received, to replay what came after.
    #[serde(default)]
    offset: Option<String>,
}

/// Why a handshake was refused; the client sees only `unauthorized`.
#[derive(Debug)]
pub struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unauthorized")
    }
}

/// Connect middleware: verifies `auth.token`, then admits the socket (see [`admit`]).
pub async fn authenticate(
    socket: SocketRef,
    TryData(auth): TryData<HandshakeAuth>,
    State(state): State<AppState>,
) -> Result<(), Unauthorized> {
    let HandshakeAuth { token, offset } = auth.map_err(|_| Unauthorized)?;
    let claims = state.jwt.verify(&token).map_err(|e| {
        tracing::debug!(error = %e, "socket handshake refused");
        Unauthorized
    })?;
    let revocation_id = claims.revocation_id(&token);
    let session = SessionKey::parse(&revocation_id).ok_or(Unauthorized)?;
    let unverified = match state.cache.is_revoked(&revocation_id).await {
        Ok(true) => return Err(Unauthorized),
        Ok(false) => false,
        Err(e) => {
            tracing::warn!(error = %e, "revocation unknown (redis unavailable); accepting the socket");
            true
        }
    };
    let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(Unauthorized)?;
    let user = claims.user_id();
    register_handlers(&socket, user);
    state
        .hub
        .send(Command::Admit(Box::new(Admission {
            socket,
            user,
            session,
            expires_at,
            offset,
            unverified,
        })))
        .await;
    Ok(())
}

/// Registers the event handlers — in the middleware, before the client learns it
/// is connected.
///
/// socketioxide sends the client its CONNECT packet when the middleware returns and
/// only then *spawns* the async connect handler; an event read before a spawned
/// handler registered anything has no handler and is dropped without an ack.
/// Clients emit `course:subscribe` as soon as they connect, so registering in the
/// connect handler lost a subscription now and then on a busy node (found by
/// `scripts/chaos.sh`: one of fifteen sockets reconnecting to a restarted node).
fn register_handlers(socket: &SocketRef, user: UserId) {
    socket.on(
        names::COURSE_SUBSCRIBE,
        async move |socket: SocketRef,
                    Data(data): Data<Value>,
                    ack: AckSender,
                    State(state): State<AppState>| {
            subscribe(socket, user, data, ack, state).await;
        },
    );
    socket.on(names::COURSE_UNSUBSCRIBE, unsubscribe);
    socket.on_disconnect(async |socket: SocketRef, State(state): State<AppState>| {
        state.hub.try_send(Command::Disconnect { sid: socket.id });
    });
}

/// Connect handler: tells the hub the socket may receive (it replays what it
/// missed).
pub async fn on_connect(socket: SocketRef, State(state): State<AppState>) {
    metrics::counter!("realtime_connections_total").increment(1);
    state.hub.try_send(Command::Connected { sid: socket.id });
}

fn course_id(data: &Value) -> Option<CourseId> {
    data.get("course_id")?.as_str()?.parse().ok()
}

fn offset(data: &Value) -> Option<String> {
    data.get("offset")?.as_str().map(str::to_owned)
}

async fn subscribe(socket: SocketRef, user: UserId, data: Value, ack: AckSender, state: AppState) {
    let Some(course) = course_id(&data) else {
        ack.send(&json!({"ok": false, "error": "bad_request"})).ok();
        return;
    };
    let answer = follow(&socket, &state, user, course, offset(&data)).await;
    ack.send(&answer).ok();
}

/// Checks the rights and hands the subscription to the hub, again when the hub
/// says the rights may have changed during the check.
async fn follow(
    socket: &SocketRef,
    state: &AppState,
    user: UserId,
    course: CourseId,
    offset: Option<String>,
) -> Value {
    for _ in 0..SUBSCRIBE_ATTEMPTS {
        let checked_after = state.hub.last();
        let level = match crate::rights::level(state, user, course).await {
            Ok(Some(level)) => level,
            Ok(None) => return json!({"ok": false, "error": "forbidden"}),
            Err(e) => {
                tracing::warn!(error = %e, "cannot check a course subscription");
                return json!({"ok": false, "error": "unavailable"});
            }
        };
        let (reply, answer) = oneshot::channel();
        state
            .hub
            .send(Command::Subscribe(Box::new(Subscription {
                sid: socket.id,
                user,
                course,
                level,
                checked_after,
                offset: offset.clone(),
                reply,
            })))
            .await;
        match answer.await {
            Ok(Subscribed::Ok { recovered }) => return json!({"ok": true, "recovered": recovered}),
            Ok(Subscribed::Retry) if socket.connected() => {
                tokio::time::sleep(SUBSCRIBE_RETRY).await
            }
            Ok(Subscribed::Retry) | Err(_) => break,
        }
    }
    json!({"ok": false, "error": "unavailable"})
}

async fn unsubscribe(
    socket: SocketRef,
    Data(data): Data<Value>,
    ack: AckSender,
    State(state): State<AppState>,
) {
    match course_id(&data) {
        Some(course) => {
            state
                .hub
                .send(Command::Unsubscribe {
                    sid: socket.id,
                    course,
                })
                .await;
            ack.send(&json!({"ok": true})).ok();
        }
        None => {
            ack.send(&json!({"ok": false, "error": "bad_request"})).ok();
        }
    }
}
