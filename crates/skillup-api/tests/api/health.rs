use serde_json::Value;
use skillup_testkit::dead_redis_url;

use crate::helpers::{Options, TestApp, error_code, spawn_app, spawn_app_with, x_cache};

#[tokio::test]
async fn health_is_ok_with_both_dependencies_up() {
    let app = spawn_app().await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["redis"]["status"], "up");
}

#[tokio::test]
async fn health_redis_reports_server_stats_and_cache_counters() {
    let app = spawn_app().await;
    app.get(&TestApp::course_path(1)).await;
    app.get(&TestApp::course_path(1)).await;
    let res = app.get("/health/redis").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "up");
    assert!(body["latency_ms"].is_number());
    for field in [
        "used_memory",
        "used_memory_human",
        "connected_clients",
        "keyspace_hits",
        "keyspace_misses",
        "uptime_seconds",
    ] {
        assert!(!body["stats"][field].is_null(), "stats.{field}");
    }
    assert_eq!(body["cache"]["hits"], 1);
    assert_eq!(body["cache"]["misses"], 1);
    assert_eq!(body["cache"]["errors"], 0);
    assert_eq!(body["cache"]["hit_ratio"], 0.5);
}

#[tokio::test]
async fn redis_down_degrades_but_every_read_still_answers() {
    let app = spawn_app_with(Options {
        redis_url: dead_redis_url(),
        ..Options::default()
    })
    .await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), 200);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["redis"]["status"], "down");

    let redis = app.get("/health/redis").await;
    assert_eq!(redis.status(), 503);
    let body: Value = redis.json().await.unwrap();
    assert_eq!(body["status"], "down");

    for path in [TestApp::course_path(1), "/api/courses".to_owned()] {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(x_cache(&res), "BYPASS", "{path}");
    }
    let draft = app.get(&TestApp::course_path(10)).await;
    assert_eq!(draft.status(), 404);
}

#[tokio::test]
async fn postgres_down_is_503_except_for_what_is_cached() {
    let app = spawn_app().await;
    let cached = app.get(&TestApp::course_path(1)).await;
    assert_eq!(cached.status(), 200);

    app.db.drop_now().await;

    let health = app.get("/health").await;
    assert_eq!(health.status(), 503);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "down");
    assert_eq!(body["checks"]["database"]["status"], "down");

    let hit = app.get(&TestApp::course_path(1)).await;
    assert_eq!(
        hit.status(),
        200,
        "cached answers survive a database outage"
    );
    assert_eq!(x_cache(&hit), "HIT");

    let uncached = app.get(&TestApp::course_path(2)).await;
    assert_eq!(uncached.status(), 503);
    let text = uncached.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert!(
        !text.contains("skillup_test_"),
        "no driver detail leaks: {text}"
    );
    let listing = app.get("/api/courses?page=4").await;
    assert_eq!(listing.status(), 503);
    assert_eq!(error_code(listing).await, "service_unavailable");
}
