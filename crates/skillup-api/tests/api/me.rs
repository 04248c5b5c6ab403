//! `GET /api/me`: the snapshot's shape, caching as `user:{id}` with the user TTL.

use fred::prelude::*;
use serde_json::Value;
use skillup_db::seed;

use crate::helpers::{SEEDED_COURSES, refused, spawn_app, token, x_cache};

#[tokio::test]
async fn me_is_cached_as_user_id_with_the_user_ttl() {
    let app = spawn_app().await;
    let student = seed::student_id(1);
    let t = token(student);
    let first = app.get_as("/api/me", &t).await;
    assert_eq!(first.status(), 200);
    assert_eq!(x_cache(&first), "MISS");
    let first = first.bytes().await.unwrap();
    let second = app.get_as("/api/me", &t).await;
    assert_eq!(x_cache(&second), "HIT");
    assert_eq!(second.bytes().await.unwrap(), first);

    let key = app.key(&format!("user:{student}"));
    let redis = app.redis().await;
    crate::helpers::assert_lifetime(&app, &key, 1800).await;
    let stored: skillup_cache::Bytes = redis.get(&key).await.unwrap();
    let entry = skillup_cache::envelope::Envelope::decode(&stored).unwrap();
    assert_eq!(entry.body.as_deref(), Some(&first[..]));

    let me: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(me["profile"]["role"], "student");
    assert_eq!(me["profile"]["email"], "student1@skillup.dev");
    assert!(me["profile"]["created_at"].is_string());
    let enrollments = me["enrollments"].as_array().unwrap();
    assert_eq!(
        enrollments.len(),
        seed::enrollments_of(1, SEEDED_COURSES).len()
    );
    for e in enrollments {
        for field in [
            "course_id",
            "title",
            "enrolled_at",
            "completed_lessons",
            "total_lessons",
            "percent",
        ] {
            assert!(!e[field].is_null(), "{field}");
        }
    }
}

#[tokio::test]
async fn me_needs_a_token() {
    let app = spawn_app().await;
    refused(app.get("/api/me").await, 401, "unauthorized").await;
}
