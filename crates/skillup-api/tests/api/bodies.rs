//! Request bodies: the 1 MiB limit (413) and hostile JSON, which must always be a
//! 4xx with the error body, never a 500.

use reqwest::Method;
use serde_json::{Value, json};
use skillup_common::UserId;

use crate::helpers::{TestApp, in_one_hour, instructor, refused, spawn_app, token_with};

#[tokio::test]
async fn bodies_over_1_mib_are_413() {
    let app = spawn_app().await;
    let big = json!({"title": "x", "description": "d".repeat(2 * 1024 * 1024)});
    let message = refused(
        app.post("/api/courses", &instructor(1), &big).await,
        413,
        "payload_too_large",
    )
    .await;
    assert!(message.contains("1048576"), "{message}");
    let just_under = json!({"title": "x", "description": "d".repeat(1024 * 1024 - 100)});
    let message = refused(
        app.post("/api/courses", &instructor(1), &just_under).await,
        400,
        "bad_request",
    )
    .await;
    assert!(
        message.contains("description"),
        "under the limit the validation speaks: {message}"
    );
}

/// A JSON body sent as anything but `application/json` is a 415 before it is
/// read: the content types a cross-site page can make a browser send without a
/// preflight, and none at all.
#[tokio::test]
async fn bodies_without_the_json_content_type_are_415() {
    let app = spawn_app().await;
    let owner = instructor(1);
    let body = r#"{"title":"Sent as JSON text"}"#;
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        Some(""),
        None,
    ] {
        let mut req = app
            .client
            .post(format!("{}/api/courses", app.address))
            .bearer_auth(&owner)
            .body(body);
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        let res = req.send().await.expect("request sent");
        let message = refused(res, 415, "unsupported_media_type").await;
        assert!(
            message.contains("application/json"),
            "{content_type:?}: {message}"
        );
    }
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let res = app
            .client
            .post(format!("{}/api/courses", app.address))
            .bearer_auth(&owner)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        assert_eq!(res.status(), 201, "{content_type}");
    }
}

/// Bodies no handler should choke on.
fn hostile_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = [
        "",
        " ",
        "null",
        "true",
        "0",
        "-1",
        "\"string\"",
        "[]",
        "[{}]",
        "{",
        "}",
        "{]",
        "{\"title\"}",
        "{\"title\":}",
        "{\"title\":\"x\",}",
        "{'title':'x'}",
        "{\"title\":\"x\"}{\"title\":\"y\"}",
        "{\"title\":\"\\ud800\"}",
        "{\"title\":\"\\u0000\"}",
        "{\"title\":\"ok\",\"description\":\"\\u0000\"}",
        "{\"title\":[\"x\"]}",
        "{\"title\":{\"a\":1}}",
        "{\"title\":\"x\",\"price_cents\":1e400}",
        "{\"title\":\"x\",\"price_cents\":99999999999999999999999999999}",
        "{\"title\":\"x\",\"price_cents\":-0.0}",
        "{\"title\":\"x\",\"price_cents\":NaN}",
        "{\"title\":\"x\",\"price_cents\":null}",
        "{\"title\":\"x\",\"slug\":\"../../etc\"}",
        "{\"title\":\"x\",\"slug\":\"*\"}",
        "{\"__proto__\":{}}",
        "{\"title\":\"x\",\"title\":\"y\"}",
        "{\"completed\":\"true\"}",
        "{\"completed\":[]}",
        "{\"completed\":{}}",
        "{\"position\":2147483648}",
        "{\"duration_seconds\":-2147483649}",
        "\u{feff}{\"title\":\"bom\"}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bodies.push(b"{\"title\":\"\xff\xfe\"}".to_vec());
    bodies.push(b"\xc3\x28".to_vec());
    bodies.push(vec![0; 64]);
    bodies.push("[".repeat(100_000).into_bytes());
    bodies.push(format!("{{\"title\":{}", "{\"a\":".repeat(10_000)).into_bytes());
    bodies.push(format!("{{\"title\":\"{}\"}}", "\u{1F4A9}".repeat(300)).into_bytes());
    bodies
}

/// A tiny deterministic generator (xorshift) for random-ish bodies built from
/// JSON fragments and raw bytes.
fn random_bodies(n: usize) -> Vec<Vec<u8>> {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"title\"",
        "\"completed\"",
        "\"price_cents\"",
        "\"position\"",
        "\"duration_seconds\"",
        "\"published\"",
        "\"x\"",
        "true",
        "null",
        "1",
        "-1",
        "1e999",
        "2147483648",
        "\"\\u0000\"",
        "\"\u{1F4A9}\"",
        "\"\\ud83d\"",
        " ",
        "\u{0}",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let len = next() % 24;
            let mut body = Vec::new();
            for _ in 0..len {
                let r = next();
                if r % 7 == 0 {
                    body.push((r >> 8) as u8);
                } else {
                    body.extend_from_slice(PIECES[(r >> 8) as usize % PIECES.len()].as_bytes());
                }
            }
            body
        })
        .collect()
}

#[tokio::test]
async fn hostile_bodies_are_never_a_server_error() {
    let app = spawn_app().await;
    let (course, lessons) = app.published_course(1).await;
    let owner = instructor(1);
    let detail: Value = app
        .get(&format!("/api/courses/{course}"))
        .await
        .json()
        .await
        .unwrap();
    let module = detail["modules"][0]["id"].as_str().unwrap().to_owned();
    app.post_empty(&format!("/api/courses/{course}/enroll"), &owner)
        .await;
    let targets = [
        (Method::POST, "/api/courses".to_owned()),
        (Method::PATCH, format!("/api/courses/{course}")),
        (Method::POST, format!("/api/courses/{course}/modules")),
        (Method::PATCH, format!("/api/modules/{module}")),
        (Method::POST, format!("/api/modules/{module}/lessons")),
        (Method::PATCH, format!("/api/lessons/{}", lessons[0])),
        (
            Method::PUT,
            format!("/api/courses/{course}/lessons/{}/progress", lessons[0]),
        ),
    ];
    let mut bodies = hostile_bodies();
    bodies.extend(random_bodies(150));
    for body in &bodies {
        for (method, path) in &targets {
            let res = app
                .call_raw(method.clone(), path, &owner, body.clone())
                .await;
            let status = res.status();
            let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
            assert!(
                status.is_client_error() || status.is_success(),
                "{method} {path} {shown:?}: {status}"
            );
            if status.is_client_error() {
                let json: Value = res
                    .json()
                    .await
                    .unwrap_or_else(|_| panic!("error JSON for {shown:?}"));
                assert!(json["error"]["code"].is_string(), "{shown:?}");
            }
        }
    }
    // The course still reads back fine afterwards.
    assert_eq!(
        app.get_as(&format!("/api/courses/{course}"), &owner)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn hostile_token_claims_are_never_a_server_error() {
    let app = spawn_app().await;
    let user = UserId::new_random();
    let nul_email = token_with(&json!({"sub": user.0, "exp": in_one_hour(), "email": "a\u{0}b@x"}));
    let res = app.get_as("/api/me", &nul_email).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["profile"]["email"],
        Value::Null
    );
    for claims in [
        json!({"sub": UserId::new_random().0, "exp": in_one_hour(), "email": "e".repeat(10_000)}),
        json!({"sub": UserId::new_random().0, "exp": in_one_hour(), "email": 5}),
        json!({"sub": UserId::new_random().0, "exp": "tomorrow"}),
        json!({"sub": UserId::new_random().0, "exp": i64::MAX}),
        json!({"sub": UserId::new_random().0, "exp": in_one_hour(), "session_id": 7}),
        json!({"sub": UserId::new_random().0, "exp": in_one_hour(), "session_id": "\u{0}".repeat(3)}),
    ] {
        let res = app.get_as("/api/me", &token_with(&claims)).await;
        assert!(
            res.status() == 200 || res.status() == 401,
            "{claims}: {}",
            res.status()
        );
    }
    let _ = TestApp::course_path(1);
}
