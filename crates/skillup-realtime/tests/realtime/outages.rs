use std::time::Duration;

use skillup_db::seed;
use skillup_testkit::PrivateRedis;

use crate::helpers::{stack, student_course};

#[tokio::test]
async fn after_a_redis_restart_clients_get_resync_and_later_events() {
    let mut redis = PrivateRedis::start();
    let stack = stack(1, redis.url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let mut probe = stack.probe(0, &stack.token(student), &[course]).await;
    probe.until("ready").await;

    redis.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    let resync = probe.until("event").await;
    assert_eq!(resync["name"], "resync", "{resync}");

    // The API's own client reconnects too (until then its writes answer 503);
    // then events flow again.
    let mut delivered = false;
    for attempt in 0..20 {
        let res = stack
            .try_put_progress(student, course, lesson, attempt % 2 == 0)
            .await;
        assert!(
            matches!(res.status().as_u16(), 200 | 503),
            "{}",
            res.status()
        );
        if probe
            .events_within(Duration::from_millis(500))
            .await
            .iter()
            .any(|e| e["name"] == "progress:updated")
        {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "progress events flow again after the restart");
}
