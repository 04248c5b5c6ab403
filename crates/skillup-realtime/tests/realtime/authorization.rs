//! The realtime service's security table: every JWT attack is refused at the
//! handshake with the API's rules, and `course:subscribe` answers each kind of
//! caller as the spec says (the API's `tests/api/authorization.rs` is the REST
//! half of the same table).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use skillup_common::UserId;
use skillup_db::seed;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::helpers::{COURSES, js_dir, other_course, stack, student_course};

/// One handshake per token through `tests/js/handshakes.mjs` (one node process
/// for all of them); `None` sends no `auth.token`. Returns each outcome line.
async fn handshakes(url: &str, tokens: &[Option<String>]) -> Vec<Value> {
    let mut child = Command::new("node")
        .current_dir(js_dir())
        .args(["handshakes.mjs", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (scripts/test.sh installs node and tests/js/node_modules)");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(
            serde_json::to_string(tokens)
                .expect("tokens serialize")
                .as_bytes(),
        )
        .await
        .expect("node reads stdin");
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("handshakes finish")
        .expect("node exits");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect()
}

#[tokio::test]
async fn every_jwt_attack_is_refused_at_the_handshake() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let revoked = stack.jwt.sign(&json!({
        "sub": student.0, "exp": chrono::Utc::now().timestamp() + 600, "session_id": "rt-revoked"
    }));
    stack.revoke(&revoked).await;

    let mut cases: Vec<(&str, Option<String>)> =
        skillup_testkit::jwt::attacks(&student.to_string(), "test-secret")
            .into_iter()
            .map(|(name, token)| (name, Some(token)))
            .collect();
    cases.push(("no auth.token", None));
    cases.push(("empty token", Some(String::new())));
    cases.push(("revoked session", Some(revoked)));
    cases.push(("valid (control)", Some(stack.token(student))));
    let tokens: Vec<Option<String>> = cases.iter().map(|(_, t)| t.clone()).collect();
    let lines = handshakes(&stack.nodes[0], &tokens).await;
    assert_eq!(lines.len(), cases.len(), "{lines:?}");

    let mut wrong = Vec::new();
    for ((name, _), line) in cases.iter().zip(&lines) {
        let want = if *name == "valid (control)" {
            json!({"type": "connected"})
        } else {
            json!({"type": "connect_error", "message": "unauthorized"})
        };
        let mut got = line.clone();
        got.as_object_mut().unwrap().remove("i");
        if got != want {
            wrong.push(format!("  {name}: want {want}, got {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "handshakes answered wrongly:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn course_subscribe_answers_each_kind_of_caller() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let (enrolled_course, _) = student_course();
    let not_enrolled = other_course();
    let owner_of = |course| {
        (1..=COURSES)
            .find(|n| seed::course_id(*n) == course)
            .map(|n| seed::instructor_id((n - 1) % seed::INSTRUCTORS + 1))
            .expect("a seeded course")
    };
    let owner = owner_of(enrolled_course);
    // An instructor with courses of their own, but neither of these two.
    let other_instructor = (1..=COURSES)
        .map(|n| seed::instructor_id((n - 1) % seed::INSTRUCTORS + 1))
        .find(|i| *i != owner && *i != owner_of(not_enrolled))
        .expect("another instructor");
    // A student enrolled in neither.
    let stranger = (2..=seed::STUDENTS)
        .find(|s| {
            let mine = seed::enrollments_of(*s, COURSES);
            [enrolled_course, not_enrolled]
                .iter()
                .all(|c| !mine.iter().any(|n| seed::course_id(*n) == *c))
        })
        .map(seed::student_id)
        .expect("a student enrolled in neither");
    let ok = json!({"ok": true});
    let forbidden = json!({"ok": false, "error": "forbidden"});
    let table: [(&str, UserId, [&Value; 2]); 5] = [
        ("enrolled student", seed::student_id(1), [&ok, &forbidden]),
        ("student not enrolled", stranger, [&forbidden, &forbidden]),
        (
            "other instructor",
            other_instructor,
            [&forbidden, &forbidden],
        ),
        ("owning instructor", owner, [&ok, &forbidden]),
        ("admin", seed::admin_id(), [&ok, &ok]),
    ];
    let mut wrong = Vec::new();
    for (role, user, want) in table {
        let mut probe = stack
            .probe(0, &stack.token(user), &[enrolled_course, not_enrolled])
            .await;
        for (course, want) in [enrolled_course, not_enrolled].into_iter().zip(want) {
            let ack = probe.until("ack").await;
            assert_eq!(ack["course_id"], course.to_string());
            let mut got = ack["ack"].clone();
            if let Some(o) = got.as_object_mut() {
                o.remove("recovered");
            }
            if &got != want {
                wrong.push(format!(
                    "  {role} → {course}: want {want}, got {}",
                    ack["ack"]
                ));
            }
        }
        probe.close().await;
    }
    assert!(
        wrong.is_empty(),
        "course:subscribe answered wrongly:\n{}",
        wrong.join("\n")
    );
}
