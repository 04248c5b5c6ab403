//! SIGTERM while the binary drains a backlog: the batch in hand finishes, the
//! process exits 0 within `SHUTDOWN_GRACE_SECS`, and the outbox says exactly
//! what happened — a record has left the outbox if and only if its key was deleted.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use skillup_cache::{Bytes, Cache};
use skillup_common::CourseId;
use skillup_db::seed;
use skillup_testkit::{
    ServiceProcess, eventually, fresh_database, redis_config, redis_url, service_env, unique_prefix,
};

const COURSES: i64 = 3000;
const GRACE_SECS: u64 = 5;

#[tokio::test]
async fn sigterm_mid_drain_finishes_the_batch_and_leaves_the_backlog_consistent() {
    let db = fresh_database().await;
    seed::seed(&db.pool, 1, &|_| {}).await.expect("seed");
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO courses (slug, title, instructor_id, published) \
         SELECT 'shutdown-' || g, 'Course ' || g, (SELECT instructor_id FROM courses LIMIT 1), true \
         FROM generate_series(1, $1) g RETURNING id",
    )
    .bind(COURSES)
    .fetch_all(&db.pool)
    .await
    .expect("insert courses");
    sqlx::query("DELETE FROM invalidation_outbox")
        .execute(&db.pool)
        .await
        .expect("start from an empty backlog");

    // Every course is cached; then one change per course: one record each.
    let prefix = unique_prefix();
    let cache = Cache::connect(&redis_config(&redis_url(), &prefix))
        .await
        .expect("redis");
    for id in &ids {
        cache
            .set(
                &cache.keys().course(CourseId(*id)),
                Bytes::from_static(b"cached"),
                Duration::from_secs(600),
            )
            .await
            .expect("SET");
    }
    sqlx::query("UPDATE courses SET title = title || '!' WHERE slug LIKE 'shutdown-%'")
        .execute(&db.pool)
        .await
        .expect("change every course");

    let mut env = service_env(&db, &redis_url(), &prefix);
    env.insert("SHUTDOWN_GRACE_SECS".into(), GRACE_SECS.to_string());
    // One record per transaction: thousands of batches, so SIGTERM lands in one.
    env.insert("INVALIDATOR_BATCH_SIZE".into(), "1".into());
    env.insert("REDIS_COMMAND_TIMEOUT_MS".into(), "2000".into());
    let mut worker = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-invalidator"), &env);
    let busy = eventually(Duration::from_secs(30), || async {
        processed(&db.pool, &ids).await.len() >= 50
    })
    .await;
    assert!(busy, "the worker drains: {:#?}", worker.log());

    worker.sigterm();
    let stopped_at = Instant::now();
    let status = worker
        .wait_exit(Duration::from_secs(GRACE_SECS + 3))
        .await
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", stopped_at.elapsed()));
    assert!(
        status.success(),
        "exit status {status}: {:#?}",
        worker.log()
    );

    let done = processed(&db.pool, &ids).await;
    assert!(
        done.len() < ids.len(),
        "SIGTERM arrived mid-drain (else this test proves nothing): {} of {} done",
        done.len(),
        ids.len()
    );
    let mut inconsistent = Vec::new();
    for id in &ids {
        let cached = cache
            .get(&cache.keys().course(CourseId(*id)))
            .await
            .expect("GET")
            .is_some();
        if cached == done.contains(id) {
            inconsistent.push((
                *id,
                if cached {
                    "done, key kept"
                } else {
                    "pending, key gone"
                },
            ));
        }
    }
    assert!(
        inconsistent.is_empty(),
        "a record is done exactly when its key is gone: {} mismatches, e.g. {:?}",
        inconsistent.len(),
        &inconsistent[..inconsistent.len().min(5)]
    );

    // What is left is applied by the next worker (in normal-sized batches).
    env.insert("INVALIDATOR_BATCH_SIZE".into(), "500".into());
    let mut next = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-invalidator"), &env);
    let drained = eventually(Duration::from_secs(120), || async {
        processed(&db.pool, &ids).await.len() == ids.len()
    })
    .await;
    assert!(
        drained,
        "the restarted worker drains the rest: {:#?}",
        next.log()
    );
    next.sigterm();
    assert!(
        next.wait_exit(Duration::from_secs(GRACE_SECS + 3))
            .await
            .is_some_and(|s| s.success())
    );
    let _ = cache
        .delete_pattern(&cache.keys().scoped_pattern("*"))
        .await;
}

/// The course ids among `ids` whose change records (the UPDATEs) were applied:
/// those no longer in the outbox.
async fn processed(pool: &sqlx::PgPool, ids: &[uuid::Uuid]) -> HashSet<uuid::Uuid> {
    let pending: HashSet<uuid::Uuid> = sqlx::query_scalar(
        "SELECT entity_id FROM invalidation_outbox WHERE entity = 'course' AND op = 'UPDATE'",
    )
    .fetch_all(pool)
    .await
    .expect("pending records")
    .into_iter()
    .collect();
    ids.iter()
        .copied()
        .filter(|id| !pending.contains(id))
        .collect()
}

/// A batch that cannot finish (its planning query waits behind a lock another
/// session holds) does not hold the process past the grace: SIGTERM → exit 0
/// within `SHUTDOWN_GRACE_SECS`, the record stays in the outbox, and the next
/// worker applies it once the lock is gone.
#[tokio::test]
async fn sigterm_abandons_a_batch_stuck_behind_a_lock_after_the_grace() {
    const GRACE: u64 = 2;
    let db = fresh_database().await;
    seed::seed(&db.pool, 2, &|_| {}).await.expect("seed");
    sqlx::query("DELETE FROM invalidation_outbox")
        .execute(&db.pool)
        .await
        .expect("start from an empty backlog");
    let prefix = unique_prefix();
    let cache = Cache::connect(&redis_config(&redis_url(), &prefix))
        .await
        .expect("redis");
    let course = seed::course_id(1);
    let key = cache.keys().course(course);
    cache
        .set(
            &key,
            Bytes::from_static(b"cached"),
            Duration::from_secs(600),
        )
        .await
        .expect("SET");

    let mut env = service_env(&db, &redis_url(), &prefix);
    env.insert("SHUTDOWN_GRACE_SECS".into(), GRACE.to_string());
    let mut worker = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-invalidator"), &env);

    // A course title change maps to its enrolled users' keys, which the batch
    // looks up in `enrollments`: held here, so the batch waits inside its transaction.
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE enrollments IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock enrollments");
    sqlx::query("UPDATE courses SET title = title || ' (stuck)' WHERE id = $1")
        .bind(course.0)
        .execute(&db.pool)
        .await
        .expect("change the course");
    let stuck = eventually(Duration::from_secs(20), || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query ILIKE '%enrollments%'",
        )
        .fetch_one(&db.pool)
        .await
        .expect("pg_stat_activity");
        waiting > 0
    })
    .await;
    assert!(
        stuck,
        "the batch waits behind the lock: {:#?}",
        worker.log()
    );

    worker.sigterm();
    let status = worker.wait_exit(Duration::from_secs(GRACE + 3)).await;
    let log = worker.log();
    assert!(
        status.is_some_and(|s| s.success()),
        "exits 0 within the grace despite the stuck batch: {status:?} {log:#?}"
    );
    assert!(
        log.iter().any(|l| l.contains("abandoned")),
        "says it abandoned the batch: {log:#?}"
    );

    lock.rollback().await.expect("release the lock");
    let pending = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM invalidation_outbox \
             WHERE entity = 'course' AND op = 'UPDATE'",
        )
        .fetch_one(&db.pool)
        .await
        .expect("outbox")
    };
    assert_eq!(pending().await, 1, "the abandoned record is still pending");
    assert!(
        cache.get(&key).await.expect("GET").is_some(),
        "nothing was applied"
    );

    let mut next = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-invalidator"), &env);
    let applied = eventually(Duration::from_secs(20), || async { pending().await == 0 }).await;
    assert!(applied, "the next worker applies it: {:#?}", next.log());
    assert!(cache.get(&key).await.expect("GET").is_none(), "key deleted");
    next.sigterm();
    assert!(
        next.wait_exit(Duration::from_secs(GRACE + 3))
            .await
            .is_some_and(|s| s.success())
    );
    let _ = cache
        .delete_pattern(&cache.keys().scoped_pattern("*"))
        .await;
}
