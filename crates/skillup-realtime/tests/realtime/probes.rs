//! `/livez` and `/readyz` of a realtime node whose link to Redis the test cuts
//! (a proxy; the shared Redis keeps running): ready only while subscribed.

use std::time::Duration;

use serde_json::Value;
use skillup_testkit::{TcpProxy, eventually};

use crate::helpers::stack;

#[tokio::test(flavor = "multi_thread")]
async fn live_always_ready_only_while_subscribed_to_redis() {
    let stack = stack(0, skillup_testkit::redis_url()).await;
    let proxy = TcpProxy::start_for_url(&stack.redis_url).await;
    let mut env = stack.env.clone();
    env.insert("REDIS_URL".into(), proxy.through(&stack.redis_url));
    let node = stack.node(&env).await;
    let probe = |path: &'static str| {
        let url = format!("{node}{path}");
        let http = stack.http.clone();
        async move {
            let res = http.get(url).send().await.expect("request");
            let status = res.status().as_u16();
            let body: Value = res.json().await.expect("JSON");
            (status, body)
        }
    };
    let ready = eventually(Duration::from_secs(5), || async {
        probe("/readyz").await.0 == 200
    })
    .await;
    assert!(ready, "ready once subscribed");
    assert_eq!(
        probe("/livez").await,
        (200, serde_json::json!({"status": "live"}))
    );

    proxy.cut();
    let unready = eventually(Duration::from_secs(5), || async {
        probe("/readyz").await.0 == 503
    })
    .await;
    assert!(unready, "not ready while the subscription is down");
    let (_, body) = probe("/readyz").await;
    assert_eq!(body["checks"]["redis"]["subscribed"], false, "{body}");
    assert_eq!(probe("/livez").await.0, 200, "still live");

    proxy.restore();
    let back = eventually(Duration::from_secs(10), || async {
        probe("/readyz").await.0 == 200
    })
    .await;
    assert!(back, "ready again once it has re-subscribed");
}
