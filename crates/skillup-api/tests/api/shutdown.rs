//! SIGTERM while busy, against the binary as it runs in production: requests in
//! flight finish with their answers, nothing new is accepted, and the process
//! exits 0 within `SHUTDOWN_GRACE_SECS`.

use std::time::{Duration, Instant};

use skillup_db::seed;
use skillup_testkit::{ServiceProcess, fresh_database, redis_url, service_env, unique_prefix};

use crate::helpers::new_user;

const GRACE_SECS: u64 = 5;
const IN_FLIGHT: usize = 20;

#[tokio::test]
async fn sigterm_lets_writes_in_flight_finish_refuses_new_connections_and_exits_0() {
    let db = fresh_database().await;
    seed::seed(&db.pool, 3, &|_| {}).await.expect("seed");
    let course = seed::course_id(1);
    let enrolled_before = enrollments(&db, course).await;
    let mut env = service_env(&db, &redis_url(), &unique_prefix());
    env.insert("SHUTDOWN_GRACE_SECS".into(), GRACE_SECS.to_string());
    env.insert("DATABASE_MAX_CONNECTIONS".into(), "40".into());
    let mut api = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-api"), &env);
    let base = format!("http://127.0.0.1:{}", api.port);

    // Hold the course row so every enrollment stops inside its transaction
    // (`FOR KEY SHARE` waits behind `FOR UPDATE`): the requests are provably in
    // the server, half done, when SIGTERM arrives.
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM courses WHERE id = $1 FOR UPDATE")
        .bind(course.0)
        .execute(&mut *lock)
        .await
        .expect("lock the course row");

    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (_, token) = new_user();
            let request = client
                .post(format!("{base}/api/courses/{course}/enroll"))
                .bearer_auth(token)
                .send();
            tokio::spawn(request)
        })
        .collect();
    let waiting = skillup_testkit::eventually(Duration::from_secs(20), || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&db.pool)
        .await
        .expect("pg_stat_activity");
        n == IN_FLIGHT as i64
    })
    .await;
    assert!(
        waiting,
        "every enrollment reaches the row lock: {:#?}",
        api.log()
    );

    api.sigterm();
    let stopped_at = Instant::now();
    // The listener goes at once: a new connection is refused while the
    // requests in flight still wait.
    let refused = skillup_testkit::eventually(Duration::from_secs(2), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", api.port))
            .await
            .is_err()
    })
    .await;
    assert!(refused, "new connections are refused after SIGTERM");
    assert!(
        api.wait_exit(Duration::from_millis(300)).await.is_none(),
        "the process waits for the requests in flight"
    );
    lock.rollback().await.expect("release the row");

    for request in requests {
        let res = request
            .await
            .expect("task")
            .expect("an answer, not a reset connection");
        assert_eq!(res.status(), 201, "enrollment in flight at SIGTERM");
    }
    let status = api
        .wait_exit(Duration::from_secs(GRACE_SECS + 3))
        .await
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", stopped_at.elapsed()));
    assert!(status.success(), "exit status {status}: {:#?}", api.log());
    eprintln!(
        "skillup-api exited {:?} after SIGTERM",
        stopped_at.elapsed()
    );
    assert_eq!(
        enrollments(&db, course).await - enrolled_before,
        IN_FLIGHT as i64,
        "every acknowledged enrollment is in Postgres"
    );
}

async fn enrollments(db: &skillup_testkit::TestDatabase, course: skillup_common::CourseId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM enrollments WHERE course_id = $1")
        .bind(course.0)
        .fetch_one(&db.pool)
        .await
        .expect("count enrollments")
}
