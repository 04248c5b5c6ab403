//! Redis down: writes fail closed (the revocation check cannot run), reads keep
//! working from Postgres with `X-Cache: BYPASS`.

use serde_json::{Value, json};
use skillup_db::seed;
use skillup_testkit::dead_redis_url;

use crate::helpers::{
    Options, SEEDED_COURSES, TestApp, admin, instructor, refused, spawn_app_with, token, x_cache,
};

#[tokio::test]
async fn writes_fail_closed_with_a_clear_message() {
    let app = spawn_app_with(Options {
        redis_url: dead_redis_url(),
        ..Options::default()
    })
    .await;
    let course = TestApp::course_path(1);
    let student = token(seed::student_id(1));
    let lesson = uuid::Uuid::new_v4();
    for res in [
        app.post("/api/courses", &instructor(1), &json!({"title": "x"}))
            .await,
        app.patch(&course, &instructor(1), &json!({"title": "x"}))
            .await,
        app.delete(&course, &admin()).await,
        app.post_empty(&format!("{course}/enroll"), &token(seed::student_id(2)))
            .await,
        app.delete(&format!("{course}/enroll"), &student).await,
        app.put(
            &format!("{course}/lessons/{lesson}/progress"),
            &student,
            &json!({"completed": true}),
        )
        .await,
        app.post_empty("/api/auth/logout", &student).await,
    ] {
        let message = refused(res, 503, "service_unavailable").await;
        assert!(
            message.contains("revocation") && message.contains("Redis"),
            "{message}"
        );
    }
    let unchanged: Value = app.get(&course).await.json().await.unwrap();
    assert_ne!(unchanged["title"], "x", "nothing was written");
}

#[tokio::test]
async fn signed_in_reads_fail_open_from_postgres() {
    let app = spawn_app_with(Options {
        redis_url: dead_redis_url(),
        ..Options::default()
    })
    .await;
    let student = token(seed::student_id(1));
    let me = app.get_as("/api/me", &student).await;
    assert_eq!(me.status(), 200);
    assert_eq!(x_cache(&me), "BYPASS");
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        me["enrollments"].as_array().unwrap().len(),
        seed::enrollments_of(1, SEEDED_COURSES).len()
    );

    let course = seed::enrollments_of(1, SEEDED_COURSES)[0];
    let progress = app
        .get_as(
            &format!("{}/progress", TestApp::course_path(course)),
            &student,
        )
        .await;
    assert_eq!(progress.status(), 200);

    let read = app.get_as(&TestApp::course_path(1), &student).await;
    assert_eq!(
        (read.status().as_u16(), x_cache(&read)),
        (200, "BYPASS".to_owned())
    );
    let draft = app.get_as(&TestApp::course_path(10), &instructor(10)).await;
    assert_eq!(
        (draft.status().as_u16(), x_cache(&draft)),
        (200, "BYPASS".to_owned())
    );
    refused(app.get_as("/api/me", "garbage").await, 401, "unauthorized").await;
}
