//! SIGTERM with sockets connected (events just delivered, polls pending),
//! against the binary as it runs in production: the node closes every socket's
//! transport itself (the pending requests of long-polling clients would otherwise
//! hold axum's graceful shutdown for a ping interval) and exits 0 within
//! `SHUTDOWN_GRACE_SECS`.
//!
//! Clients see `transport close` (or `transport error` when polling), reasons
//! after which `socket.io-client` reconnects by itself — to another node behind
//! the load balancer during a rolling deploy. (`io server disconnect`, a
//! Socket.IO-level disconnect, would tell them not to reconnect.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fred::prelude::*;
use skillup_db::seed;
use skillup_testkit::{ServiceProcess, fresh_database, redis_url, service_env, unique_prefix};

use crate::helpers::{COURSES, Probe, student_course};

const SOCKETS: usize = 8;
const GRACE_SECS: u64 = 5;

#[tokio::test]
async fn sigterm_closes_every_socket_from_the_server_and_exits_0() {
    let db = fresh_database().await;
    seed::seed(&db.pool, COURSES, &|_| {}).await.expect("seed");
    let prefix = unique_prefix();
    let mut env = service_env(&db, &redis_url(), &prefix);
    env.insert("SHUTDOWN_GRACE_SECS".into(), GRACE_SECS.to_string());
    let mut node = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-realtime"), &env);
    let url = format!("http://127.0.0.1:{}", node.port);

    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let keys = skillup_common::auth::JwtKeys::new(&skillup_common::config::JwtConfig {
        secret: "test-secret".to_owned().into(),
    });
    let token = keys.mint(student, Duration::from_secs(600), None);
    let mut probes = Vec::new();
    for i in 0..SOCKETS {
        // Half long-polling: each keeps a request pending in the server, which
        // the graceful shutdown would wait on (for up to a ping interval) unless
        // the node closes the sockets first. The user's own room is enough to
        // receive their progress events.
        let transport = if i % 2 == 0 { "websocket" } else { "polling" };
        let mut probe = Probe::spawn_over(&url, &token, &[], transport).await;
        loop {
            let line = probe
                .next(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("probe ended before ready: {:#?}", node.log()));
            if line["type"] == "ready" {
                break;
            }
            assert!(line["type"] != "connect_error", "{line}: {:#?}", node.log());
        }
        probes.push(probe);
    }

    // Events flow through the relay to every socket.
    let publisher = Client::new(
        Config::from_url(&redis_url()).expect("TEST_REDIS_URL"),
        None,
        None,
        None,
    );
    publisher.init().await.expect("redis");
    let channel = format!("{prefix}events:progress");
    let stop = Arc::new(AtomicBool::new(false));
    let publishing = tokio::spawn({
        let (stop, publisher) = (stop.clone(), publisher.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let event = serde_json::json!({
                    "course_id": course, "lesson_id": lesson, "completed": true,
                    "completed_lessons": 1, "total_lessons": 3, "percent": 33.3,
                    "user_id": student, "at": chrono::Utc::now().to_rfc3339(),
                });
                let _: Result<i64, _> = publisher.publish(&channel, event.to_string()).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    for probe in &mut probes {
        probe.until("event").await;
    }

    // Quiet again: every polling client now has a request pending in the node.
    stop.store(true, Ordering::Relaxed);
    let _ = publishing.await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    node.sigterm();
    let stopped_at = Instant::now();
    for probe in &mut probes {
        let disconnect = probe.until("disconnect").await;
        // Both reasons make socket.io-client reconnect on its own (a polling
        // client finds its next poll refused: `transport error`).
        assert!(
            ["transport close", "transport error"]
                .contains(&disconnect["reason"].as_str().unwrap_or("")),
            "a disconnect the client recovers from by reconnecting: {disconnect}"
        );
    }
    let status = node
        .wait_exit(Duration::from_secs(GRACE_SECS + 3))
        .await
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", stopped_at.elapsed()));
    assert!(status.success(), "exit status {status}: {:#?}", node.log());
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", node.port))
            .await
            .is_err(),
        "nothing listens any more"
    );
    let _ = publisher.quit().await;
    for probe in probes {
        probe.close().await;
    }
}
