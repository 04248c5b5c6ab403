//! Several workers at once: every record applied, none twice.

use std::collections::BTreeSet;

use skillup_cache::Cache;
use skillup_invalidator::Invalidator;
use skillup_invalidator::config::WorkerSettings;
use skillup_testkit::redis_config;

use crate::helpers::{Options, stack};

#[tokio::test]
async fn two_workers_apply_every_record_exactly_once() {
    let stack = stack(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    for round in 0..6 {
        stack
            .sql(&format!("UPDATE lessons SET title = 'r{round}'"))
            .await;
    }
    let all: Vec<i64> = sqlx::query_scalar("SELECT id FROM invalidation_outbox ORDER BY id")
        .fetch_all(&stack.db.pool)
        .await
        .unwrap();
    assert!(all.len() >= 6 * 480);

    let settings = WorkerSettings {
        batch_size: 50,
        ..WorkerSettings::default()
    };
    let mut workers = Vec::new();
    for _ in 0..2 {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&stack.db.url)
            .await
            .unwrap();
        let cache = Cache::connect(&redis_config(&stack.redis_url, &stack.prefix))
            .await
            .unwrap();
        let worker = Invalidator::new(pool, cache, settings);
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut empty_in_a_row = 0;
            while empty_in_a_row < 3 {
                let batch = worker.process_batch().await.unwrap();
                if batch.record_ids.is_empty() {
                    empty_in_a_row += 1;
                    tokio::task::yield_now().await;
                } else {
                    empty_in_a_row = 0;
                    mine.extend(batch.record_ids);
                }
            }
            mine
        }));
    }
    let mut per_worker = Vec::new();
    for w in workers {
        per_worker.push(w.await.unwrap());
    }
    let (a, b): (BTreeSet<i64>, BTreeSet<i64>) = (
        per_worker[0].iter().copied().collect(),
        per_worker[1].iter().copied().collect(),
    );
    assert_eq!(
        a.len(),
        per_worker[0].len(),
        "no worker applied a record twice"
    );
    assert_eq!(b.len(), per_worker[1].len());
    assert!(a.is_disjoint(&b), "no record applied by both");
    assert!(!a.is_empty() && !b.is_empty(), "both workers took part");
    let union: Vec<i64> = a.union(&b).copied().collect();
    assert_eq!(union, all, "every record applied");
    assert_eq!(stack.backlog().await, 0);
}
