//! Durable events with offsets: a client that was away, a node that crashed, a
//! Redis that restarted empty — each gets exactly the events it missed, once,
//! in order, then live ones; an offset that cannot be replayed gets one `resync`.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use skillup_common::{LessonId, UserId};
use skillup_db::seed;
use skillup_testkit::PrivateRedis;

use crate::helpers::{COURSES, Probe, Stack, stack, stack_with, student_course};

const BOUND: Duration = Duration::from_secs(5);

fn lesson(course_n: u32, module: u32, lesson: u32) -> LessonId {
    LessonId(seed::uuid_for(&format!(
        "course-{course_n}/module-{module}/lesson-{lesson}"
    )))
}

fn course_n() -> u32 {
    seed::enrollments_of(1, COURSES)[0]
}

fn offset_of(event: &Value) -> String {
    event["data"]["offset"]
        .as_str()
        .unwrap_or_else(|| panic!("an offset: {event}"))
        .to_owned()
}

/// Waits for the next `progress:updated` (or any `name`), returns it.
async fn next_named(probe: &mut Probe, name: &str) -> Value {
    probe
        .events_until(BOUND, |l| l["name"] == name)
        .await
        .pop()
        .expect("the event")
}

/// Offsets strictly increase and none repeats.
fn assert_ordered_once(events: &[Value]) {
    let offsets: Vec<String> = events.iter().map(offset_of).collect();
    let unique: HashSet<&String> = offsets.iter().collect();
    assert_eq!(unique.len(), offsets.len(), "no event twice: {events:#?}");
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "in order: {offsets:?}"
    );
}

/// One event to learn an offset from: a progress PUT by `user`.
async fn first_offset(stack: &Stack, probe: &mut Probe, user: UserId) -> String {
    let n = course_n();
    stack
        .put_progress(user, seed::course_id(n), lesson(n, 5, 1), true)
        .await;
    offset_of(&next_named(probe, "progress:updated").await)
}

#[tokio::test]
async fn a_client_back_with_its_offset_gets_exactly_what_it_missed_then_live() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let n = course_n();
    let course = seed::course_id(n);
    let mut before = stack.probe(0, &stack.token(student), &[course]).await;
    before.until("ready").await;
    let offset = first_offset(&stack, &mut before, student).await;
    before.close().await;

    // Away: two API writes, one in SQL, a course change.
    let a = stack
        .put_progress(student, course, lesson(n, 5, 2), true)
        .await;
    let b = stack
        .put_progress(student, course, lesson(n, 5, 1), false)
        .await;
    stack
        .sql(&format!(
            "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ('{student}', '{}')",
            lesson(n, 5, 3)
        ))
        .await;
    stack
        .sql(&format!(
            "UPDATE courses SET title = title || '!' WHERE id = '{course}'"
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut back = Probe::spawn_with(
        &stack.nodes[0],
        &stack.token(student),
        &[course],
        &[("PROBE_OFFSET", &offset)],
    )
    .await;
    // The user room's replay comes on connect, before the subscription's ack.
    let mut missed = back.events_until(BOUND, |l| l["type"] == "ack").await;
    let ack = missed.pop().expect("the ack");
    assert_eq!(ack["ack"]["recovered"], true, "{ack}");
    missed.extend(back.events_within(Duration::from_millis(1500)).await);
    let progress: Vec<&Value> = missed
        .iter()
        .filter(|e| e["name"] == "progress:updated")
        .collect();
    assert_eq!(progress.len(), 3, "{missed:#?}");
    // The API writes' events are their answers, exactly.
    for (event, answer) in progress.iter().zip([&a, &b]) {
        for field in [
            "course_id",
            "lesson_id",
            "completed",
            "completed_lessons",
            "total_lessons",
            "percent",
        ] {
            // Compared as numbers: JavaScript prints 10.0 as 10.
            let (got, want) = (&event["data"][field], &answer[field]);
            let same = got == want || got.as_f64().is_some_and(|g| want.as_f64() == Some(g));
            assert!(same, "{field}: {got} vs {want}: {event}");
        }
    }
    assert_eq!(
        progress[2]["data"]["lesson_id"],
        lesson(n, 5, 3).to_string()
    );
    assert_eq!(progress[2]["data"]["completed"], true);
    let course_updates = missed
        .iter()
        .filter(|e| e["name"] == "course:updated")
        .count();
    assert_eq!(course_updates, 1, "{missed:#?}");
    assert!(missed.iter().all(|e| e["name"] != "resync"), "{missed:#?}");

    // Then live, once.
    stack
        .put_progress(student, course, lesson(n, 5, 4), true)
        .await;
    missed.push(next_named(&mut back, "progress:updated").await);
    let user_room: Vec<Value> = missed
        .iter()
        .filter(|e| e["name"] == "progress:updated")
        .cloned()
        .collect();
    assert_ordered_once(&user_room);
    assert!(
        back.events_within(Duration::from_millis(500))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_course_subscription_with_an_offset_replays_the_course_for_its_staff() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let n = course_n();
    let course = seed::course_id(n);
    let owner = seed::instructor_id((n - 1) % seed::INSTRUCTORS + 1);
    let student = seed::student_id(1);
    let mut watching = stack.probe(0, &stack.token(owner), &[course]).await;
    watching.until("ready").await;
    let offset = first_offset(&stack, &mut watching, student).await;
    watching.close().await;

    stack
        .put_progress(student, course, lesson(n, 4, 1), true)
        .await;
    stack
        .sql(&format!(
            "UPDATE modules SET title = 'renamed' WHERE course_id = '{course}' AND position = 1"
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Connects without an offset (its own room has nothing), subscribes with one.
    let mut back = stack.probe(0, &stack.token(owner), &[]).await;
    back.until("ready").await;
    back.send(&format!("offset {offset}")).await;
    back.send(&format!("subscribe {course}")).await;
    let seen = back.events_within(Duration::from_millis(1500)).await;
    let names: Vec<&str> = seen
        .iter()
        .map(|e| e["name"].as_str().expect("present"))
        .collect();
    assert_eq!(names, ["progress:updated", "course:updated"], "{seen:#?}");
    assert_ordered_once(&seen);
}

#[tokio::test]
async fn an_unknown_or_too_old_offset_gets_one_resync() {
    let stack = stack_with(
        1,
        skillup_testkit::redis_url(),
        &[("REALTIME_REPLAY_MAX_EVENTS", "3")],
    )
    .await;
    let student = seed::student_id(1);
    let (course, _) = student_course();
    for bad in ["garbage", "00000000-0000000000000001"] {
        let mut probe = Probe::spawn_with(
            &stack.nodes[0],
            &stack.token(student),
            &[course],
            &[("PROBE_OFFSET", bad)],
        )
        .await;
        let seen = probe
            .events_around("ready", Duration::from_millis(800))
            .await;
        let resyncs: Vec<&Value> = seen.iter().filter(|e| e["name"] == "resync").collect();
        assert_eq!(resyncs.len(), 1, "one resync for {bad}: {seen:#?}");
        assert_eq!(resyncs[0]["data"]["reason"], "unknown_offset");
        probe.close().await;
    }

    let mut probe = stack.probe(0, &stack.token(student), &[]).await;
    probe.until("ready").await;
    let offset = first_offset(&stack, &mut probe, student).await;
    let n = course_n();
    for l in 2..=6 {
        stack
            .put_progress(student, seed::course_id(n), lesson(n, 3, l), true)
            .await;
    }
    probe.events_within(Duration::from_millis(800)).await;
    let mut old = Probe::spawn_with(
        &stack.nodes[0],
        &stack.token(student),
        &[course],
        &[("PROBE_OFFSET", &offset)],
    )
    .await;
    let seen = old.events_around("ready", Duration::from_millis(800)).await;
    let resyncs: Vec<&Value> = seen.iter().filter(|e| e["name"] == "resync").collect();
    assert_eq!(resyncs.len(), 1, "{seen:#?}");
    assert_eq!(resyncs[0]["data"]["reason"], "too_old");
    assert!(
        seen.iter().all(|e| e["name"] != "progress:updated"),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn a_node_killed_and_restarted_loses_none_of_its_sockets_events() {
    let stack = stack(0, skillup_testkit::redis_url()).await;
    let port = skillup_testkit::free_port();
    let mut node = stack.node_process(port);
    let url = format!("http://127.0.0.1:{port}");
    let student = seed::student_id(1);
    let n = course_n();
    let course = seed::course_id(n);
    let mut probe = stack
        .reconnecting_probe(&url, &stack.token(student), &[course])
        .await;
    probe.until("ready").await;
    let mut seen = vec![];
    stack
        .put_progress(student, course, lesson(n, 5, 1), true)
        .await;
    seen.push(next_named(&mut probe, "progress:updated").await);

    node.kill();
    let during = [
        stack
            .put_progress(student, course, lesson(n, 5, 2), true)
            .await,
        stack
            .put_progress(student, course, lesson(n, 5, 3), true)
            .await,
    ];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _node = stack.node_process(port);
    for answer in &during {
        let event = next_named(&mut probe, "progress:updated").await;
        assert_eq!(event["data"]["lesson_id"], answer["lesson_id"], "{event}");
        seen.push(event);
    }
    stack
        .put_progress(student, course, lesson(n, 5, 4), true)
        .await;
    seen.push(next_named(&mut probe, "progress:updated").await);
    assert_ordered_once(&seen);
    let rest = probe.events_within(Duration::from_millis(500)).await;
    assert!(
        rest.iter()
            .all(|e| e["name"] != "progress:updated" && e["name"] != "resync"),
        "{rest:#?}"
    );
}

#[tokio::test]
async fn events_committed_while_redis_is_down_arrive_when_it_returns() {
    let mut redis = PrivateRedis::start();
    let stack = stack(1, redis.url()).await;
    let student = seed::student_id(1);
    let n = course_n();
    let course = seed::course_id(n);
    let mut probe = stack.probe(0, &stack.token(student), &[course]).await;
    probe.until("ready").await;
    let offset = first_offset(&stack, &mut probe, student).await;

    redis.stop();
    for l in 2..=4 {
        stack
            .sql(&format!(
                "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ('{student}', '{}')",
                lesson(n, 5, l)
            ))
            .await;
    }
    stack
        .sql(&format!(
            "UPDATE courses SET title = title || '?' WHERE id = '{course}'"
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();

    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|e: &&Value| e["name"] == "progress:updated")
        .count()
        < 3
    {
        seen.extend(
            probe
                .events_until(Duration::from_secs(15), |l| l["type"] == "event")
                .await,
        );
    }
    seen.extend(probe.events_within(Duration::from_millis(1000)).await);
    let progress: Vec<Value> = seen
        .iter()
        .filter(|e| e["name"] == "progress:updated")
        .cloned()
        .collect();
    let lessons: Vec<&str> = progress
        .iter()
        .map(|e| e["data"]["lesson_id"].as_str().expect("present"))
        .collect();
    let want: Vec<String> = (2..=4).map(|l| lesson(n, 5, l).to_string()).collect();
    assert_eq!(lessons, want, "{seen:#?}");
    assert!(progress.iter().all(|e| offset_of(e) > offset));
    assert_ordered_once(&progress);
    assert_eq!(
        seen.iter()
            .filter(|e| e["name"] == "course:updated")
            .count(),
        1,
        "{seen:#?}"
    );
    assert!(
        seen.iter().all(|e| e["name"] != "resync"),
        "nothing needed a resync: {seen:#?}"
    );
}

/// An invalidator that died between its commit and its publish: the event is
/// in `realtime_events` only. The heartbeat tells the node it is behind, and
/// it reads the event from Postgres.
#[tokio::test]
async fn an_event_committed_but_never_published_arrives_through_the_heartbeat() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let n = course_n();
    let course = seed::course_id(n);
    let mut probe = stack.probe(0, &stack.token(student), &[]).await;
    probe.until("ready").await;
    let lesson = lesson(n, 2, 2);
    stack
        .sql(&format!(
            "WITH s AS (UPDATE realtime_sequence SET last_seq = last_seq + 1 RETURNING epoch, last_seq) \
             INSERT INTO realtime_events (seq, kind, user_id, course_id, body) \
             SELECT last_seq, 'progress', '{student}', '{course}', json_build_object( \
                 'course_id', '{course}', 'lesson_id', '{lesson}', 'completed', true, \
                 'completed_lessons', 1, 'total_lessons', 40, 'percent', 2.5, \
                 'user_id', '{student}', 'at', now(), \
                 'offset', epoch || '-' || lpad(to_hex(last_seq), 16, '0'))::text \
             FROM s"
        ))
        .await;
    let event = next_named(&mut probe, "progress:updated").await;
    assert_eq!(event["data"]["lesson_id"], lesson.to_string(), "{event}");
}
