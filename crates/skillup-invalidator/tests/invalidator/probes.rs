//! `/livez` and `/readyz` of the invalidator, with Postgres cut for this one
//! process (a proxy; the shared server keeps running).

use std::time::Duration;

use skillup_invalidator::{Application, InvalidatorConfig};
use skillup_testkit::{TcpProxy, eventually};

use crate::helpers::{Options, stack};

#[tokio::test(flavor = "multi_thread")]
async fn live_always_ready_only_while_postgres_answers() {
    let stack = stack(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let proxy = TcpProxy::start_for_url(&stack.db.url).await;
    let mut env = stack.env();
    env.insert("DATABASE_URL".into(), proxy.through(&stack.db.url));
    env.insert("PORT".into(), "0".into());
    let app = Application::build(InvalidatorConfig::from_env(&env).expect("config"))
        .await
        .expect("builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let probe = |path: &'static str| {
        let url = format!("{base}{path}");
        let http = stack.http.clone();
        async move {
            let res = http.get(url).send().await.expect("request");
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.expect("JSON");
            (status, body)
        }
    };
    assert_eq!(probe("/livez").await.0, 200);
    let (status, ready) = probe("/readyz").await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));

    proxy.cut();
    let (status, ready) = probe("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "down");
    assert_eq!(
        probe("/livez").await,
        (200, serde_json::json!({"status": "live"}))
    );

    proxy.restore();
    let back = eventually(Duration::from_secs(5), || async {
        probe("/readyz").await.0 == 200
    })
    .await;
    assert!(back, "ready again once Postgres answers");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), done).await;
}
