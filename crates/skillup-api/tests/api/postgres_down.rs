//! A Postgres outage between one API process and the database (a proxy the
//! test cuts; the shared server is never stopped): expired course reads answer
//! STALE, invalidated ones do not, hits and 304s need no query; and one load
//! of a cold key across two real API processes.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use skillup_testkit::{
    ServiceProcess, TcpProxy, eventually, fresh_database, redis_url, service_env, unique_prefix,
};

use crate::helpers::{Options, TestApp, instructor, spawn_app_with, x_cache};

/// An app behind a Postgres proxy, whose course entries are fresh for a second.
async fn app_with_short_ttl() -> TestApp {
    spawn_app_with(Options {
        postgres_proxy: true,
        env: vec![
            ("REDIS_COURSE_TTL", "1"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "1000"),
        ],
        ..Options::default()
    })
    .await
}

fn etag(res: &reqwest::Response) -> String {
    res.headers()["etag"].to_str().expect("ascii").to_owned()
}

#[tokio::test]
async fn expired_course_reads_answer_stale_while_postgres_is_down() {
    let app = app_with_short_ttl().await;
    let detail = TestApp::course_path(1);
    let listing = "/api/courses?page=1&per_page=5";
    let mut before = Vec::new();
    for path in [detail.as_str(), listing] {
        let res = app.get(path).await;
        assert_eq!(x_cache(&res), "MISS");
        before.push((etag(&res), res.bytes().await.unwrap()));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.postgres.as_ref().unwrap().cut();

    for (path, (tag, body)) in [detail.as_str(), listing].into_iter().zip(&before) {
        let started = Instant::now();
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(x_cache(&res), "STALE", "{path}");
        assert_eq!(&etag(&res), tag);
        assert_eq!(
            &res.bytes().await.unwrap(),
            body,
            "the last value, as it was"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let never_cached = app.get(&TestApp::course_path(2)).await;
    assert_eq!(never_cached.status(), 503, "no last value: the error JSON");
    assert_eq!(
        crate::helpers::error_code(never_cached).await,
        "service_unavailable"
    );
    let health = app.get("/health").await;
    assert_eq!(
        health.status(),
        503,
        "health still says the database is down"
    );

    app.postgres.as_ref().unwrap().restore();
    assert!(
        eventually(Duration::from_secs(10), || async {
            x_cache(&app.get(&detail).await) == "MISS" || x_cache(&app.get(&detail).await) == "HIT"
        })
        .await,
        "fresh answers again once Postgres is back"
    );
}

#[tokio::test]
async fn an_invalidated_course_is_never_served_stale() {
    let app = app_with_short_ttl().await;
    let path = TestApp::course_path(1);
    assert_eq!(app.get(&path).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = app
        .patch(
            &path,
            &instructor(1),
            &json!({"title": "Changed before the outage"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.postgres.as_ref().unwrap().cut();
    assert_eq!(app.get(&path).await.status(), 503);
}

#[tokio::test]
async fn hits_and_304s_need_no_postgres() {
    let app = spawn_app_with(Options {
        postgres_proxy: true,
        ..Options::default()
    })
    .await;
    let path = TestApp::course_path(1);
    let tag = etag(&app.get(&path).await);
    app.postgres.as_ref().unwrap().cut();
    let hit = app.get(&path).await;
    assert_eq!(
        (hit.status().as_u16(), x_cache(&hit)),
        (200, "HIT".to_owned())
    );
    let not_modified = app
        .client
        .get(format!("{}{path}", app.address))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(x_cache(&not_modified), "HIT");
}

/// The value of an unlabelled sample in Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

struct Replica {
    process: ServiceProcess,
    base: String,
    _postgres: TcpProxy,
}

/// API processes sharing one database and one Redis prefix, each reaching
/// Postgres through its own proxy.
async fn replicas(n: usize) -> (skillup_testkit::TestDatabase, Vec<Replica>) {
    let db = fresh_database().await;
    skillup_db::seed::seed(&db.pool, 3, &|_| {})
        .await
        .expect("seed");
    let prefix = unique_prefix();
    let mut replicas = Vec::new();
    for _ in 0..n {
        let proxy = TcpProxy::start_for_url(&db.url).await;
        let mut env = service_env(&db, &redis_url(), &prefix);
        env.insert("DATABASE_URL".into(), proxy.through(&db.url));
        let process = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-api"), &env);
        let base = format!("http://127.0.0.1:{}", process.port);
        replicas.push(Replica {
            process,
            base,
            _postgres: proxy,
        });
    }
    (db, replicas)
}

async fn loads(http: &reqwest::Client, replicas: &[Replica]) -> f64 {
    let mut total = 0.0;
    for r in replicas {
        let text = http
            .get(format!("{}/metrics", r.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics");
        total += sample(&text, "cache_loads_total");
    }
    total
}

// Multi-threaded: spawning a process blocks its thread while the proxies run.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_misses_on_two_api_processes_is_one_postgres_load() {
    let (_db, replicas) = replicas(2).await;
    let http = reqwest::Client::new();
    let before = loads(&http, &replicas).await;
    let path = format!("/api/courses/{}", skillup_db::seed::course_id(1));
    let answers = join_all((0..40).map(|i| {
        let url = format!("{}{path}", replicas[i % 2].base);
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    }))
    .await;
    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(
        loads(&http, &replicas).await - before,
        1.0,
        "one load in total"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_loading_process_is_killed_the_other_loads() {
    let (db, mut replicas) = replicas(2).await;
    let http = reqwest::Client::new();
    let path = format!("/api/courses/{}", skillup_db::seed::course_id(1));
    // Hold every read of `courses` so the first process's load hangs with the lease.
    let mut lock = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE courses IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let holder = tokio::spawn({
        let url = format!("{}{path}", replicas[0].base);
        let http = http.clone();
        async move { http.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    replicas[0].process.kill();
    assert!(holder.await.unwrap().is_err(), "the holder died mid-load");
    let started = Instant::now();
    let waiter = tokio::spawn({
        let url = format!("{}{path}", replicas[1].base);
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.rollback().await.unwrap();
    let answer = waiter.await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(
        loads(&http, &replicas[1..]).await,
        1.0,
        "the survivor loaded it"
    );
}
