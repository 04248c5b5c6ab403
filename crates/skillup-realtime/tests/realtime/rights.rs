//! Rights hold for the whole life of a socket, on every node: logout and token
//! expiry end sessions, progress reaches only the learner and the course's
//! staff, and a subscriber who loses a course (in the API or in SQL) is told
//! and gets nothing of it afterwards.

use std::time::{Duration, Instant};

use serde_json::Value;
use skillup_common::{CourseId, LessonId, UserId};
use skillup_db::seed;
use skillup_testkit::TcpProxy;

use crate::helpers::{COURSES, Probe, Stack, stack, student_course};

/// Within this the contract promises 1 s; tests allow a loaded machine more.
const BOUND: Duration = Duration::from_secs(3);

fn owner_of(course_n: u32) -> UserId {
    seed::instructor_id((course_n - 1) % seed::INSTRUCTORS + 1)
}

/// Student 1's first course, and another student enrolled in it.
fn classmates() -> (u32, UserId, UserId) {
    let n = seed::enrollments_of(1, COURSES)[0];
    let other = (2..=seed::STUDENTS)
        .find(|s| seed::enrollments_of(*s, COURSES).contains(&n))
        .expect("someone shares student 1's course");
    (n, seed::student_id(1), seed::student_id(other))
}

fn lesson(course_n: u32, module: u32, lesson: u32) -> LessonId {
    LessonId(seed::uuid_for(&format!(
        "course-{course_n}/module-{module}/lesson-{lesson}"
    )))
}

async fn ready(probe: &mut Probe) {
    probe.until("ready").await;
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["name"] == name).collect()
}

async fn ended_within(probe: &mut Probe, reason: &str) -> Duration {
    let start = Instant::now();
    let seen = probe
        .events_until(BOUND, |l| l["type"] == "disconnect")
        .await;
    let ended = named(&seen, "session:ended");
    assert_eq!(ended.len(), 1, "one session:ended: {seen:#?}");
    assert_eq!(ended[0]["data"]["reason"], reason, "{seen:#?}");
    assert_eq!(
        seen.last().expect("the disconnect")["reason"],
        "io server disconnect",
        "the server disconnects the socket: {seen:#?}"
    );
    start.elapsed()
}

#[tokio::test]
async fn logout_ends_that_sessions_sockets_on_every_node_and_no_other() {
    let stack = stack(2, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let signed_out = stack.session_token(
        student,
        "11111111-1111-4111-8111-111111111111",
        Duration::from_secs(600),
    );
    let other = stack.session_token(
        student,
        "22222222-2222-4222-8222-222222222222",
        Duration::from_secs(600),
    );
    let mut out_on_a = stack.probe(0, &signed_out, &[course]).await;
    let mut out_on_b = stack.probe(1, &signed_out, &[course]).await;
    let mut stays_on_a = stack.probe(0, &other, &[course]).await;
    for p in [&mut out_on_a, &mut out_on_b, &mut stays_on_a] {
        ready(p).await;
    }

    stack.revoke(&signed_out).await;
    for (node, probe) in [("A", &mut out_on_a), ("B", &mut out_on_b)] {
        let took = ended_within(probe, "revoked").await;
        assert!(took < BOUND, "node {node}: {took:?}");
    }

    // The other session keeps its socket, and it still receives.
    stack.put_progress(student, course, lesson, true).await;
    let events = stays_on_a.events_within(Duration::from_millis(1500)).await;
    assert_eq!(named(&events, "progress:updated").len(), 1, "{events:#?}");
    assert!(named(&events, "session:ended").is_empty());

    // A signed-out token cannot come back.
    let mut again = stack.probe(1, &signed_out, &[]).await;
    assert_eq!(
        again.until("connect_error").await["message"],
        "unauthorized"
    );

    let metrics = stack.metrics(1).await;
    assert!(
        metrics.contains(r#"realtime_sessions_ended_total{reason="revoked"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn at_the_tokens_exp_the_socket_ends_and_a_fresh_token_misses_nothing() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let short = stack.session_token(
        student,
        "33333333-3333-4333-8333-333333333333",
        Duration::from_secs(4),
    );
    let mut probe = stack.probe(0, &short, &[course]).await;
    ready(&mut probe).await;
    let first = stack.put_progress(student, course, lesson, true).await;
    let seen = probe
        .events_until(BOUND, |l| l["name"] == "progress:updated")
        .await;
    let offset = seen.last().expect("present")["data"]["offset"]
        .as_str()
        .expect("present")
        .to_owned();
    assert_eq!(
        seen.last().expect("present")["data"]["percent"].as_f64(),
        first["percent"].as_f64()
    );

    let seen = probe
        .events_until(Duration::from_secs(6), |l| l["type"] == "disconnect")
        .await;
    assert_eq!(
        named(&seen, "session:ended")[0]["data"]["reason"],
        "expired"
    );

    // Written while the client is away; it reconnects with a fresh token and
    // its offset (the pattern of docs/api.md) and gets it.
    let missed = stack.put_progress(student, course, lesson, false).await;
    probe.send(&format!("token {}", stack.token(student))).await;
    probe.send(&format!("offset {offset}")).await;
    probe.send("connect").await;
    let seen = probe
        .events_until(BOUND, |l| l["name"] == "progress:updated")
        .await;
    let event = &seen.last().expect("present")["data"];
    assert_eq!(event["completed"], false);
    assert_eq!(event["percent"].as_f64(), missed["percent"].as_f64());
    let metrics = stack.metrics(0).await;
    assert!(
        metrics.contains(r#"realtime_sessions_ended_total{reason="expired"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn classmates_never_see_each_others_progress_and_the_staff_do() {
    let stack = stack(2, skillup_testkit::redis_url()).await;
    let (n, me, classmate) = classmates();
    let course = seed::course_id(n);
    let mut mine = stack.probe(0, &stack.token(me), &[course]).await;
    let mut theirs = stack.probe(1, &stack.token(classmate), &[course]).await;
    let mut owner = stack.probe(1, &stack.token(owner_of(n)), &[course]).await;
    let mut admin = stack
        .probe(0, &stack.token(seed::admin_id()), &[course])
        .await;
    for p in [&mut mine, &mut theirs, &mut owner, &mut admin] {
        ready(p).await;
    }
    stack.put_progress(me, course, lesson(n, 5, 8), true).await;
    // And one made in SQL: the same audience.
    stack
        .sql(&format!(
            "INSERT INTO lesson_progress (user_id, lesson_id) VALUES ('{me}', '{}')",
            lesson(n, 5, 7)
        ))
        .await;
    for (who, probe, want) in [
        ("the learner", &mut mine, 2),
        ("a classmate", &mut theirs, 0),
        ("the instructor", &mut owner, 2),
        ("an admin", &mut admin, 2),
    ] {
        let events = probe.events_within(Duration::from_millis(2000)).await;
        let progress = named(&events, "progress:updated");
        assert_eq!(progress.len(), want, "{who}: {events:#?}");
        assert!(
            progress
                .iter()
                .all(|e| e["data"]["user_id"] == me.to_string())
        );
    }
}

/// Subscribes `user` to `course` on every node of `stack`; the probes, ready.
async fn followers(stack: &Stack, user: UserId, course: CourseId) -> Vec<Probe> {
    let mut probes = Vec::new();
    for node in 0..stack.nodes.len() {
        let mut probe = stack.probe(node, &stack.token(user), &[course]).await;
        let ack = probe.until("ack").await;
        assert_eq!(ack["ack"]["ok"], true, "{ack}");
        ready(&mut probe).await;
        probes.push(probe);
    }
    probes
}

async fn assert_unsubscribed(probes: &mut [Probe], course: CourseId, who: &str) {
    for (node, probe) in probes.iter_mut().enumerate() {
        let seen = probe
            .events_until(BOUND, |l| l["name"] == "course:unsubscribed")
            .await;
        assert_eq!(
            seen.last().expect("present")["data"]["course_id"],
            course.to_string(),
            "{who} on node {node}"
        );
    }
}

/// A change made to the course after the loss: nothing of it reaches `probes`.
async fn assert_nothing_more(stack: &Stack, probes: &mut [Probe], course: CourseId) {
    stack
        .sql(&format!(
            "UPDATE courses SET title = title || ' (updated)' WHERE id = '{course}'"
        ))
        .await;
    for probe in probes.iter_mut() {
        let events = probe.events_within(Duration::from_millis(1500)).await;
        assert!(
            events
                .iter()
                .all(|e| e["data"]["course_id"] != course.to_string()),
            "nothing of the course after losing it: {events:#?}"
        );
    }
}

#[tokio::test]
async fn unenrolling_in_sql_cuts_the_course_on_both_nodes_and_classmates_keep_it() {
    let stack = stack(2, skillup_testkit::redis_url()).await;
    let (n, me, classmate) = classmates();
    let course = seed::course_id(n);
    let mut mine = followers(&stack, me, course).await;
    let mut theirs = followers(&stack, classmate, course).await;
    stack
        .sql(&format!(
            "DELETE FROM enrollments WHERE user_id = '{me}' AND course_id = '{course}'"
        ))
        .await;
    assert_unsubscribed(&mut mine, course, "the unenrolled student").await;
    assert_nothing_more(&stack, &mut mine, course).await;
    for probe in &mut theirs {
        let events = probe.events_within(Duration::from_millis(500)).await;
        assert_eq!(
            named(&events, "course:updated").len(),
            1,
            "a classmate still follows: {events:#?}"
        );
    }
    let metrics = stack.metrics(0).await;
    assert!(
        metrics.contains(r#"realtime_unsubscribed_total{reason="unenrolled"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn unenrolling_through_the_api_cuts_the_course() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let (n, me, _) = classmates();
    let course = seed::course_id(n);
    let mut mine = followers(&stack, me, course).await;
    let res = stack
        .http
        .delete(format!("{}/api/courses/{course}/enroll", stack.api))
        .bearer_auth(stack.token(me))
        .send()
        .await
        .expect("unenroll");
    assert_eq!(res.status(), 204);
    assert_unsubscribed(&mut mine, course, "the student").await;
}

#[tokio::test]
async fn a_course_given_away_deleted_or_an_admin_demoted_loses_its_followers() {
    let stack = stack(2, skillup_testkit::redis_url()).await;
    // Given away: its old instructor (not enrolled) loses it.
    let given = 2;
    let old_owner = owner_of(given);
    let new_owner = owner_of(given + 1);
    let mut owners = followers(&stack, old_owner, seed::course_id(given)).await;
    stack
        .sql(&format!(
            "UPDATE courses SET instructor_id = '{new_owner}' WHERE id = '{}'",
            seed::course_id(given)
        ))
        .await;
    assert_unsubscribed(&mut owners, seed::course_id(given), "the old instructor").await;

    // Demoted: an admin (enrolled nowhere) loses every course.
    let watched = seed::course_id(4);
    let mut admins = followers(&stack, seed::admin_id(), watched).await;
    stack
        .sql(&format!(
            "UPDATE profiles SET role = 'student' WHERE id = '{}'",
            seed::admin_id()
        ))
        .await;
    assert_unsubscribed(&mut admins, watched, "the demoted admin").await;

    // Deleted: every follower loses it.
    let (n, me, _) = classmates();
    let course = seed::course_id(n);
    let mut mine = followers(&stack, me, course).await;
    stack
        .sql(&format!("DELETE FROM courses WHERE id = '{course}'"))
        .await;
    assert_unsubscribed(&mut mine, course, "a student of the deleted course").await;
    let metrics = stack.metrics(1).await;
    for reason in ["reassigned", "role_changed", "course_deleted"] {
        assert!(
            metrics.contains(&format!(
                r#"realtime_unsubscribed_total{{reason="{reason}"}}"#
            )),
            "{reason}: {metrics}"
        );
    }
}

/// The node's link to Redis is cut while the API signs the session out: the
/// node misses the announcement, and cuts the socket once its link is back.
#[tokio::test]
async fn a_session_revoked_while_the_node_cannot_hear_it_is_cut_when_it_can() {
    let stack = stack(0, skillup_testkit::redis_url()).await;
    let proxy = TcpProxy::start_for_url(&stack.redis_url).await;
    let mut env = stack.env.clone();
    env.insert("REDIS_URL".into(), proxy.through(&stack.redis_url));
    let node = stack.node(&env).await;
    let student = seed::student_id(1);
    let token = stack.session_token(
        student,
        "44444444-4444-4444-8444-444444444444",
        Duration::from_secs(600),
    );
    let mut probe = Probe::spawn(&node, &token, &[]).await;
    ready(&mut probe).await;

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.revoke(&token).await;
    let quiet = probe.events_within(Duration::from_millis(700)).await;
    assert!(
        named(&quiet, "session:ended").is_empty(),
        "the node cannot know yet"
    );
    proxy.restore();
    let seen = probe
        .events_until(Duration::from_secs(10), |l| l["type"] == "disconnect")
        .await;
    assert_eq!(
        named(&seen, "session:ended")[0]["data"]["reason"],
        "revoked"
    );
}
