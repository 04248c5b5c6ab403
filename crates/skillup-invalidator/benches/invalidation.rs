//! Invalidation benchmark (not a test): prints figures, asserts nothing.
//!
//! 1. Commit-to-fresh-read latency: the API and the invalidator run in-process on a
//!    fresh database; for each of 1,000 updates the course is cached first, then its
//!    title is updated in SQL, and the API is polled until it answers the new title.
//! 2. Drain throughput: with the worker stopped, 100,000 outbox records are made
//!    (lesson updates over 250 courses), then one worker drains them.
//!
//! Run with `scripts/bench-invalidator.sh` (or `cargo bench -p skillup-invalidator`);
//! needs Postgres and Redis as the tests do. `BENCH_UPDATES` / `BENCH_BACKLOG` scale it.
#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use skillup_cache::Cache;
use skillup_db::seed;
use skillup_invalidator::config::WorkerSettings;
use skillup_invalidator::{Application, Invalidator, InvalidatorConfig};
use skillup_testkit::{fresh_database, redis_config, redis_url, service_env, unique_prefix};

fn env_number(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index"
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let updates = env_number("BENCH_UPDATES", 1000);
    let backlog = env_number("BENCH_BACKLOG", 100_000);
    println!(
        "invalidation benchmark — {} — {} updates, {} backlog records",
        chrono::Utc::now().format("%Y-%m-%d"),
        updates,
        backlog
    );
    latency(updates).await;
    throughput(backlog).await;
}

async fn latency(updates: usize) {
    let db = fresh_database().await;
    seed::seed(&db.pool, 20, &|_| {}).await.expect("seed");
    let prefix = unique_prefix();
    let env = service_env(&db, &redis_url(), &prefix);
    let api =
        skillup_api::Application::build(skillup_api::ApiConfig::from_env(&env).expect("config"))
            .await
            .expect("api");
    let base = format!("http://127.0.0.1:{}", api.port());
    tokio::spawn(api.run_until_stopped(std::future::pending()));
    let worker = Application::build(InvalidatorConfig::from_env(&env).expect("config"))
        .await
        .expect("invalidator");
    tokio::spawn(worker.run_until_stopped(std::future::pending()));
    let http = reqwest::Client::new();
    let path = format!("{base}/api/courses/{}", seed::course_id(1));
    let title = |body: &serde_json::Value| body["title"].as_str().unwrap_or_default().to_owned();
    let get = || async {
        http.get(&path)
            .send()
            .await
            .expect("get")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    };
    // Let the worker apply the seed's records first.
    while skillup_db::outbox::backlog(&db.pool)
        .await
        .expect("backlog")
        .pending
        > 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut samples = Vec::with_capacity(updates);
    let mut polls = 0u64;
    for i in 0..updates {
        get().await; // cached now
        let expected = format!("bench title {i}");
        sqlx::query("UPDATE courses SET title = $1 WHERE id = $2")
            .bind(&expected)
            .bind(seed::course_id(1).0)
            .execute(&db.pool)
            .await
            .expect("update");
        let committed = Instant::now();
        loop {
            polls += 1;
            if title(&get().await) == expected {
                break;
            }
        }
        samples.push(committed.elapsed());
    }
    samples.sort_unstable();
    println!();
    println!(
        "commit-to-fresh-read latency over {updates} updates (API polled until the new title shows):"
    );
    println!(
        "  p50 {}  p90 {}  p99 {}  max {}  ({} polls)",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.9)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().expect("samples")),
        polls
    );
    db.drop_now().await;
}

async fn throughput(records: usize) {
    let db = fresh_database().await;
    seed::seed(&db.pool, 250, &|_| {}).await.expect("seed");
    let cache = Cache::connect(&redis_config(&redis_url(), &unique_prefix()))
        .await
        .expect("cache");
    let worker = Invalidator::new(db.pool.clone(), cache, WorkerSettings::default());
    worker.drain().await.expect("drain seed records");
    let lessons: i64 = sqlx::query_scalar("SELECT count(*) FROM lessons")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let lessons = usize::try_from(lessons).expect("count fits");
    let mut made = 0;
    let mut round = 0;
    while made < records {
        let take = (records - made).min(lessons);
        sqlx::query("UPDATE lessons SET title = title || '.' WHERE id IN (SELECT id FROM lessons ORDER BY id LIMIT $1)")
            .bind(i64::try_from(take).expect("fits"))
            .execute(&db.pool)
            .await
            .expect("update");
        made += take;
        round += 1;
    }
    let start = Instant::now();
    let applied = worker.drain().await.expect("drain");
    let took = start.elapsed();
    println!();
    println!(
        "drain throughput: {applied} records ({round} bulk updates) applied by one worker in {:.2} s",
        took.as_secs_f64()
    );
    #[expect(clippy::cast_precision_loss, reason = "a rate")]
    let rate = applied as f64 / took.as_secs_f64();
    println!(
        "  {rate:.0} records/s (batch size {})",
        WorkerSettings::default().batch_size
    );
    db.drop_now().await;
}
