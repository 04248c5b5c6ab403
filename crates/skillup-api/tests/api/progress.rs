//! Lesson progress: the PUT and GET answers, who may, exactly one
//! `progress:updated` event per PUT, and `/api/me` following along.

use serde_json::{Value, json};

use crate::helpers::{TestApp, instructor, new_user, refused, spawn_app, x_cache};

fn progress_path(course: &str, lesson: &str) -> String {
    format!("/api/courses/{course}/lessons/{lesson}/progress")
}

#[tokio::test]
async fn put_and_get_progress_for_an_enrolled_user() {
    let app = spawn_app().await;
    let (course, lessons) = app.published_course(3).await;
    let (_, student) = new_user();
    app.post_empty(&format!("/api/courses/{course}/enroll"), &student)
        .await;

    let res = app
        .put(
            &progress_path(&course, &lessons[1]),
            &student,
            &json!({"completed": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"course_id": course, "lesson_id": lessons[1], "completed": true,
               "completed_lessons": 1, "total_lessons": 3, "percent": 33.3})
    );
    let again: Value = app
        .put(
            &progress_path(&course, &lessons[1]),
            &student,
            &json!({"completed": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["completed_lessons"], 1,
        "completing twice counts once"
    );
    app.put(
        &progress_path(&course, &lessons[0]),
        &student,
        &json!({"completed": true}),
    )
    .await;

    let got: Value = app
        .get_as(&format!("/api/courses/{course}/progress"), &student)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"course_id": course, "completed_lesson_ids": [lessons[0], lessons[1]],
               "completed_lessons": 2, "total_lessons": 3, "percent": 66.7})
    );

    let undone: Value = app
        .put(
            &progress_path(&course, &lessons[0]),
            &student,
            &json!({"completed": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            undone["completed"].as_bool(),
            undone["completed_lessons"].as_i64()
        ),
        (Some(false), Some(1))
    );
}

#[tokio::test]
async fn course_progress_is_never_cached_and_says_bypass() {
    let app = spawn_app().await;
    let (course, lessons) = app.published_course(2).await;
    let (_, student) = new_user();
    app.post_empty(&format!("/api/courses/{course}/enroll"), &student)
        .await;
    let path = format!("/api/courses/{course}/progress");
    let first = app.get_as(&path, &student).await;
    assert_eq!(first.status(), 200);
    assert_eq!(x_cache(&first), "BYPASS");
    app.put(
        &progress_path(&course, &lessons[0]),
        &student,
        &json!({"completed": true}),
    )
    .await;
    let second = app.get_as(&path, &student).await;
    assert_eq!(x_cache(&second), "BYPASS");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["completed_lessons"], 1, "read after the write");
}

#[tokio::test]
async fn progress_shows_in_the_next_api_me() {
    let app = spawn_app().await;
    let (course, lessons) = app.published_course(2).await;
    let (_, student) = new_user();
    app.post_empty(&format!("/api/courses/{course}/enroll"), &student)
        .await;
    app.get_as("/api/me", &student).await;
    assert_eq!(x_cache(&app.get_as("/api/me", &student).await), "HIT");

    app.put(
        &progress_path(&course, &lessons[0]),
        &student,
        &json!({"completed": true}),
    )
    .await;
    let res = app.get_as("/api/me", &student).await;
    assert_eq!(x_cache(&res), "MISS");
    let me: Value = res.json().await.unwrap();
    let e = &me["enrollments"][0];
    assert_eq!(
        (e["completed_lessons"].as_i64(), e["total_lessons"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(e["percent"], 50.0);
}

/// The event of a PUT is stored with its change, in its transaction (the
/// invalidator numbers and publishes it once committed: see the invalidator's
/// `events.rs` and the realtime suites): exactly the answer plus `user_id` and
/// `at`, one per answered PUT, none for a refused one.
#[tokio::test]
async fn a_put_stores_exactly_its_answer_as_its_event() {
    let app = spawn_app().await;
    let (course, lessons) = app.published_course(4).await;
    let (user, student) = new_user();
    app.post_empty(&format!("/api/courses/{course}/enroll"), &student)
        .await;
    let events = async || -> Vec<Value> {
        sqlx::query_scalar(
            "SELECT payload FROM invalidation_outbox WHERE payload IS NOT NULL ORDER BY id",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
    };

    let before = chrono::Utc::now();
    let res = app
        .put(
            &progress_path(&course, &lessons[2]),
            &student,
            &json!({"completed": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    let stored = events().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let event = &stored[0];
    for field in [
        "course_id",
        "lesson_id",
        "completed",
        "completed_lessons",
        "total_lessons",
        "percent",
    ] {
        assert_eq!(event[field], answer[field], "{field}");
    }
    assert_eq!(event["user_id"], user.0.to_string());
    let at = chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap()).unwrap();
    assert!(at >= before - chrono::Duration::seconds(1));
    assert_eq!(event.as_object().unwrap().len(), 8, "{event}");

    // A repeat of the current state changes nothing, and is still announced.
    app.put(
        &progress_path(&course, &lessons[2]),
        &student,
        &json!({"completed": true}),
    )
    .await;
    assert_eq!(events().await.len(), 2);

    // A refused PUT stores nothing.
    let (_, outsider) = new_user();
    app.put(
        &progress_path(&course, &lessons[0]),
        &outsider,
        &json!({"completed": true}),
    )
    .await;
    assert_eq!(events().await.len(), 2);
}

#[tokio::test]
async fn progress_refusals() {
    let app = spawn_app().await;
    let (course, lessons) = app.published_course(1).await;
    let (_, student) = new_user();
    let put = progress_path(&course, &lessons[0]);
    let done = json!({"completed": true});

    refused(app.put(&put, &student, &done).await, 403, "forbidden").await;
    refused(
        app.get_as(&format!("/api/courses/{course}/progress"), &student)
            .await,
        403,
        "forbidden",
    )
    .await;
    refused(app.put(&put, &instructor(1), &done).await, 403, "forbidden").await;

    app.post_empty(&format!("/api/courses/{course}/enroll"), &student)
        .await;
    let foreign = uuid::Uuid::new_v4().to_string();
    refused(
        app.put(&progress_path(&course, &foreign), &student, &done)
            .await,
        404,
        "not_found",
    )
    .await;
    let other_course: Value = app
        .get(&TestApp::course_path(1))
        .await
        .json()
        .await
        .unwrap();
    let other_lesson = other_course["modules"][0]["lessons"][0]["id"]
        .as_str()
        .unwrap();
    refused(
        app.put(&progress_path(&course, other_lesson), &student, &done)
            .await,
        404,
        "not_found",
    )
    .await;
    let missing = uuid::Uuid::new_v4().to_string();
    refused(
        app.put(&progress_path(&missing, &lessons[0]), &student, &done)
            .await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.get_as(&format!("/api/courses/{missing}/progress"), &student)
            .await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.put(&progress_path("bad", &lessons[0]), &student, &done)
            .await,
        400,
        "bad_request",
    )
    .await;
    refused(
        app.put(&progress_path(&course, "bad"), &student, &done)
            .await,
        400,
        "bad_request",
    )
    .await;

    for body in [
        json!({}),
        json!({"completed": "yes"}),
        json!({"completed": 1}),
        json!({"completed": null}),
        json!({"completed": true, "extra": 1}),
        json!([true]),
        json!(true),
    ] {
        let message = refused(app.put(&put, &student, &body).await, 400, "bad_request").await;
        assert!(
            message.contains("completed")
                || message.contains("extra")
                || message.contains("object"),
            "{body}: {message}"
        );
    }
    refused(
        app.call(reqwest::Method::PUT, &put, None, Some(&done))
            .await,
        401,
        "unauthorized",
    )
    .await;
}
