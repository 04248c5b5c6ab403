//! The budget of failed authentications per client address: 429 with
//! `Retry-After` past `AUTH_FAILURE_LIMIT`, never for a valid token, per address,
//! `X-Forwarded-For` ignored, and the budget back after the window.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use skillup_common::UserId;

use crate::helpers::{Options, TestApp, new_user, refused, spawn_app_with, token_with};

fn limited(limit: &'static str, window_secs: &'static str) -> Options {
    Options {
        auth_failure_limit: limit,
        auth_failure_window_secs: window_secs,
        ..Options::default()
    }
}

async fn me_as(client: &reqwest::Client, app: &TestApp, authorization: &str) -> reqwest::Response {
    client
        .get(format!("{}/api/me", app.address))
        .header("authorization", authorization)
        .send()
        .await
        .expect("request sent")
}

/// Asserts a 429 with the error body and a `Retry-After` of 1..=`max` seconds.
async fn assert_limited(res: reqwest::Response, max: u64) {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("an ASCII header")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(
        (1..=max).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let message = refused(res, 429, "too_many_requests").await;
    assert!(message.contains("failed authentications"), "{message}");
}

#[tokio::test]
async fn the_failure_after_the_limit_is_429_and_valid_tokens_still_pass() {
    // A long window, so no unit comes back while the test runs on a busy machine.
    let app = spawn_app_with(limited("3", "600")).await;
    let client = &app.client;
    let (user, good) = new_user();

    // Three failures of three kinds: garbage, a malformed header, a revoked session.
    let revoked = token_with(
        &json!({"sub": user.0, "exp": crate::helpers::in_one_hour(), "session_id": "s1"}),
    );
    assert_eq!(
        app.post_empty("/api/auth/logout", &revoked).await.status(),
        204
    );
    for authorization in [
        "Bearer not-a-jwt",
        "Basic abc",
        &format!("Bearer {revoked}"),
    ] {
        refused(
            me_as(client, &app, authorization).await,
            401,
            "unauthorized",
        )
        .await;
    }

    // The fourth is refused with 429 (a unit comes back every 600 / 3 s), on any route.
    assert_limited(me_as(client, &app, "Bearer not-a-jwt").await, 200).await;
    assert_limited(app.get_as(&TestApp::course_path(1), "x.y.z").await, 200).await;
    assert_limited(me_as(client, &app, &format!("Bearer {revoked}")).await, 200).await;

    // Successful requests are never limited and spend nothing.
    for _ in 0..5 {
        assert_eq!(app.get_as("/api/me", &good).await.status(), 200);
    }
    let course = app
        .post(
            "/api/courses",
            &crate::helpers::instructor(1),
            &json!({"title": "Still works"}),
        )
        .await;
    assert_eq!(course.status(), 201, "a valid write from the same address");
    assert_eq!(
        app.get("/api/courses").await.status(),
        200,
        "anonymous reads"
    );
    refused(app.get("/api/me").await, 401, "unauthorized").await;

    // X-Forwarded-For is not trusted: it does not buy a fresh budget.
    let spoofed = client
        .get(format!("{}/api/me", app.address))
        .header("authorization", "Bearer not-a-jwt")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_limited(spoofed, 200).await;
}

#[tokio::test]
async fn each_client_address_has_its_own_budget() {
    let app = spawn_app_with(limited("2", "600")).await;
    let first = TestApp::client_from([127, 0, 0, 1]);
    let second = TestApp::client_from([127, 0, 0, 2]);
    for _ in 0..2 {
        refused(me_as(&first, &app, "Bearer bad").await, 401, "unauthorized").await;
    }
    assert_limited(me_as(&first, &app, "Bearer bad").await, 300).await;
    for _ in 0..2 {
        refused(
            me_as(&second, &app, "Bearer bad").await,
            401,
            "unauthorized",
        )
        .await;
    }
    assert_limited(me_as(&second, &app, "Bearer bad").await, 300).await;
    let good = crate::helpers::token(UserId::new_random());
    assert_eq!(
        me_as(&second, &app, &format!("Bearer {good}"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_budget_comes_back_after_the_window() {
    let app = spawn_app_with(limited("1", "2")).await;
    refused(app.get_as("/api/me", "bad").await, 401, "unauthorized").await;
    assert_limited(app.get_as("/api/me", "bad").await, 2).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    refused(app.get_as("/api/me", "bad").await, 401, "unauthorized").await;
}

#[tokio::test]
async fn the_429_is_documented_wherever_a_401_is() {
    let app = spawn_app_with(Options::default()).await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut with_401 = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            if responses.get("401").is_some() {
                with_401 += 1;
                let limited = &responses["429"];
                assert!(limited.is_object(), "{method} {path} has 401 but no 429");
                assert!(
                    limited["headers"]["retry-after"].is_object(),
                    "{method} {path}"
                );
            } else {
                assert!(responses.get("429").is_none(), "{method} {path}");
            }
        }
    }
    assert!(with_401 >= 17, "every token-reading route: {with_401}");
}
