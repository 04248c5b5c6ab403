//! Security headers on every response, and CORS only for the configured origins.

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/health",
        &TestApp::course_path(1),
        "/api/courses/nope",
        "/nope",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn without_cors_origins_no_cors_headers_are_sent() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/api/courses", app.address))
        .header(ORIGIN, "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "non-browser and same-origin callers are unaffected"
    );
    assert!(res.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn listed_origins_get_cors_and_others_do_not() {
    let app = spawn_app_with(Options {
        cors_origins: Some("https://app.example, http://localhost:3000"),
        ..Options::default()
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/courses", app.address),
            )
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://app.example").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert!(
        ok.headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "never credentials"
    );

    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let read = app
        .client
        .get(format!("{}{}", app.address, TestApp::course_path(1)))
        .header(ORIGIN, "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    let exposed = read.headers()[ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("x-cache"),
        "scripts may read X-Cache: {exposed}"
    );
}

#[tokio::test]
async fn a_wildcard_allows_any_origin_without_credentials() {
    let app = spawn_app_with(Options {
        cors_origins: Some("*"),
        ..Options::default()
    })
    .await;
    let res = app
        .client
        .get(format!("{}/api/courses", app.address))
        .header(ORIGIN, "https://anything.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(
        res.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}
