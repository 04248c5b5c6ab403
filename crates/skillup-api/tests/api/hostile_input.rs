//! Bad input gets a 400 (or 404) with the error JSON, never a 500.

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn malformed_ids_and_query_values_are_400() {
    let app = spawn_app().await;
    let cases = [
        "/api/courses/not-a-uuid",
        "/api/courses/123",
        "/api/courses/0123b6d1fe4b4cec84e308312f2a32e5",
        "/api/courses/0123b6d1-fe4b-4cec-84e3-08312f2a32e*",
        "/api/courses/%2A",
        "/api/courses/%FF%FE",
        "/api/courses?page=0",
        "/api/courses?page=-1",
        "/api/courses?page=99999999999999999999999",
        "/api/courses?page=100001",
        "/api/courses?page=1.5",
        "/api/courses?per_page=abc",
        "/api/courses?per_page=0",
        "/api/courses?per_page=101",
        "/api/courses?per_page=-5",
        "/api/courses?page=1&page=2",
        "/api/courses?page=%ZZ",
    ];
    for path in cases {
        let res = app.get(path).await;
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(error_code(res).await, "bad_request", "{path}");
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let app = spawn_app().await;
    for path in ["/nope", "/api/course", "/api/courses/1/2/3"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(error_code(res).await, "not_found");
    }
}

#[tokio::test]
async fn long_and_odd_paths_are_never_a_server_error() {
    let app = spawn_app().await;
    let long = "a".repeat(4000);
    for path in [
        format!("/api/courses/{long}"),
        format!("/api/courses?page={long}"),
        "/api/courses/%00".to_owned(),
        "/api/courses/..%2F..%2Fetc".to_owned(),
        "/api/courses?per_page=%F0%9F%92%A9".to_owned(),
    ] {
        let res = app.get(&path).await;
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
    }
}

#[tokio::test]
async fn known_paths_with_other_methods_are_405_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        ("TRACE", "/api/auth/logout", "POST"),
        ("PUT", "/api/courses", "GET, POST"),
        ("POST", "/health", "GET"),
        ("DELETE", "/api/me", "GET"),
    ] {
        let res = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", app.address),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_eq!(error_code(res).await, "method_not_allowed");
    }
}
