//! `/livez` and `/readyz`: liveness checks nothing; readiness is "Postgres
//! reachable or Redis serving", probed through a Postgres proxy the test cuts.

use serde_json::Value;
use skillup_testkit::{dead_redis_url, eventually};

use crate::helpers::{Options, TestApp, spawn_app_with};

async fn probe(app: &TestApp, path: &str) -> (u16, Value) {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON"))
}

#[tokio::test]
async fn ready_while_postgres_or_redis_serves_and_live_whatever_happens() {
    let app = spawn_app_with(Options {
        postgres_proxy: true,
        ..Options::default()
    })
    .await;
    assert_eq!(
        probe(&app, "/livez").await,
        (200, serde_json::json!({"status": "live"}))
    );
    let (status, ready) = probe(&app, "/readyz").await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
    assert_eq!(ready["checks"]["database"]["status"], "up");

    app.postgres.as_ref().unwrap().cut();
    let (status, ready) = probe(&app, "/readyz").await;
    assert_eq!(status, 200, "Redis still serves cached reads: {ready}");
    assert_eq!(ready["checks"]["database"]["status"], "down");
    assert_eq!(ready["checks"]["redis"]["status"], "up");
    assert_eq!(probe(&app, "/livez").await.0, 200);
    assert_eq!(
        app.get("/health").await.status(),
        503,
        "/health still says the database is down"
    );

    app.postgres.as_ref().unwrap().restore();
    let back = eventually(std::time::Duration::from_secs(5), || async {
        probe(&app, "/readyz").await.1["checks"]["database"]["status"] == "up"
    })
    .await;
    assert!(back, "ready again once Postgres is back");
}

#[tokio::test]
async fn not_ready_when_neither_postgres_nor_redis_answers_yet_still_live() {
    let app = spawn_app_with(Options {
        postgres_proxy: true,
        redis_url: dead_redis_url(),
        ..Options::default()
    })
    .await;
    app.postgres.as_ref().unwrap().cut();
    let (status, ready) = probe(&app, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["status"], "not_ready");
    assert_eq!(ready["checks"]["redis"]["status"], "down");
    assert_eq!(probe(&app, "/livez").await.0, 200);
}
