//! The API on a Redis Cluster of three primaries (`REDIS_URL=redis-cluster://…`,
//! the testkit's shared cluster or `TEST_REDIS_CLUSTER_URL`): cached reads, a
//! write's invalidation of the detail and the listing pages, searches included
//! (whose guards live in the pages' own slots there), the near cache answering, and
//! progress events through sharded pub/sub.

use fred::prelude::*;
use serde_json::{Value, json};
use skillup_testkit::redis_cluster_url;

use crate::helpers::{Options, TestApp, instructor, new_user, spawn_app_with, x_cache};

#[tokio::test]
async fn reads_writes_listings_and_events_work_on_a_redis_cluster() {
    let app = spawn_app_with(Options {
        redis_url: redis_cluster_url(),
        ..Options::default()
    })
    .await;
    let health: Value = app.get("/health/redis").await.json().await.unwrap();
    assert_eq!(health["status"], "up", "{health}");

    // A course detail: MISS, then HIT from the cluster.
    let path = TestApp::course_path(1);
    let first = app.get(&path).await;
    assert_eq!(
        (first.status().as_u16(), x_cache(&first)),
        (200, "MISS".into())
    );
    let second = app.get(&path).await;
    assert_eq!(x_cache(&second), "HIT");
    // The near cache answers on a cluster too, once every primary proved tracking.
    assert!(
        skillup_testkit::eventually(std::time::Duration::from_secs(5), || async {
            assert_eq!(x_cache(&app.get(&path).await), "HIT");
            l1_hits(&app).await > 0.0
        })
        .await,
        "L1 never answered on the cluster"
    );

    // Two listing pages (the first holds every seeded course), cached with a
    // guard of their own in their slot.
    let listings = [
        "/api/courses?page=1&per_page=20",
        "/api/courses?page=2&per_page=5",
        // A search page: named by a digest, a listing page all the same.
        "/api/courses?q=course&sort=title&per_page=50",
    ];
    for listing in listings {
        assert_eq!(x_cache(&app.get(listing).await), "MISS");
        assert_eq!(x_cache(&app.get(listing).await), "HIT");
    }
    let redis = app.redis().await;
    let page_key = app.key("courses:published:1:20");
    let guard = format!("{}gen:{{{page_key}}}", app.prefix);
    let generation: Option<String> = redis.get(&guard).await.unwrap();
    assert_eq!(
        generation.as_deref(),
        Some("0"),
        "the page's loader made its guard"
    );

    // A write: the next reads are fresh, the pages were invalidated.
    let res = app
        .patch(
            &path,
            &instructor(1),
            &json!({"title": "Renamed on a cluster"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let read = app.get(&path).await;
    assert_eq!(
        x_cache(&read),
        "MISS",
        "the write invalidated course:{{id}}"
    );
    assert_eq!(
        read.json::<Value>().await.unwrap()["title"],
        "Renamed on a cluster"
    );
    let generation: Option<String> = redis.get(&guard).await.unwrap();
    assert_eq!(
        generation.as_deref(),
        Some("1"),
        "the page's guard was bumped"
    );
    for listing in listings {
        assert_eq!(x_cache(&app.get(listing).await), "MISS", "{listing}");
    }
    let page: Value = app.get(listings[0]).await.json().await.unwrap();
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["title"].as_str())
        .collect();
    assert!(titles.contains(&"Renamed on a cluster"), "{titles:?}");
    let searched: Value = app
        .get("/api/courses?q=renamed+cluster")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        searched["total"], 1,
        "the search sees the write: {searched}"
    );

    // A progress write works on a cluster (its event is stored with it; the
    // realtime suite's cluster test has it delivered through the cluster).
    let (course, lessons) = app.published_course(2).await;
    let (_, student) = new_user();
    let enrolled = app
        .post_empty(&format!("/api/courses/{course}/enroll"), &student)
        .await;
    assert!(enrolled.status().is_success(), "{}", enrolled.status());
    let res = app
        .put(
            &format!("/api/courses/{course}/lessons/{}/progress", lessons[0]),
            &student,
            &json!({"completed": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let stored: Value =
        sqlx::query_scalar("SELECT payload FROM invalidation_outbox WHERE payload IS NOT NULL")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored["lesson_id"], lessons[0]);
    assert_eq!(stored["completed"], true);
    let _ = redis.quit().await;
}

/// `cache_l1_hits_total` as the API's `/metrics` reports it.
async fn l1_hits(app: &TestApp) -> f64 {
    let text = app
        .get("/metrics")
        .await
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix("cache_l1_hits_total "))
        .map_or(0.0, |n| n.trim().parse().expect("a number"))
}
