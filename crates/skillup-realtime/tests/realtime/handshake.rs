use std::time::Duration;

use serde_json::json;
use skillup_db::seed;

use crate::helpers::{other_course, stack, student_course};

#[tokio::test]
async fn missing_bad_expired_and_revoked_tokens_are_refused() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let expired = stack.jwt.sign(&json!({"sub": student.0, "exp": 1}));
    let wrong_key = skillup_common::auth::JwtKeys::new(&skillup_common::config::JwtConfig {
        secret: secrecy::SecretString::from("other"),
    })
    .mint(student, Duration::from_secs(60), None);
    let revoked = stack.token(student);
    stack.revoke(&revoked).await;
    for token in [
        "-",
        "garbage",
        expired.as_str(),
        wrong_key.as_str(),
        revoked.as_str(),
    ] {
        let mut probe = stack.probe(0, token, &[]).await;
        let line = probe
            .next(Duration::from_secs(10))
            .await
            .expect("an answer");
        assert_eq!(
            line,
            json!({"type": "connect_error", "message": "unauthorized"}),
            "token {token:.20}"
        );
    }
}

#[tokio::test]
async fn a_good_token_connects_and_subscriptions_are_checked() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let (enrolled, _) = student_course();
    let other = other_course();
    let mut probe = stack
        .probe(0, &stack.token(seed::student_id(1)), &[enrolled, other])
        .await;
    assert_eq!(probe.until("connected").await["type"], "connected");
    let ack = probe.until("ack").await;
    assert_eq!(ack["ack"]["ok"], true, "enrolled: {ack}");
    let ack = probe.until("ack").await;
    assert_eq!(
        ack["ack"],
        json!({"ok": false, "error": "forbidden"}),
        "not enrolled"
    );
    probe.close().await;

    // The owner (instructor-1 teaches course-1) and an admin may follow any of their courses.
    for user in [seed::instructor_id(1), seed::admin_id()] {
        let mut probe = stack
            .probe(0, &stack.token(user), &[seed::course_id(1)])
            .await;
        assert_eq!(probe.until("ack").await["ack"]["ok"], true);
        probe.close().await;
    }
}

/// socketioxide tells the client it is connected and only then spawns the connect
/// handler, which a busy node may run late; a client subscribing on `connect` must
/// still get its ack. Here the connect handler is made to run 500 ms late.
#[tokio::test]
async fn a_subscribe_sent_on_connect_is_answered_however_late_the_connect_handler_runs() {
    use skillup_realtime::sockets;
    use skillup_realtime::state::AppState;
    use socketioxide::extract::SocketRef;
    use socketioxide::handler::ConnectHandler;

    let db = skillup_testkit::fresh_database().await;
    seed::seed(&db.pool, crate::helpers::COURSES, &|_| {})
        .await
        .expect("seed");
    let env = skillup_testkit::service_env(
        &db,
        &skillup_testkit::redis_url(),
        &skillup_testkit::unique_prefix(),
    );
    let config = skillup_realtime::RealtimeConfig::from_env(&env).expect("config");
    let jwt = skillup_common::auth::JwtKeys::new(&config.jwt);
    let db = skillup_db::connect_lazy(&config.database).expect("pool");
    let cache = skillup_cache::Cache::connect(&config.redis)
        .await
        .expect("redis");
    let (hub, _hub_task) = skillup_realtime::hub::Hub::start(
        db.clone(),
        cache.clone(),
        skillup_realtime::hub::HubSettings {
            replay: config.replay,
            max_replay: 100,
        },
    );
    let state = AppState {
        db,
        cache,
        jwt: jwt.clone(),
        hub,
    };
    let (layer, io) = socketioxide::SocketIo::builder()
        .with_state(state)
        .build_layer();
    let late = async |socket: SocketRef, state: socketioxide::extract::State<AppState>| {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sockets::on_connect(socket, state).await;
    };
    io.ns("/", late.with(sockets::authenticate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().layer(layer)).await });

    let (course, _) = student_course();
    let token = jwt.mint(seed::student_id(1), Duration::from_secs(600), None);
    let mut probe = crate::helpers::Probe::spawn(&url, &token, &[course]).await;
    let ack = probe.until("ack").await;
    assert_eq!(ack["ack"]["ok"], true, "{ack}");
    probe.close().await;
}
