//! Enrolling and unenrolling: status codes, `enrollment_count` exact under
//! concurrency, and read-your-writes on the course detail and `/api/me`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, instructor, new_user, refused, spawn_app, x_cache};

#[tokio::test]
async fn enrolling_is_201_and_shows_in_the_next_reads() {
    let app = spawn_app().await;
    let path = TestApp::course_path(1);
    let (user, student) = new_user();
    let before: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(x_cache(&app.get(&path).await), "HIT");
    app.get_as("/api/me", &student).await;

    let res = app.post_empty(&format!("{path}/enroll"), &student).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user_id"], user.0.to_string());
    assert_eq!(body["course_id"], before["id"]);
    assert!(body["enrolled_at"].is_string());

    let read = app.get(&path).await;
    assert_eq!(x_cache(&read), "MISS");
    let after: Value = read.json().await.unwrap();
    assert_eq!(
        after["enrollment_count"],
        before["enrollment_count"].as_i64().unwrap() + 1
    );

    let me = app.get_as("/api/me", &student).await;
    assert_eq!(x_cache(&me), "MISS");
    let me: Value = me.json().await.unwrap();
    let e = &me["enrollments"][0];
    assert_eq!(e["course_id"], before["id"]);
    assert_eq!(e["title"], before["title"]);
    assert_eq!(e["enrolled_at"], body["enrolled_at"]);
    assert_eq!(
        (e["completed_lessons"].as_i64(), e["total_lessons"].as_i64()),
        (Some(0), Some(40))
    );
    assert_eq!(e["percent"], 0.0);
}

#[tokio::test]
async fn enrolling_twice_is_409() {
    let app = spawn_app().await;
    let path = format!("{}/enroll", TestApp::course_path(2));
    let (_, student) = new_user();
    assert_eq!(app.post_empty(&path, &student).await.status(), 201);
    refused(app.post_empty(&path, &student).await, 409, "conflict").await;
}

#[tokio::test]
async fn unpublished_missing_and_malformed_courses_are_refused() {
    let app = spawn_app().await;
    let (_, student) = new_user();
    let draft = format!("{}/enroll", TestApp::course_path(10));
    refused(app.post_empty(&draft, &student).await, 404, "not_found").await;
    refused(
        app.post_empty(&draft, &instructor(10)).await,
        404,
        "not_found",
    )
    .await;
    let missing = format!("/api/courses/{}/enroll", uuid::Uuid::new_v4());
    refused(app.post_empty(&missing, &student).await, 404, "not_found").await;
    refused(
        app.post_empty("/api/courses/nope/enroll", &student).await,
        400,
        "bad_request",
    )
    .await;
    refused(
        app.call(reqwest::Method::POST, &draft, None, None).await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn unenrolling_is_204_then_404() {
    let app = spawn_app().await;
    let path = TestApp::course_path(3);
    let (_, student) = new_user();
    let enroll = format!("{path}/enroll");
    refused(app.delete(&enroll, &student).await, 404, "not_found").await;
    app.post_empty(&enroll, &student).await;
    let count = |v: Value| v["enrollment_count"].as_i64().unwrap();
    let enrolled = count(app.get(&path).await.json().await.unwrap());
    app.get_as("/api/me", &student).await;

    assert_eq!(app.delete(&enroll, &student).await.status(), 204);
    let read = app.get(&path).await;
    assert_eq!(x_cache(&read), "MISS");
    assert_eq!(count(read.json().await.unwrap()), enrolled - 1);
    let me: Value = app.get_as("/api/me", &student).await.json().await.unwrap();
    assert_eq!(me["enrollments"], json!([]));
    refused(app.delete(&enroll, &student).await, 404, "not_found").await;
    assert_eq!(
        app.post_empty(&enroll, &student).await.status(),
        201,
        "enrolling again works"
    );
}

#[tokio::test]
async fn fifty_concurrent_enrollments_keep_the_count_exact() {
    let app = spawn_app().await;
    let (course, _) = app.published_course(1).await;
    let path = format!("/api/courses/{course}");
    app.get(&path).await;
    let students: Vec<String> = (0..50).map(|_| new_user().1).collect();
    let enroll = format!("{path}/enroll");
    let results =
        futures_util::future::join_all(students.iter().map(|s| app.post_empty(&enroll, s))).await;
    assert!(
        results.iter().all(|r| r.status() == 201),
        "{:?}",
        results.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    let detail: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(detail["enrollment_count"], 50);

    let again =
        futures_util::future::join_all(students.iter().map(|s| app.post_empty(&enroll, s))).await;
    assert!(again.iter().all(|r| r.status() == 409));
    let leave =
        futures_util::future::join_all(students[..20].iter().map(|s| app.delete(&enroll, s))).await;
    assert!(leave.iter().all(|r| r.status() == 204));
    let detail: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(detail["enrollment_count"], 30);
}
