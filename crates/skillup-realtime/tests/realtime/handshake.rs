use std::time::Duration;

use serde_json::json;
use skillup_db::seed;

use crate::helpers::{other_course, stack, student_course};

#[tokio::test]
async fn missing_bad_expired_and_revoked_tokens_are_refused() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let expired = stack.jwt.sign(&json!({"sub": student.0, "exp": 1}));
    let wrong_key = skillup_common::auth::JwtKeys::new(&skillup_common::config::JwtConfig {
        secret: secrecy::SecretString::from("other"),
    })
    .mint(student, Duration::from_secs(60), None);
    let revoked = stack.token(student);
    let res = stack
        .http
        .post(format!("{}/api/auth/logout", stack.api))
        .bearer_auth(&revoked)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for token in [
        "-",
        "garbage",
        expired.as_str(),
        wrong_key.as_str(),
        revoked.as_str(),
    ] {
        let mut probe = stack.probe(0, token, &[]).await;
        let line = probe
            .next(Duration::from_secs(10))
            .await
            .expect("an answer");
        assert_eq!(
            line,
            json!({"type": "connect_error", "message": "unauthorized"}),
            "token {token:.20}"
        );
    }
}

#[tokio::test]
async fn a_good_token_connects_and_subscriptions_are_checked() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let (enrolled, _) = student_course();
    let other = other_course();
    let mut probe = stack
        .probe(0, &stack.token(seed::student_id(1)), &[enrolled, other])
        .await;
    assert_eq!(probe.until("connected").await["type"], "connected");
    let ack = probe.until("ack").await;
    assert_eq!(ack["ack"], json!({"ok": true}), "enrolled");
    let ack = probe.until("ack").await;
    assert_eq!(
        ack["ack"],
        json!({"ok": false, "error": "forbidden"}),
        "not enrolled"
    );
    probe.close().await;

    // The owner (instructor-1 teaches course-1) and an admin may follow any of their courses.
    for user in [seed::instructor_id(1), seed::admin_id()] {
        let mut probe = stack
            .probe(0, &stack.token(user), &[seed::course_id(1)])
            .await;
        assert_eq!(probe.until("ack").await["ack"], json!({"ok": true}));
        probe.close().await;
    }
}
