//! Writers wake the worker only while it sleeps: a busy worker polls, and its
//! writers commit without NOTIFY (and its database-wide commit lock); a wake-up
//! missed in the moment of arming is made up for by the poll.

use std::time::{Duration, Instant};

use skillup_db::seed;
use sqlx::postgres::PgListener;

use crate::helpers::{Options, course_path, stack};

#[tokio::test]
async fn busy_writers_commit_without_notifying() {
    let stack = stack(Options::default()).await;
    stack.settled().await;
    let mut listener = PgListener::connect(&stack.db.url).await.expect("listen");
    listener
        .listen(skillup_invalidator::listener::CHANNEL)
        .await
        .expect("listen");
    const WRITES: usize = 300;
    let student = seed::student_id(1);
    let n = seed::enrollments_of(1, 12)[0];
    for i in 0..WRITES {
        let lesson = seed::uuid_for(&format!(
            "course-{n}/module-{}/lesson-{}",
            i % 5 + 1,
            i % 8 + 1
        ));
        stack
            .sql(&format!(
                "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ('{student}', '{lesson}') \
                 ON CONFLICT (user_id, lesson_id) DO UPDATE SET completed_at = now()"
            ))
            .await;
    }
    let mut notified = 0;
    while let Ok(Ok(Some(_))) =
        tokio::time::timeout(Duration::from_millis(300), listener.try_recv()).await
    {
        notified += 1;
    }
    stack.settled().await;
    assert!(
        notified < WRITES / 4,
        "{notified} notifications for {WRITES} commits: a busy worker should be polling"
    );
}

#[tokio::test]
async fn a_change_whose_wakeup_was_missed_is_applied_by_the_poll() {
    let stack = stack(Options {
        poll_ms: 500,
        ..Options::default()
    })
    .await;
    stack.settled().await;
    // Let the worker go idle and arm itself.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let armed: bool = sqlx::query_scalar("SELECT armed FROM invalidator_wakeup")
        .fetch_one(&stack.db.pool)
        .await
        .expect("state");
    assert!(armed, "an idle worker asks to be woken");

    // A writer that read "not armed" (the race of arming): no NOTIFY.
    stack
        .sql("UPDATE invalidator_wakeup SET armed = false")
        .await;
    let key = stack.cache.keys().course(seed::course_id(1));
    let res = stack.get_json(&course_path(1)).await;
    assert!(res["id"].is_string());
    assert!(stack.cached(&key).await);
    let changed = Instant::now();
    stack
        .sql(&format!(
            "UPDATE courses SET title = 'Missed a wake-up' WHERE id = '{}'",
            seed::course_id(1)
        ))
        .await;
    assert!(stack.gone(&key).await, "applied without a NOTIFY");
    let took = changed.elapsed();
    assert!(
        took < Duration::from_millis(500 + 1000),
        "within the poll interval (and a margin): {took:?}"
    );
}
