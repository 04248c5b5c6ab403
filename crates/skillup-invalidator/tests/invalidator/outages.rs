//! Worker, Redis and Postgres outages lose no invalidation.

use std::time::Duration;

use skillup_db::seed;
use skillup_testkit::{PrivateRedis, eventually, signal};

use crate::helpers::{Options, course_path, stack};

#[tokio::test]
async fn changes_made_while_the_worker_was_stopped_are_all_applied_on_start() {
    let mut stack = stack(Options {
        courses: 100,
        worker: false,
        ..Options::default()
    })
    .await;
    let published: Vec<u32> = (1..=100).filter(|n| seed::is_published(*n)).collect();
    for n in &published {
        stack.get_json(&course_path(*n)).await;
    }
    let before = stack.backlog().await;
    for n in 1..=100 {
        let id = seed::course_id(n);
        stack
            .sql(&format!(
                "UPDATE courses SET title = 'v2 #{n}' WHERE id = '{id}'"
            ))
            .await;
    }
    assert_eq!(stack.backlog().await, before + 100);
    for n in &published {
        assert!(
            stack
                .cached(&stack.cache.keys().course(seed::course_id(*n)))
                .await,
            "still stale: nobody applied it"
        );
    }

    stack.start_worker().await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            stack.backlog().await == 0
        })
        .await
    );
    for n in &published {
        assert!(
            !stack
                .cached(&stack.cache.keys().course(seed::course_id(*n)))
                .await,
            "course-{n} invalidated"
        );
        assert_eq!(
            stack.get_json(&course_path(*n)).await["title"],
            format!("v2 #{n}")
        );
    }
    stack.stop_worker().await;
}

#[tokio::test]
async fn a_frozen_redis_keeps_records_pending_until_it_answers_again() {
    let redis = PrivateRedis::start();
    let stack = stack(Options {
        redis_url: redis.url(),
        ..Options::default()
    })
    .await;
    let keys = stack.cache.keys().clone();
    for n in 1..=9 {
        stack.get_json(&course_path(n)).await;
    }
    assert!(
        eventually(Duration::from_secs(5), || async {
            stack.backlog().await == 0
        })
        .await
    );

    signal(redis.pid(), "STOP");
    for n in 1..=9 {
        let id = seed::course_id(n);
        stack
            .sql(&format!(
                "UPDATE courses SET title = 'during outage {n}' WHERE id = '{id}'"
            ))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        stack.backlog().await,
        9,
        "no record leaves the outbox while redis cannot confirm"
    );

    signal(redis.pid(), "CONT");
    assert!(
        eventually(Duration::from_secs(10), || async {
            stack.backlog().await == 0
        })
        .await
    );
    for n in 1..=9 {
        assert!(
            !stack.cached(&keys.course(seed::course_id(n))).await,
            "course-{n}"
        );
    }
    assert_eq!(
        stack.get_json(&course_path(3)).await["title"],
        "during outage 3"
    );
}

#[tokio::test]
async fn a_redis_restart_mid_burst_loses_no_record() {
    let mut redis = PrivateRedis::start();
    let stack = stack(Options {
        redis_url: redis.url(),
        ..Options::default()
    })
    .await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            stack.backlog().await == 0
        })
        .await
    );
    let processed_before = stack.worker().invalidator.processed();
    for round in 0..5 {
        stack
            .sql(&format!("UPDATE lessons SET title = 'r{round}'"))
            .await;
        if round == 1 {
            redis.stop();
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        stack.backlog().await > 0,
        "records wait while redis is down"
    );
    redis.restart();
    assert!(
        eventually(Duration::from_secs(15), || async {
            stack.backlog().await == 0
        })
        .await
    );
    let lessons = 12 * 40;
    assert!(
        stack.worker().invalidator.processed() - processed_before >= 5 * lessons,
        "every record of the burst was applied"
    );
}

#[tokio::test]
async fn the_listener_reconnects_and_drains_after_postgres_drops_it() {
    // A long poll interval: only the LISTEN path can make this invalidation quick.
    let stack = stack(Options {
        poll_ms: 60_000,
        ..Options::default()
    })
    .await;
    let course = stack.cache.keys().course(seed::course_id(1));
    stack.get_json(&course_path(1)).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            stack.backlog().await == 0
        })
        .await
    );

    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(&stack.db.name)
    .fetch_all(&skillup_testkit::admin_pool().await)
    .await
    .unwrap();
    assert_eq!(
        killed,
        [true],
        "the listener's connection was found and terminated"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let id = seed::course_id(1);
    stack
        .sql(&format!(
            "UPDATE courses SET title = 'after reconnect' WHERE id = '{id}'"
        ))
        .await;
    assert!(
        stack.gone(&course).await,
        "woken by a notification on the new connection"
    );
}

#[tokio::test]
async fn sigterm_finishes_the_batch_and_exits() {
    let mut stack = stack(Options::default()).await;
    stack.sql("UPDATE lessons SET title = 'x'").await;
    stack.stop_worker().await;
    // Whatever was claimed was committed or rolled back: no record is stuck locked.
    let locked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM invalidation_outbox WHERE id IN \
         (SELECT id FROM invalidation_outbox FOR UPDATE SKIP LOCKED)",
    )
    .fetch_one(&stack.db.pool)
    .await
    .unwrap();
    assert_eq!(locked, stack.backlog().await);
}
