//! Bearer tokens: every way a token is refused (401), first-use profiles, roles
//! from the profile, and logout revoking the session everywhere.

use fred::prelude::*;
use serde_json::{Value, json};
use skillup_common::UserId;
use skillup_db::seed;
use uuid::Uuid;

use crate::helpers::{
    JWT_SECRET, TestApp, admin, in_one_hour, instructor, new_user, refused, spawn_app, token,
    token_with,
};

/// Tokens that must never be accepted, named for the attack: `alg: none`,
/// HS384/HS512 and an RS256 header (algorithm confusion) even with the right
/// secret, a wrong signature, missing `exp` or `sub`, a non-uuid `sub`, expiry,
/// an `iat` an hour ahead (see `skillup_testkit::jwt::attacks`).
fn bad_tokens() -> Vec<(&'static str, String)> {
    skillup_testkit::jwt::attacks(&UserId::new_random().to_string(), JWT_SECRET)
}

#[tokio::test]
async fn bad_tokens_are_401_on_reads_and_writes() {
    let app = spawn_app().await;
    let course = TestApp::course_path(1);
    for (name, bad) in bad_tokens() {
        for res in [
            app.get_as("/api/me", &bad).await,
            app.get_as(&course, &bad).await,
            app.post("/api/courses", &bad, &json!({"title": "x"})).await,
            app.post_empty(&format!("{course}/enroll"), &bad).await,
        ] {
            assert!(res.headers().contains_key("www-authenticate"), "{name}");
            let message = refused(res, 401, "unauthorized").await;
            assert!(message.contains("token"), "{name}: {message}");
        }
    }
}

#[tokio::test]
async fn missing_or_malformed_authorization_headers_are_401() {
    let app = spawn_app().await;
    refused(app.get("/api/me").await, 401, "unauthorized").await;
    let (_, good) = new_user();
    for header in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Basic {good}"),
        good.clone(),
        format!("Bearer {good} extra"),
    ] {
        let res = app
            .client
            .get(format!("{}/api/me", app.address))
            .header("authorization", header.as_bytes())
            .send()
            .await
            .unwrap();
        refused(res, 401, "unauthorized").await;
    }
    let lower = app
        .client
        .get(format!("{}/api/me", app.address))
        .header("authorization", format!("bearer {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");
}

#[tokio::test]
async fn a_first_token_creates_a_student_profile_with_the_token_email() {
    let app = spawn_app().await;
    let user = UserId::new_random();
    let t = token_with(&json!({"sub": user.0, "exp": in_one_hour(), "email": "ada@example.com"}));
    let res = app.get_as("/api/me", &t).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["profile"]["id"], user.0.to_string());
    assert_eq!(me["profile"]["email"], "ada@example.com");
    assert_eq!(me["profile"]["display_name"], "ada");
    assert_eq!(me["profile"]["role"], "student");
    assert_eq!(me["enrollments"], json!([]));
    let role: String = sqlx::query_scalar("SELECT role FROM profiles WHERE id = $1")
        .bind(user.0)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(role, "student");
}

#[tokio::test]
async fn the_role_comes_from_the_profile_never_the_token() {
    let app = spawn_app().await;
    let student = seed::student_id(1);
    let claims_admin = token_with(
        &json!({"sub": student.0, "exp": in_one_hour(), "role": "admin", "app_metadata": {"role": "admin"}}),
    );
    refused(
        app.post("/api/courses", &claims_admin, &json!({"title": "Mine"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    sqlx::query("UPDATE profiles SET role = 'instructor' WHERE id = $1")
        .bind(student.0)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let res = app
        .post("/api/courses", &token(student), &json!({"title": "Mine"}))
        .await;
    assert_eq!(
        res.status(),
        201,
        "a role change applies on the next request"
    );
}

async fn revoked_key_ttl(app: &TestApp, sid: &str) -> i64 {
    app.redis()
        .await
        .ttl(app.key(&format!("session:revoked:{sid}")))
        .await
        .expect("TTL readable")
}

#[tokio::test]
async fn logout_revokes_the_session_id_for_every_token_of_the_session() {
    let app = spawn_app().await;
    let user = UserId::new_random();
    let sid = Uuid::new_v4();
    let exp = in_one_hour();
    let first = token_with(&json!({"sub": user.0, "exp": exp, "session_id": sid}));
    let refreshed = token_with(&json!({"sub": user.0, "exp": exp + 60, "session_id": sid}));
    assert_eq!(app.get_as("/api/me", &first).await.status(), 200);

    let res = app.post_empty("/api/auth/logout", &first).await;
    assert_eq!(res.status(), 204);
    let ttl = revoked_key_ttl(&app, &sid.to_string()).await;
    assert!(
        (3590..=3600).contains(&ttl),
        "revoked until the token expires: {ttl}"
    );

    for t in [&first, &refreshed] {
        let message = refused(app.get_as("/api/me", t).await, 401, "unauthorized").await;
        assert!(message.contains("signed out"), "{message}");
        refused(
            app.get_as(&TestApp::course_path(1), t).await,
            401,
            "unauthorized",
        )
        .await;
        refused(
            app.post_empty(&format!("{}/enroll", TestApp::course_path(1)), t)
                .await,
            401,
            "unauthorized",
        )
        .await;
        refused(
            app.post_empty("/api/auth/logout", t).await,
            401,
            "unauthorized",
        )
        .await;
    }
    let other_session = token(user);
    assert_eq!(
        app.get_as("/api/me", &other_session).await.status(),
        200,
        "another session of the same user is unaffected"
    );
}

#[tokio::test]
async fn logout_without_a_uuid_session_id_revokes_a_hash() {
    let app = spawn_app().await;
    let user = UserId::new_random();
    let odd = token_with(&json!({"sub": user.0, "exp": in_one_hour(), "session_id": "x:*?[]"}));
    let plain = token(user);
    for t in [&odd, &plain] {
        assert_eq!(app.post_empty("/api/auth/logout", t).await.status(), 204);
        refused(app.get_as("/api/me", t).await, 401, "unauthorized").await;
    }
    use sha2::Digest;
    let hash = |s: &str| hex::encode(sha2::Sha256::digest(s.as_bytes()));
    assert!(revoked_key_ttl(&app, &hash("x:*?[]")).await > 3500);
    assert!(revoked_key_ttl(&app, &hash(&plain)).await > 3500);
    let another = token_with(&json!({"sub": user.0, "exp": in_one_hour() + 5}));
    assert_eq!(
        app.get_as("/api/me", &another).await.status(),
        200,
        "a token-hash revocation covers only that token"
    );
}

#[tokio::test]
async fn anonymous_and_signed_in_reads_of_published_courses_work() {
    let app = spawn_app().await;
    let path = TestApp::course_path(1);
    assert_eq!(app.get(&path).await.status(), 200);
    assert_eq!(app.get_as(&path, &admin()).await.status(), 200);
    assert_eq!(app.get_as(&path, &instructor(2)).await.status(), 200);
}

#[tokio::test]
async fn a_token_valid_for_centuries_is_revoked_for_good() {
    let app = spawn_app().await;
    let user = UserId::new_random();
    let t = token_with(&json!({"sub": user.0, "exp": 32_503_680_000_i64, "session_id": "forever"}));
    assert_eq!(app.post_empty("/api/auth/logout", &t).await.status(), 204);
    refused(app.get_as("/api/me", &t).await, 401, "unauthorized").await;
    use sha2::Digest;
    let sid = hex::encode(sha2::Sha256::digest(b"forever"));
    assert_eq!(revoked_key_ttl(&app, &sid).await, -1, "no expiry");
}
