//! The API against a TLS-only Redis signed by a private CA (`REDIS_TLS_CA_FILE`),
//! as on Redis Cloud: the cache works end to end over `rediss://`.

use skillup_testkit::TlsRedis;

use crate::helpers::{Options, TestApp, spawn_app_with, x_cache};

#[tokio::test]
async fn course_reads_are_cached_in_a_tls_redis_trusted_through_its_ca_file() {
    let redis = TlsRedis::start();
    let app = spawn_app_with(Options {
        redis_url: redis.url(),
        redis_tls_ca_file: Some(redis.ca_file()),
        ..Options::default()
    })
    .await;

    let health: serde_json::Value = app.get("/health").await.json().await.expect("JSON");
    assert_eq!(health["status"], "ok", "{health}");

    let path = TestApp::course_path(1);
    let first = app.get(&path).await;
    assert_eq!(first.status(), 200);
    assert_eq!(x_cache(&first), "MISS");
    let second = app.get(&path).await;
    assert_eq!(second.status(), 200);
    assert_eq!(x_cache(&second), "HIT");
}
