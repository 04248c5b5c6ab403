use fred::prelude::*;
use serde_json::Value;
use skillup_db::seed;

use crate::helpers::{SEEDED_COURSES, TestApp, error_code, spawn_app, x_cache};

#[tokio::test]
async fn course_detail_has_the_spec_shape_in_position_order() {
    let app = spawn_app().await;
    let res = app.get(&TestApp::course_path(1)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], seed::course_id(1).to_string());
    assert_eq!(body["slug"], "course-1");
    assert_eq!(body["published"], true);
    assert_eq!(body["instructor"]["id"], seed::instructor_id(1).to_string());
    assert_eq!(body["instructor"]["display_name"], "Instructor 1");
    let enrolled = (1..=seed::STUDENTS)
        .filter(|s| seed::enrollments_of(*s, SEEDED_COURSES).contains(&1))
        .count();
    assert_eq!(body["enrollment_count"], enrolled);
    let modules = body["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 5);
    for (i, m) in modules.iter().enumerate() {
        assert_eq!(m["position"], i + 1);
        let lessons = m["lessons"].as_array().unwrap();
        assert_eq!(lessons.len(), 8);
        for (j, l) in lessons.iter().enumerate() {
            assert_eq!(l["position"], j + 1);
            assert!(
                l["id"].is_string() && l["title"].is_string() && l["duration_seconds"].is_number()
            );
        }
    }
}

#[tokio::test]
async fn course_detail_misses_then_hits_with_identical_bytes() {
    let app = spawn_app().await;
    let first = app.get(&TestApp::course_path(2)).await;
    assert_eq!(x_cache(&first), "MISS");
    let first = first.bytes().await.unwrap();
    let second = app.get(&TestApp::course_path(2)).await;
    assert_eq!(x_cache(&second), "HIT");
    assert_eq!(second.bytes().await.unwrap(), first);
    let stored: Option<skillup_cache::Bytes> = app
        .redis()
        .await
        .get(app.key(&format!("course:{}", seed::course_id(2))))
        .await
        .unwrap();
    let entry = skillup_cache::envelope::Envelope::decode(&stored.unwrap()).unwrap();
    assert_eq!(
        entry.body.as_deref(),
        Some(&first[..]),
        "course:{{id}} holds the JSON (after its freshness and tag)"
    );
}

#[tokio::test]
async fn course_detail_gets_the_course_ttl() {
    let app = spawn_app().await;
    app.get(&TestApp::course_path(3)).await;
    let key = app.key(&format!("course:{}", seed::course_id(3)));
    crate::helpers::assert_lifetime(&app, &key, 3600).await;
}

#[tokio::test]
async fn unpublished_and_unknown_courses_are_404() {
    let app = spawn_app().await;
    let draft = app.get(&TestApp::course_path(10)).await;
    assert_eq!(draft.status(), 404);
    assert_eq!(error_code(draft).await, "not_found");
    let unknown = app
        .get(&format!("/api/courses/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(error_code(unknown).await, "not_found");
}

#[tokio::test]
async fn listing_pages_published_courses_newest_first() {
    let app = spawn_app().await;
    let res = app.get("/api/courses?page=1&per_page=5").await;
    assert_eq!(res.status(), 200);
    assert_eq!(x_cache(&res), "MISS");
    let body: Value = res.json().await.unwrap();
    let published = (1..=SEEDED_COURSES)
        .filter(|n| seed::is_published(*n))
        .count();
    assert_eq!(body["total"], published);
    assert_eq!(body["page"], 1);
    assert_eq!(body["per_page"], 5);
    let slugs: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["course-12", "course-11", "course-9", "course-8", "course-7"]
    );
    let first = &body["items"][0];
    for field in [
        "id",
        "title",
        "description",
        "price_cents",
        "created_at",
        "updated_at",
    ] {
        assert!(!first[field].is_null(), "summary has {field}");
    }
    assert_eq!(first["instructor"]["display_name"], "Instructor 12");

    let again = app.get("/api/courses?page=1&per_page=5").await;
    assert_eq!(x_cache(&again), "HIT");
    let page3: Value = app
        .get("/api/courses?page=3&per_page=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page3["items"].as_array().unwrap().len(), published - 10);
    let past_end: Value = app
        .get("/api/courses?page=50&per_page=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(past_end["items"], serde_json::json!([]));
    assert_eq!(past_end["total"], published);
}

#[tokio::test]
async fn listing_defaults_to_page_1_of_20_and_caches_per_page() {
    let app = spawn_app().await;
    let body: Value = app.get("/api/courses").await.json().await.unwrap();
    assert_eq!(
        (body["page"].as_u64(), body["per_page"].as_u64()),
        (Some(1), Some(20))
    );
    app.get("/api/courses?page=2&per_page=3").await;
    let redis = app.redis().await;
    let exists: u32 = redis
        .exists(vec![
            app.key("courses:published:1:20"),
            app.key("courses:published:2:3"),
        ])
        .await
        .unwrap();
    assert_eq!(exists, 2);
}

#[tokio::test]
async fn openapi_document_describes_the_routes() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/health",
        "/health/redis",
        "/metrics",
        "/api/courses",
        "/api/courses/{id}",
        "/api/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn metrics_expose_request_latency_and_cache_counters() {
    let app = spawn_app().await;
    app.get(&TestApp::course_path(1)).await;
    app.get(&TestApp::course_path(1)).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/courses/{id}\""
        ),
        "{text}"
    );
    assert!(text.contains("cache_hits_total"));
    assert!(text.contains("cache_misses_total"));
    assert!(text.contains("cache_hit_ratio"), "{text}");
}

/// The value of an unlabelled sample in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Database query metrics come from sqlx's own statement events, which only
/// the binary's telemetry turns into metrics: checked against the binary, at
/// the default `RUST_LOG=info` (the events are DEBUG; the metrics must not
/// depend on the log level).
#[tokio::test]
async fn the_binary_counts_database_queries_and_reports_its_hit_ratio() {
    let db = skillup_testkit::fresh_database().await;
    skillup_db::seed::seed(&db.pool, 3, &|_| {})
        .await
        .expect("seed");
    let env = skillup_testkit::service_env(
        &db,
        &skillup_testkit::redis_url(),
        &skillup_testkit::unique_prefix(),
    );
    let api = skillup_testkit::ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-api"), &env);
    let base = format!("http://127.0.0.1:{}", api.port);
    let http = reqwest::Client::new();
    let metrics = async || -> String {
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = sample(&metrics().await, "db_queries_total").unwrap_or(0.0);
    let course = skillup_db::seed::course_id(1);
    for expected in ["MISS", "HIT", "HIT", "HIT"] {
        let res = http
            .get(format!("{base}/api/courses/{course}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-cache"], expected);
    }
    let text = metrics().await;
    let queries = sample(&text, "db_queries_total").expect("db_queries_total");
    assert!(
        queries > before,
        "the miss ran queries: {before} → {queries}\n{text}"
    );
    assert!(
        sample(&text, "db_query_duration_seconds_count").is_some_and(|n| n >= queries - before),
        "{text}"
    );
    assert_eq!(sample(&text, "cache_hit_ratio"), Some(0.75), "{text}");
    let printed: Vec<String> = api
        .log()
        .into_iter()
        .filter(|l| l.contains("sqlx::query"))
        .collect();
    assert!(
        printed.is_empty(),
        "counting statements does not print them at RUST_LOG=info: {printed:#?}"
    );
}

/// A draft shown to someone who may see it costs one read of its detail, not
/// a second one after the loader's; its 404 to anonymous callers costs that
/// read once, then nothing (a cached 404). Counted with the binary's
/// `db_queries_total`. A request that meets a new pool connection pays a few
/// queries more (its type lookups), so the draft's count is the least of a few
/// tries.
#[tokio::test]
async fn a_draft_is_read_once_for_a_caller_who_may_see_it() {
    let db = skillup_testkit::fresh_database().await;
    seed::seed(&db.pool, 10, &|_| {}).await.expect("seed");
    assert!(!seed::is_published(10), "course 10 is a draft");
    let env = skillup_testkit::service_env(
        &db,
        &skillup_testkit::redis_url(),
        &skillup_testkit::unique_prefix(),
    );
    let api = skillup_testkit::ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-api"), &env);
    let base = format!("http://127.0.0.1:{}", api.port);
    let draft = format!("{base}/api/courses/{}", seed::course_id(10));
    let http = reqwest::Client::new();
    let queries = async || -> f64 {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        sample(&text, "db_queries_total").unwrap_or(0.0)
    };
    // The least number of queries one GET of the draft costs, and its status.
    let cost = async |token: Option<String>| -> (f64, u16) {
        let mut least = f64::MAX;
        let mut status = 0;
        for _ in 0..4 {
            let before = queries().await;
            let mut req = http.get(&draft);
            if let Some(token) = &token {
                req = req.bearer_auth(token);
            }
            status = req.send().await.unwrap().status().as_u16();
            least = least.min(queries().await - before);
        }
        (least, status)
    };

    let before = queries().await;
    assert_eq!(http.get(&draft).send().await.unwrap().status(), 404);
    let anonymous = queries().await - before;
    let (repeats, status) = cost(None).await;
    assert_eq!((repeats, status), (0.0, 404), "a cached 404 costs no query");
    let (shown, status) = cost(Some(crate::helpers::admin())).await;
    assert_eq!(status, 200);

    assert!(anonymous > 0.0, "the detail read runs queries");
    assert!(
        shown < 2.0 * anonymous,
        "the detail is read once ({anonymous} queries), plus the profile: {shown} in all"
    );
}
