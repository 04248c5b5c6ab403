use std::process::Stdio;
use std::time::Duration;

use skillup_db::seed;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{js_dir, stack, student_course};

/// Where test artifacts (the demo page screenshot) are written.
fn artifacts() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

#[tokio::test]
async fn the_demo_page_moves_the_progress_bar_when_progress_is_marked() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let token = stack.token(student);
    let url = format!("{}/?token={token}", stack.nodes[0]);
    let screenshot = artifacts().join("demo-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut browser = tokio::process::Command::new("node")
        .current_dir(js_dir())
        .args([
            "demo.mjs",
            &url,
            &course.to_string(),
            screenshot.to_str().expect("utf-8 path"),
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(browser.stdout.take().expect("stdout")).lines();
    let mut next = async || -> serde_json::Value {
        let line = tokio::time::timeout(Duration::from_secs(40), lines.next_line())
            .await
            .expect("the page answers in time")
            .expect("read")
            .expect("a line");
        serde_json::from_str(&line).expect("json")
    };
    let ready = next().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    let answer = stack.put_progress(student, course, lesson, true).await;
    let changed = next().await;
    assert_eq!(changed["type"], "changed", "{changed}");
    assert_eq!(
        changed["percent"].as_f64(),
        answer["percent"].as_f64(),
        "the bar shows the new percentage"
    );
    assert!(screenshot.exists(), "a screenshot was taken");

    // Signed out elsewhere: the page says so instead of going silently stale.
    stack.revoke(&token).await;
    let ended = next().await;
    assert_eq!(ended["type"], "ended", "{ended}");
    assert!(
        ended["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("signed out")),
        "{ended}"
    );
}
