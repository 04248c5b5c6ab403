//! The realtime events the worker makes of outbox records: numbered in commit
//! order without holes or repeats (replicas included), stored, then published.

use std::time::Duration;

use fred::prelude::*;
use skillup_cache::Cache;
use skillup_db::seed;
use skillup_events::{Control, Offset, ProgressEvent};
use skillup_invalidator::Invalidator;
use skillup_invalidator::config::WorkerSettings;
use skillup_testkit::redis_config;

use crate::helpers::{Options, stack};

async fn subscriber(redis_url: &str, channels: Vec<String>) -> fred::clients::SubscriberClient {
    let client = Builder::from_config(Config::from_url(redis_url).expect("url"))
        .build_subscriber_client()
        .expect("subscriber");
    client.init().await.expect("redis");
    client.subscribe(channels).await.expect("subscribe");
    client
}

#[tokio::test]
async fn a_progress_change_in_sql_is_published_with_its_counts_and_offset() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let keys = stack.cache.keys().clone();
    let client = subscriber(&stack.redis_url, vec![keys.progress_channel()]).await;
    let mut messages = client.message_rx();
    let student = seed::student_id(1);
    let n = seed::enrollments_of(1, 12)[0];
    let lesson = seed::uuid_for(&format!("course-{n}/module-5/lesson-8"));
    stack
        .sql(&format!(
            "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ('{student}', '{lesson}')"
        ))
        .await;
    let message = tokio::time::timeout(Duration::from_secs(5), messages.recv())
        .await
        .expect("published")
        .expect("message");
    let text: String = message.value.convert().expect("text");
    let event: ProgressEvent = serde_json::from_str(&text).expect("typed");
    assert_eq!(event.user_id, student.0);
    assert_eq!(event.update.lesson_id, lesson);
    assert!(event.update.completed);
    let (done, total): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM lesson_progress p JOIN lessons l ON l.id = p.lesson_id \
                  JOIN modules m ON m.id = l.module_id WHERE p.user_id = $1 AND m.course_id = $2), \
                (SELECT count(*) FROM lessons l JOIN modules m ON m.id = l.module_id WHERE m.course_id = $2)",
    )
    .bind(student.0)
    .bind(seed::course_id(n).0)
    .fetch_one(&stack.db.pool)
    .await
    .expect("counts");
    assert_eq!(
        (event.update.completed_lessons, event.update.total_lessons),
        (done, total)
    );
    let offset = event.offset.expect("an offset");
    let stored: String = sqlx::query_scalar("SELECT body FROM realtime_events WHERE seq = $1")
        .bind(i64::try_from(offset.seq).expect("seq"))
        .fetch_one(&stack.db.pool)
        .await
        .expect("stored for replay");
    assert_eq!(stored, text);
}

#[tokio::test]
async fn two_workers_number_events_without_holes_or_repeats() {
    let stack = stack(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let seeded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM invalidation_outbox WHERE entity = 'lesson_progress'",
    )
    .fetch_one(&stack.db.pool)
    .await
    .expect("count");
    for _ in 0..3 {
        stack
            .sql("UPDATE lesson_progress SET completed_at = now()")
            .await;
    }
    let settings = WorkerSettings {
        batch_size: 40,
        ..WorkerSettings::default()
    };
    let mut workers = Vec::new();
    for _ in 0..2 {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&stack.db.url)
            .await
            .expect("pool");
        let cache = Cache::connect(&redis_config(&stack.redis_url, &stack.prefix))
            .await
            .expect("cache");
        let worker = Invalidator::new(pool, cache, settings);
        workers.push(tokio::spawn(async move {
            while !worker
                .process_batch()
                .await
                .expect("batch")
                .record_ids
                .is_empty()
            {}
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    assert_eq!(stack.backlog().await, 0);
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, kind, body FROM realtime_events ORDER BY seq")
            .fetch_all(&stack.db.pool)
            .await
            .expect("events");
    let seqs: Vec<i64> = rows.iter().map(|(s, ..)| *s).collect();
    let want: Vec<i64> = (1..=i64::try_from(rows.len()).expect("len")).collect();
    assert_eq!(seqs, want, "numbered 1..=n: no hole, no repeat");
    let progress = rows
        .iter()
        .filter(|(_, kind, _)| kind == "progress")
        .count();
    assert_eq!(
        i64::try_from(progress).expect("n"),
        seeded * 4,
        "one event per progress record"
    );
    for (seq, kind, body) in &rows {
        let offset = match kind.as_str() {
            "progress" => {
                serde_json::from_str::<ProgressEvent>(body)
                    .expect("typed")
                    .offset
            }
            "course" => {
                serde_json::from_str::<skillup_events::CourseUpdated>(body)
                    .expect("typed")
                    .offset
            }
            _ => match serde_json::from_str::<Control>(body).expect("typed") {
                Control::Access(a) => Some(a.offset),
                Control::CourseRemoved { offset, .. } | Control::RightsReset { offset } => {
                    Some(offset)
                }
                other => panic!("not stored: {other:?}"),
            },
        };
        assert_eq!(
            offset.map(|o: Offset| o.seq),
            Some(u64::try_from(*seq).expect("seq")),
            "the body carries its own number"
        );
    }
}

#[tokio::test]
async fn the_heartbeat_publishes_the_head_of_the_stream() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let keys = stack.cache.keys().clone();
    let client = subscriber(&stack.redis_url, vec![keys.control_channel()]).await;
    let mut messages = client.message_rx();
    let head = skillup_db::events::head(&stack.db.pool)
        .await
        .expect("head");
    let beat = loop {
        let message = tokio::time::timeout(Duration::from_secs(3), messages.recv())
            .await
            .expect("a heartbeat within a second or two")
            .expect("message");
        let control: Control =
            serde_json::from_str(&message.value.convert::<String>().expect("text")).expect("typed");
        if let Control::Heartbeat { last } = control {
            break last;
        }
    };
    assert_eq!(beat.epoch, head.epoch);
    assert!(beat.seq >= head.last);
}
