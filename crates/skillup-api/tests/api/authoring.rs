//! Authoring courses, modules and lessons: who may, validation, conflicts, and
//! read-your-writes through the cached reads.

use serde_json::{Value, json};
use skillup_db::seed;

use crate::helpers::{TestApp, admin, instructor, new_user, refused, spawn_app, x_cache};

#[tokio::test]
async fn instructors_create_unpublished_courses_with_derived_or_given_slugs() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/courses",
            &instructor(3),
            &json!({"title": "  Rust for Beginners!  ", "description": "Learn\nRust", "price_cents": 1999}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let course: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/courses/{}", course["id"].as_str().unwrap())
    );
    assert_eq!(course["slug"], "rust-for-beginners");
    assert_eq!(course["title"], "Rust for Beginners!");
    assert_eq!(course["published"], false);
    assert_eq!(course["price_cents"], 1999);
    assert_eq!(course["enrollment_count"], 0);
    assert_eq!(course["modules"], json!([]));
    assert_eq!(
        course["instructor"]["id"],
        seed::instructor_id(3).to_string()
    );

    let again = app
        .create_course(&instructor(4), &json!({"title": "Rust for beginners"}))
        .await;
    let slug = again["slug"].as_str().unwrap();
    assert!(
        slug.starts_with("rust-for-beginners-") && slug.len() == 27,
        "{slug}"
    );

    let given = app
        .create_course(&admin(), &json!({"title": "日本語", "slug": "nihongo-101"}))
        .await;
    assert_eq!(given["slug"], "nihongo-101");
    let derived = app
        .create_course(&admin(), &json!({"title": "日本語"}))
        .await;
    assert!(derived["slug"].as_str().unwrap().starts_with("course-"));
}

#[tokio::test]
async fn a_taken_slug_is_409() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/courses",
            &instructor(1),
            &json!({"title": "Dup", "slug": "course-1"}),
        )
        .await;
    let message = refused(res, 409, "conflict").await;
    assert!(message.contains("course-1"), "{message}");
}

#[tokio::test]
async fn students_may_not_author() {
    let app = spawn_app().await;
    let (_, student) = new_user();
    refused(
        app.post("/api/courses", &student, &json!({"title": "Mine"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let course = TestApp::course_path(1);
    refused(
        app.patch(&course, &student, &json!({"title": "x"})).await,
        403,
        "forbidden",
    )
    .await;
    refused(app.delete(&course, &student).await, 403, "forbidden").await;
    refused(
        app.post(
            &format!("{course}/modules"),
            &student,
            &json!({"title": "x"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn course_validation_failures_are_400_naming_the_field() {
    let app = spawn_app().await;
    let owner = instructor(1);
    for (body, field) in [
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "a\u{0}b"}), "title"),
        (json!({"title": 5}), "title"),
        (json!({"title": null}), "title"),
        (json!({"title": "ok", "price_cents": -1}), "price_cents"),
        (json!({"title": "ok", "price_cents": 1.5}), "price_cents"),
        (json!({"title": "ok", "price_cents": "10"}), "price_cents"),
        (
            json!({"title": "ok", "price_cents": 100_000_001}),
            "price_cents",
        ),
        (json!({"title": "ok", "price_cents": 1e20}), "price_cents"),
        (
            json!({"title": "ok", "description": "d".repeat(20_001)}),
            "description",
        ),
        (json!({"title": "ok", "slug": "Not A Slug"}), "slug"),
        (json!({"title": "ok", "slug": "ab"}), "slug"),
        (json!({"title": "ok", "published": true}), "published"),
        (
            json!({"title": "ok", "instructor_id": seed::admin_id()}),
            "instructor_id",
        ),
    ] {
        let message = refused(
            app.post("/api/courses", &owner, &body).await,
            400,
            "bad_request",
        )
        .await;
        assert!(message.contains(field), "{body}: {message}");
    }
}

#[tokio::test]
async fn patch_validation_failures_are_400() {
    let app = spawn_app().await;
    let course = TestApp::course_path(1);
    let owner = instructor(1);
    for body in [
        json!({}),
        json!({"title": null}),
        json!({"published": "yes"}),
        json!({"slug": "new-slug"}),
        json!({"price_cents": -5}),
        json!([{"title": "x"}]),
    ] {
        refused(app.patch(&course, &owner, &body).await, 400, "bad_request").await;
    }
}

#[tokio::test]
async fn owners_and_admins_patch_and_the_next_read_is_fresh() {
    let app = spawn_app().await;
    let path = TestApp::course_path(1);
    let listing = "/api/courses?page=1&per_page=20";
    app.get(&path).await;
    app.get(listing).await;
    assert_eq!(x_cache(&app.get(&path).await), "HIT");

    let res = app
        .patch(
            &path,
            &instructor(1),
            &json!({"title": "Renamed", "price_cents": 0}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["title"], "Renamed");

    let read = app.get(&path).await;
    assert_eq!(
        x_cache(&read),
        "MISS",
        "the write invalidated course:{{id}}"
    );
    assert_eq!(read.json::<Value>().await.unwrap()["title"], "Renamed");
    let page = app.get(listing).await;
    assert_eq!(x_cache(&page), "MISS", "and the listing pages");
    let page: Value = page.json().await.unwrap();
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["title"] == "Renamed")
    );

    let res = app
        .patch(&path, &admin(), &json!({"description": "by an admin"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get(&path).await.json::<Value>().await.unwrap()["description"],
        "by an admin"
    );
}

#[tokio::test]
async fn another_instructor_gets_403_on_published_and_404_on_drafts() {
    let app = spawn_app().await;
    let published = TestApp::course_path(1);
    let draft = TestApp::course_path(10);
    refused(
        app.patch(&published, &instructor(2), &json!({"title": "x"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    refused(
        app.delete(&published, &instructor(2)).await,
        403,
        "forbidden",
    )
    .await;
    refused(
        app.patch(&draft, &instructor(2), &json!({"title": "x"}))
            .await,
        404,
        "not_found",
    )
    .await;
    refused(app.delete(&draft, &instructor(2)).await, 404, "not_found").await;
    let unknown = format!("/api/courses/{}", uuid::Uuid::new_v4());
    refused(
        app.patch(&unknown, &admin(), &json!({"title": "x"})).await,
        404,
        "not_found",
    )
    .await;
    refused(app.delete(&unknown, &admin()).await, 404, "not_found").await;
    refused(
        app.delete("/api/courses/nope", &admin()).await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn drafts_are_visible_to_their_owner_and_admins_only() {
    let app = spawn_app().await;
    let draft = TestApp::course_path(10);
    let (_, student) = new_user();
    for t in [instructor(10), admin()] {
        let res = app.get_as(&draft, &t).await;
        assert_eq!(res.status(), 200);
        assert_eq!(x_cache(&res), "MISS");
        assert_eq!(res.json::<Value>().await.unwrap()["published"], false);
    }
    refused(app.get(&draft).await, 404, "not_found").await;
    refused(app.get_as(&draft, &instructor(2)).await, 404, "not_found").await;
    refused(app.get_as(&draft, &student).await, 404, "not_found").await;
    let stored: Option<skillup_cache::Bytes> = fred::interfaces::KeysInterface::get(
        &app.redis().await,
        app.key(&format!("course:{}", seed::course_id(10))),
    )
    .await
    .unwrap();
    let entry = stored
        .as_ref()
        .and_then(skillup_cache::envelope::Envelope::decode);
    assert_eq!(
        entry.map(|e| e.body),
        Some(None),
        "a draft is cached only as an absence (the 404), never its content"
    );
}

#[tokio::test]
async fn publishing_and_deleting_show_in_the_next_reads() {
    let app = spawn_app().await;
    let owner = instructor(5);
    let course = app.create_course(&owner, &json!({"title": "Soon"})).await;
    let path = format!("/api/courses/{}", course["id"].as_str().unwrap());
    refused(app.get(&path).await, 404, "not_found").await;
    let before: Value = app.get("/api/courses").await.json().await.unwrap();

    assert_eq!(
        app.patch(&path, &owner, &json!({"published": true}))
            .await
            .status(),
        200
    );
    assert_eq!(app.get(&path).await.status(), 200);
    let after: Value = app.get("/api/courses").await.json().await.unwrap();
    assert_eq!(after["total"], before["total"].as_i64().unwrap() + 1);
    assert_eq!(after["items"][0]["title"], "Soon");

    assert_eq!(app.delete(&path, &owner).await.status(), 204);
    refused(app.get(&path).await, 404, "not_found").await;
    refused(app.get_as(&path, &owner).await, 404, "not_found").await;
    let gone: Value = app.get("/api/courses").await.json().await.unwrap();
    assert_eq!(gone["total"], before["total"]);
}

#[tokio::test]
async fn deleting_a_course_removes_it_from_enrolled_users_snapshots() {
    let app = spawn_app().await;
    let (course, _) = app.published_course(1).await;
    let (_, student) = new_user();
    let path = format!("/api/courses/{course}");
    assert_eq!(
        app.post_empty(&format!("{path}/enroll"), &student)
            .await
            .status(),
        201
    );
    let me: Value = app.get_as("/api/me", &student).await.json().await.unwrap();
    assert_eq!(me["enrollments"].as_array().unwrap().len(), 1);
    assert_eq!(app.delete(&path, &instructor(1)).await.status(), 204);
    let res = app.get_as("/api/me", &student).await;
    assert_eq!(x_cache(&res), "MISS");
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["enrollments"], json!([]));
}

#[tokio::test]
async fn modules_and_lessons_are_authored_and_read_back_in_order() {
    let app = spawn_app().await;
    let owner = instructor(6);
    let course = app
        .create_course(&owner, &json!({"title": "Structured"}))
        .await;
    let id = course["id"].as_str().unwrap();
    let path = format!("/api/courses/{id}");

    let m1: Value = app
        .post(
            &format!("{path}/modules"),
            &owner,
            &json!({"title": "First"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post(
            &format!("{path}/modules"),
            &owner,
            &json!({"title": "Zeroth", "position": 0}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let m0: Value = res.json().await.unwrap();
    assert_eq!(m1["position"], 1, "without a position a module goes last");
    assert_eq!(m1["course_id"], id);
    let m1_id = m1["id"].as_str().unwrap();

    let res = app
        .post(
            &format!("/api/modules/{m1_id}/lessons"),
            &owner,
            &json!({"title": "L1", "duration_seconds": 300}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let l1: Value = res.json().await.unwrap();
    assert_eq!(l1["position"], 1);
    assert_eq!(l1["duration_seconds"], 300);
    assert_eq!(l1["module_id"], m1_id);
    let l2: Value = app
        .post(
            &format!("/api/modules/{m1_id}/lessons"),
            &owner,
            &json!({"title": "L2"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l2["position"], 2);
    assert_eq!(l2["duration_seconds"], 0);

    let detail: Value = app.get_as(&path, &owner).await.json().await.unwrap();
    let titles: Vec<&str> = detail["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Zeroth", "First"]);
    assert_eq!(detail["modules"][1]["lessons"].as_array().unwrap().len(), 2);

    // Publish, cache the detail, then change the structure: every change shows at once.
    app.patch(&path, &owner, &json!({"published": true})).await;
    app.get(&path).await;
    assert_eq!(x_cache(&app.get(&path).await), "HIT");

    let l1_path = format!("/api/lessons/{}", l1["id"].as_str().unwrap());
    let res = app
        .patch(
            &l1_path,
            &owner,
            &json!({"position": 9, "title": "L1 moved", "duration_seconds": 42}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["position"], 9);
    let read = app.get(&path).await;
    assert_eq!(x_cache(&read), "MISS");
    let detail: Value = read.json().await.unwrap();
    let lessons = &detail["modules"][1]["lessons"];
    assert_eq!(lessons[0]["title"], "L2");
    assert_eq!(lessons[1]["title"], "L1 moved");
    assert_eq!(lessons[1]["duration_seconds"], 42);

    let m0_path = format!("/api/modules/{}", m0["id"].as_str().unwrap());
    let res = app
        .patch(&m0_path, &owner, &json!({"position": 5, "title": "Last"}))
        .await;
    assert_eq!(res.status(), 200);
    let detail: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(detail["modules"][1]["title"], "Last");

    assert_eq!(app.delete(&l1_path, &owner).await.status(), 204);
    let detail: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(detail["modules"][0]["lessons"].as_array().unwrap().len(), 1);
    refused(app.delete(&l1_path, &owner).await, 404, "not_found").await;

    assert_eq!(
        app.delete(&format!("/api/modules/{m1_id}"), &owner)
            .await
            .status(),
        204
    );
    let detail: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(detail["modules"].as_array().unwrap().len(), 1);
    refused(
        app.patch(
            &format!("/api/lessons/{}", l2["id"].as_str().unwrap()),
            &owner,
            &json!({"title": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn structure_refusals() {
    let app = spawn_app().await;
    let (course, lessons) = app.published_course(1).await;
    let detail: Value = app
        .get(&format!("/api/courses/{course}"))
        .await
        .json()
        .await
        .unwrap();
    let module = detail["modules"][0]["id"].as_str().unwrap().to_owned();
    let lesson = format!("/api/lessons/{}", lessons[0]);
    let module_path = format!("/api/modules/{module}");
    let other = instructor(2);
    let (_, student) = new_user();

    for t in [&other, &student] {
        refused(
            app.post(
                &format!("/api/courses/{course}/modules"),
                t,
                &json!({"title": "x"}),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
        refused(
            app.patch(&module_path, t, &json!({"title": "x"})).await,
            403,
            "forbidden",
        )
        .await;
        refused(app.delete(&module_path, t).await, 403, "forbidden").await;
        refused(
            app.post(&format!("{module_path}/lessons"), t, &json!({"title": "x"}))
                .await,
            403,
            "forbidden",
        )
        .await;
        refused(
            app.patch(&lesson, t, &json!({"title": "x"})).await,
            403,
            "forbidden",
        )
        .await;
        refused(app.delete(&lesson, t).await, 403, "forbidden").await;
    }
    let owner = instructor(1);
    let missing = uuid::Uuid::new_v4();
    refused(
        app.post(
            &format!("/api/courses/{missing}/modules"),
            &owner,
            &json!({"title": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.patch(
            &format!("/api/modules/{missing}"),
            &owner,
            &json!({"title": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.delete(&format!("/api/modules/{missing}"), &owner).await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.post(
            &format!("/api/modules/{missing}/lessons"),
            &owner,
            &json!({"title": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.patch(
            &format!("/api/lessons/{missing}"),
            &owner,
            &json!({"title": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.delete(&format!("/api/lessons/{missing}"), &owner).await,
        404,
        "not_found",
    )
    .await;
    refused(
        app.delete("/api/lessons/xyz", &owner).await,
        400,
        "bad_request",
    )
    .await;
    refused(
        app.delete("/api/modules/xyz", &owner).await,
        400,
        "bad_request",
    )
    .await;

    for (path, body, field) in [
        (
            format!("{module_path}/lessons"),
            json!({"title": "x", "duration_seconds": -1}),
            "duration_seconds",
        ),
        (
            format!("{module_path}/lessons"),
            json!({"title": "x", "duration_seconds": 604_801}),
            "duration_seconds",
        ),
        (
            format!("{module_path}/lessons"),
            json!({"title": "x", "position": -1}),
            "position",
        ),
        (
            format!("{module_path}/lessons"),
            json!({"duration_seconds": 5}),
            "title",
        ),
        (
            format!("/api/courses/{course}/modules"),
            json!({"title": ""}),
            "title",
        ),
        (
            format!("/api/courses/{course}/modules"),
            json!({"title": "x", "position": "1"}),
            "position",
        ),
    ] {
        let message = refused(app.post(&path, &owner, &body).await, 400, "bad_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    for body in [
        json!({}),
        json!({"duration_seconds": null}),
        json!({"module_id": module}),
    ] {
        refused(app.patch(&lesson, &owner, &body).await, 400, "bad_request").await;
    }
    refused(
        app.patch(&module_path, &owner, &json!({})).await,
        400,
        "bad_request",
    )
    .await;
    // An admin may change anyone's structure.
    assert_eq!(
        app.patch(&lesson, &admin(), &json!({"title": "by admin"}))
            .await
            .status(),
        200
    );
}
