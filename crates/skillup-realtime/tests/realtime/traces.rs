//! OpenTelemetry: one progress write, traced from the client's request through
//! the invalidator's publish (the API stores the event with the trace context of
//! its request) into the realtime node's delivery, received by a local
//! OTLP/HTTP collector. The three services run as their production binaries
//! with `OTEL_EXPORTER_OTLP_ENDPOINT` set; their spans are flushed on SIGTERM.

use std::time::Duration;

use skillup_common::auth::JwtKeys;
use skillup_common::config::JwtConfig;
use skillup_db::seed;
use skillup_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use skillup_testkit::{
    ServiceProcess, fresh_database, redis_url, service_env, unique_prefix, workspace_binary,
};

use crate::helpers::{COURSES, Probe, student_course};

/// The trace the test's own "client" starts: the API must continue it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_progress_write_is_one_trace_from_request_to_socket_delivery() {
    let collector = OtlpReceiver::start().await;
    let db = fresh_database().await;
    seed::seed(&db.pool, COURSES, &|_| {}).await.expect("seed");
    // The seed's own records would become progress events for this very student
    // and course; on a busy machine one could reach the probe before the traced
    // write's event and end the test before that write was even published.
    sqlx::query("DELETE FROM invalidation_outbox")
        .execute(&db.pool)
        .await
        .expect("outbox");
    let mut env = service_env(&db, &redis_url(), &unique_prefix());
    env.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), collector.endpoint());
    let mut realtime = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-realtime"), &env);
    let mut api = ServiceProcess::spawn(&workspace_binary("skillup-api"), &env);
    let mut invalidator = ServiceProcess::spawn(&workspace_binary("skillup-invalidator"), &env);

    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let token = JwtKeys::new(&JwtConfig {
        secret: "test-secret".to_owned().into(),
    })
    .mint(student, Duration::from_secs(600), None);
    let mut probe = Probe::spawn(
        &format!("http://127.0.0.1:{}", realtime.port),
        &token,
        &[course],
    )
    .await;
    probe.until("ready").await;

    let res = reqwest::Client::new()
        .put(format!(
            "http://127.0.0.1:{}/api/courses/{course}/lessons/{lesson}/progress",
            api.port
        ))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN}-01"))
        .json(&serde_json::json!({ "completed": true }))
        .send()
        .await
        .expect("progress PUT");
    assert_eq!(res.status(), 200);
    let event = probe.until("event").await;
    assert_eq!(event["name"], "progress:updated", "{event}");
    assert_eq!(
        event["data"]["lesson_id"],
        lesson.to_string(),
        "the traced write's event: {event}"
    );
    assert!(
        event["data"].get("traceparent").is_none(),
        "clients never see the trace context: {event}"
    );
    probe.close().await;

    for service in [&api, &invalidator, &realtime] {
        service.sigterm();
    }
    for (name, service) in [
        ("api", &mut api),
        ("invalidator", &mut invalidator),
        ("realtime", &mut realtime),
    ] {
        let status = service.wait_exit(Duration::from_secs(15)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{name} exits 0 after flushing its spans: {status:?} {:#?}",
            service.log()
        );
    }

    let spans = collector.spans();
    let find = |service: &str, name: &str| -> ReceivedSpan {
        spans
            .iter()
            .find(|s| s.service == service && s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {service} span {name:?} in {spans:#?}"))
    };
    let request = find(
        "skillup-api",
        "PUT /api/courses/{id}/lessons/{lesson_id}/progress",
    );
    let publish = find("skillup-invalidator", "redis.publish");
    let deliver = find("skillup-realtime", "socketio.deliver");
    for span in [&request, &publish, &deliver] {
        assert_eq!(span.trace_id, TRACE_ID, "one trace: {span:#?}");
    }
    assert_eq!(
        request.parent_span_id, CLIENT_SPAN,
        "the client's span is the parent"
    );
    assert_eq!(publish.parent_span_id, request.span_id);
    assert_eq!(deliver.parent_span_id, publish.span_id);
    assert_eq!(
        deliver.attributes.get("sockets").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        deliver.attributes.get("event").map(String::as_str),
        Some("progress:updated")
    );
    let signature = token.rsplit('.').next().expect("a JWT has a signature");
    for span in &spans {
        let text = format!("{span:?}");
        assert!(
            !text.contains(signature) && !text.contains("test-secret"),
            "no token or secret in exported spans: {span:#?}"
        );
    }
}
