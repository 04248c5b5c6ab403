//! A change made by hand in SQL reaches the cache through the outbox.

use std::time::Duration;

use fred::prelude::*;
use skillup_cache::Bytes;
use skillup_db::seed;

use crate::helpers::{Options, course_path, stack};

#[tokio::test]
async fn a_title_changed_in_psql_is_read_fresh_through_the_api() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let before = stack.get_json(&course_path(1)).await;
    assert!(
        stack
            .cached(&stack.cache.keys().course(seed::course_id(1)))
            .await
    );
    stack.get_json("/api/courses").await;
    let id = seed::course_id(1);
    stack
        .sql(&format!(
            "UPDATE courses SET title = 'Edited by hand' WHERE id = '{id}'"
        ))
        .await;
    let fresh = skillup_testkit::eventually(Duration::from_secs(2), || async {
        stack.get_json(&course_path(1)).await["title"] == "Edited by hand"
    })
    .await;
    assert!(fresh, "was {}", before["title"]);
    let listing = stack.get_json("/api/courses?per_page=100").await;
    let item = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.to_string())
        .unwrap()
        .clone();
    assert_eq!(item["title"], "Edited by hand");
}

#[tokio::test]
async fn each_table_invalidates_the_keys_it_feeds() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let keys = stack.cache.keys().clone();
    let course = keys.course(seed::course_id(1));
    let listing = keys.courses_page(1, 20);
    let student = seed::student_id(1);
    let instructor = seed::instructor_id(1);
    let (c1, m1) = (seed::course_id(1), seed::uuid_for("course-1/module-1"));
    let l1 = seed::uuid_for("course-1/module-1/lesson-1");
    let fill = || async {
        stack.get_json(&course_path(1)).await;
        stack.get_json("/api/courses").await;
        for user in [student, instructor] {
            stack
                .cache
                .set(
                    &keys.user(user),
                    Bytes::from_static(b"{}"),
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
        }
        assert!(stack.cached(&course).await && stack.cached(&listing).await);
    };

    fill().await;
    stack
        .sql(&format!("UPDATE modules SET title = 'M' WHERE id = '{m1}'"))
        .await;
    assert!(stack.gone(&course).await, "module → course detail");
    assert!(
        stack.cached(&listing).await,
        "module changes leave the listing"
    );

    fill().await;
    stack
        .sql(&format!(
            "UPDATE lessons SET duration_seconds = 1 WHERE id = '{l1}'"
        ))
        .await;
    assert!(stack.gone(&course).await, "lesson → course detail");

    fill().await;
    stack
        .sql(&format!(
            "INSERT INTO enrollments (user_id, course_id) VALUES ('{instructor}', '{c1}')"
        ))
        .await;
    assert!(stack.gone(&course).await, "enrollment → enrollment_count");
    assert!(
        stack.gone(&keys.user(instructor)).await,
        "enrollment → user snapshot"
    );
    let enrolled = stack.get_json(&course_path(1)).await["enrollment_count"].as_u64();
    assert!(enrolled.is_some_and(|n| n > 0), "fresh count: {enrolled:?}");

    fill().await;
    stack
        .sql(&format!(
            "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ('{instructor}', '{l1}')"
        ))
        .await;
    assert!(
        stack.gone(&keys.user(instructor)).await,
        "progress → user snapshot"
    );
    assert!(
        stack.cached(&course).await,
        "progress leaves the course detail"
    );

    fill().await;
    stack
        .sql(&format!(
            "UPDATE profiles SET display_name = 'Dr. One' WHERE id = '{instructor}'"
        ))
        .await;
    assert!(
        stack.gone(&keys.user(instructor)).await,
        "profile → user snapshot"
    );
    assert!(
        stack.gone(&course).await,
        "profile → the courses it teaches"
    );
    assert!(
        stack.gone(&listing).await,
        "profile → listing (instructor names)"
    );
    assert_eq!(
        stack.get_json(&course_path(1)).await["instructor"]["display_name"],
        "Dr. One"
    );
    assert!(
        stack.cached(&keys.user(student)).await,
        "other users stay cached"
    );

    fill().await;
    stack
        .sql(&format!("DELETE FROM courses WHERE id = '{c1}'"))
        .await;
    assert!(stack.gone(&course).await, "course delete → detail");
    assert!(stack.gone(&listing).await, "course delete → listing");
    assert!(stack.gone(&keys.user(student)).await || !seed::enrollments_of(1, 12).contains(&1));
    let res = stack
        .http
        .get(format!("{}{}", stack.api, course_path(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    fill_after_truncate(&stack).await;
}

async fn fill_after_truncate(stack: &crate::helpers::Stack) {
    let keys = stack.cache.keys();
    let user = keys.user(seed::student_id(2));
    stack
        .cache
        .set(&user, Bytes::from_static(b"{}"), Duration::from_secs(60))
        .await
        .expect("redis reachable");
    stack.sql("TRUNCATE lesson_progress").await;
    assert!(stack.gone(&user).await, "TRUNCATE flushes the family");
}

#[tokio::test]
async fn course_changes_are_announced_on_the_course_channel() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let subscriber = Builder::from_config(Config::from_url(&stack.redis_url).unwrap())
        .build_subscriber_client()
        .unwrap();
    subscriber.init().await.unwrap();
    let mut messages = subscriber.message_rx();
    subscriber
        .subscribe(stack.cache.keys().course_channel())
        .await
        .unwrap();
    let id = seed::course_id(2);
    stack
        .sql(&format!(
            "UPDATE courses SET price_cents = 1 WHERE id = '{id}'"
        ))
        .await;
    let message = tokio::time::timeout(Duration::from_secs(5), messages.recv())
        .await
        .unwrap()
        .unwrap();
    let event: serde_json::Value =
        serde_json::from_str(&message.value.convert::<String>().unwrap()).unwrap();
    assert_eq!(
        event["course_id"],
        id.to_string(),
        "exactly this course, once"
    );
    assert!(chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap()).is_ok());
    stack.sql(&format!("UPDATE lesson_progress SET completed_at = now() WHERE lesson_id IN (SELECT l.id FROM lessons l JOIN modules m ON m.id = l.module_id WHERE m.course_id = '{id}')")).await;
    stack.settled().await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), messages.recv())
            .await
            .is_err(),
        "progress changes are not course changes"
    );
}

#[tokio::test]
async fn health_reports_backlog_and_metrics_count_processed_records() {
    let stack = stack(Options::default()).await;
    stack
        .sql("UPDATE courses SET price_cents = price_cents + 1")
        .await;
    assert!(
        skillup_testkit::eventually(Duration::from_secs(5), || async {
            stack.backlog().await == 0
        })
        .await
    );
    let port = stack.worker().port;
    let health: serde_json::Value = stack
        .http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["outbox"]["backlog"], 0);
    assert!(health["outbox"]["processed"].as_u64().unwrap() >= 12);
    let metrics = stack
        .http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("invalidations_processed_total"));
    assert!(metrics.contains("invalidation_lag_seconds"));
}

#[tokio::test]
async fn on_a_redis_cluster_sql_changes_reach_details_listings_and_families() {
    let stack = stack(Options {
        redis_url: skillup_testkit::redis_cluster_url(),
        ..Options::default()
    })
    .await;
    stack.settled().await;
    let keys = stack.cache.keys().clone();
    assert!(keys.is_clustered());
    let course = keys.course(seed::course_id(1));
    let listing = keys.courses_page(1, 20);
    stack.get_json(&course_path(1)).await;
    stack.get_json("/api/courses").await;
    assert!(stack.cached(&course).await && stack.cached(&listing).await);

    let id = seed::course_id(1);
    stack
        .sql(&format!(
            "UPDATE courses SET title = 'Edited on a cluster' WHERE id = '{id}'"
        ))
        .await;
    assert!(stack.gone(&course).await, "course → detail");
    assert!(stack.gone(&listing).await, "course → listing pages");
    assert_eq!(
        stack.get_json(&course_path(1)).await["title"],
        "Edited on a cluster"
    );
    // A table-wide change flushes a family with SCAN + UNLINK on every primary.
    fill_after_truncate(&stack).await;
}

/// The status and `X-Cache` of an anonymous GET.
async fn status_of(stack: &crate::helpers::Stack, path: &str) -> (u16, String) {
    let res = stack
        .http
        .get(format!("{}{path}", stack.api))
        .send()
        .await
        .expect("request");
    let cache = res.headers()["x-cache"].to_str().expect("ascii").to_owned();
    (res.status().as_u16(), cache)
}

#[tokio::test]
async fn a_cached_404_gives_way_to_a_course_created_or_published_in_sql() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let new_id = uuid::Uuid::new_v4();
    let created = format!("/api/courses/{new_id}");
    let draft = course_path(10);
    for path in [&created, &draft] {
        status_of(&stack, path).await;
        assert_eq!(
            status_of(&stack, path).await,
            (404, "HIT".to_owned()),
            "{path}"
        );
    }
    let instructor = seed::instructor_id(1);
    stack
        .sql(&format!(
            "INSERT INTO courses (id, slug, title, instructor_id, published) \
             VALUES ('{new_id}', 'made-in-psql-{new_id}', 'Made in psql', '{instructor}', true)"
        ))
        .await;
    stack
        .sql(&format!(
            "UPDATE courses SET published = true WHERE id = '{}'",
            seed::course_id(10)
        ))
        .await;
    for path in [&created, &draft] {
        let shown = skillup_testkit::eventually(Duration::from_secs(1), || async {
            status_of(&stack, path).await.0 == 200
        })
        .await;
        assert!(shown, "{path} shows within 1 s");
    }
}

#[tokio::test]
async fn a_course_inserted_or_renamed_in_sql_shows_in_cached_searches_within_1_s() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let ids = |path: &'static str| {
        let stack = &stack;
        async move {
            let page = stack.get_json(path).await;
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|c| c["id"].as_str().expect("id").to_owned())
                .collect::<Vec<_>>()
        }
    };
    for path in [
        "/api/courses?q=kombucha",
        "/api/courses?q=kefir&sort=price_asc",
    ] {
        assert!(ids(path).await.is_empty());
        assert_eq!(
            status_of(&stack, path).await,
            (200, "HIT".to_owned()),
            "{path} cached"
        );
    }
    let new_id = uuid::Uuid::new_v4();
    let instructor = seed::instructor_id(1);
    stack
        .sql(&format!(
            "INSERT INTO courses (id, slug, title, description, instructor_id, published) \
             VALUES ('{new_id}', 'psql-{new_id}', 'Kombucha', 'Tea, sugar and time.', '{instructor}', true)"
        ))
        .await;
    let shown = skillup_testkit::eventually(Duration::from_secs(1), || async {
        ids("/api/courses?q=kombucha").await == [new_id.to_string()]
    })
    .await;
    assert!(
        shown,
        "an inserted course shows in a cached search within 1 s"
    );
    stack
        .sql(&format!(
            "UPDATE courses SET description = 'Kefir grains.' WHERE id = '{new_id}'"
        ))
        .await;
    let moved = skillup_testkit::eventually(Duration::from_secs(1), || async {
        ids("/api/courses?q=kefir&sort=price_asc").await == [new_id.to_string()]
    })
    .await;
    assert!(moved, "an edited description shows within 1 s");
}
