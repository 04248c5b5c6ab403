use std::time::Duration;

use fred::prelude::*;
use serde_json::Value;
use skillup_db::seed;

use crate::helpers::{stack, student_course};

fn assert_progress_event(event: &Value, course: &str, lesson: &str, user: &str) {
    assert_eq!(event["name"], "progress:updated");
    let data = &event["data"];
    assert_eq!(data["course_id"], course);
    assert_eq!(data["lesson_id"], lesson);
    assert_eq!(data["user_id"], user);
    assert_eq!(data["completed"], true);
    for field in ["completed_lessons", "total_lessons", "percent"] {
        assert!(data[field].is_number(), "{field}");
    }
    assert!(
        chrono::DateTime::parse_from_rfc3339(data["at"].as_str().expect("at is a string")).is_ok()
    );
    assert!(
        data["offset"]
            .as_str()
            .is_some_and(|o| o.parse::<skillup_events::Offset>().is_ok()),
        "every event carries its offset: {data}"
    );
}

#[tokio::test]
async fn a_progress_put_reaches_the_users_room_with_the_spec_fields() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let mut probe = stack.probe(0, &stack.token(student), &[]).await;
    probe.until("ready").await;
    let answer = stack.put_progress(student, course, lesson, true).await;
    let events = probe.events_within(Duration::from_secs(2)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_progress_event(
        &events[0],
        &course.to_string(),
        &lesson.to_string(),
        &student.to_string(),
    );
    assert_eq!(
        events[0]["data"]["percent"], answer["percent"],
        "the PUT response's figures"
    );
}

#[tokio::test]
async fn two_nodes_deliver_each_event_once_to_every_subscribed_socket() {
    let stack = stack(2, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let owner = {
        let n = seed::enrollments_of(1, crate::helpers::COURSES)[0];
        seed::instructor_id((n - 1) % seed::INSTRUCTORS + 1)
    };
    // The student on both nodes (user room, and course room on node 1), the owner on node 1.
    let mut on_a = stack.probe(0, &stack.token(student), &[]).await;
    let mut on_b = stack.probe(1, &stack.token(student), &[course]).await;
    let mut owner_b = stack.probe(1, &stack.token(owner), &[course]).await;
    for p in [&mut on_a, &mut on_b, &mut owner_b] {
        p.until("ready").await;
    }
    stack.put_progress(student, course, lesson, true).await;
    for (name, probe) in [
        ("student on A", &mut on_a),
        ("student on B (user + course room)", &mut on_b),
        ("owner on B", &mut owner_b),
    ] {
        let events = probe.events_within(Duration::from_millis(1500)).await;
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        assert_eq!(events[0]["name"], "progress:updated", "{name}");
    }
}

#[tokio::test]
async fn course_updates_reach_the_course_room_and_malformed_messages_are_dropped() {
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let (course, _) = student_course();
    let mut probe = stack.probe(0, &stack.token(student), &[course]).await;
    probe.until("ready").await;
    let client = Builder::from_config(Config::from_url(&stack.redis_url).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    let progress = format!("{}events:progress", stack.prefix);
    let course_channel = format!("{}events:course", stack.prefix);
    for garbage in [
        "not json",
        "[]",
        "{}",
        r#"{"user_id":"x","course_id":"y"}"#,
        r#"{"course_id":"*"}"#,
    ] {
        let _: u64 = client.publish(&progress, garbage).await.unwrap();
        let _: u64 = client.publish(&course_channel, garbage).await.unwrap();
    }
    let event =
        serde_json::json!({"course_id": course.to_string(), "at": chrono::Utc::now().to_rfc3339()});
    let receivers: u64 = client
        .publish(&course_channel, event.to_string())
        .await
        .unwrap();
    assert_eq!(receivers, 1, "the node is subscribed once it has started");
    let events = probe.events_within(Duration::from_millis(1500)).await;
    assert_eq!(events.len(), 1, "only the valid event arrives: {events:?}");
    assert_eq!(events[0]["name"], "course:updated");
    assert_eq!(events[0]["data"]["course_id"], course.to_string());

    let health: Value = stack
        .http
        .get(format!("{}/health", stack.nodes[0]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["connections"], 1);
    assert!(
        health["rooms"].as_u64().unwrap() >= 2,
        "user and course rooms"
    );
    let metrics = stack
        .http
        .get(format!("{}/metrics", stack.nodes[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("realtime_events_dropped_total"));
    assert!(metrics.contains("realtime_events_in_total"));
}

#[tokio::test]
async fn a_burst_of_events_is_relayed_without_loss() {
    const BURST: usize = 3000;
    let stack = stack(1, skillup_testkit::redis_url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let mut probe = stack.probe(0, &stack.token(student), &[]).await;
    probe.until("ready").await;
    let client = Builder::from_config(Config::from_url(&stack.redis_url).expect("url"))
        .build()
        .expect("client");
    client.init().await.expect("redis");
    let channel = format!("{}events:progress", stack.prefix);
    // Far more at once than fred's default message channel (32) holds.
    let pipeline = client.pipeline();
    for i in 0..BURST {
        let event = serde_json::json!({
            "course_id": course.to_string(), "lesson_id": lesson.to_string(), "user_id": student.to_string(),
            "completed": true, "completed_lessons": i, "total_lessons": 40, "percent": 0.0,
            "at": chrono::Utc::now().to_rfc3339(),
        });
        let _: () = pipeline
            .publish(&channel, event.to_string())
            .await
            .expect("queued");
    }
    let _: Vec<u64> = pipeline.all().await.expect("published");
    let events = probe.events_within(Duration::from_secs(5)).await;
    let progress = events
        .iter()
        .filter(|e| e["name"] == "progress:updated")
        .count();
    assert_eq!(progress, BURST, "every event of the burst arrives");
    assert!(
        events.iter().all(|e| e["name"] != "resync"),
        "no lag, so no resync"
    );
}

/// The same contract over a Redis Cluster: the invalidator publishes with
/// sharded pub/sub, two realtime nodes subscribe to the shards through theirs,
/// and each socket gets the event once. A classic subscriber to the same name
/// gets nothing (the event never crossed the cluster bus), a sharded one gets
/// it, and a message another publisher sends with classic `PUBLISH` is still
/// relayed live.
#[tokio::test]
async fn over_a_redis_cluster_two_nodes_deliver_each_event_once_by_sharded_pubsub() {
    let stack = stack(2, skillup_testkit::redis_cluster_url()).await;
    let student = seed::student_id(1);
    let (course, lesson) = student_course();
    let progress = format!("{}events:progress", stack.prefix);
    let cfg = skillup_testkit::redis_config(&stack.redis_url, "unused:");
    let classic = skillup_cache::client::builder(&cfg)
        .unwrap()
        .build_subscriber_client()
        .unwrap();
    let sharded = classic.clone_new();
    classic.init().await.unwrap();
    sharded.init().await.unwrap();
    classic.subscribe(progress.as_str()).await.unwrap();
    sharded.ssubscribe(progress.as_str()).await.unwrap();
    let (mut classic_rx, mut sharded_rx) = (classic.message_rx(), sharded.message_rx());

    let mut on_a = stack.probe(0, &stack.token(student), &[]).await;
    let mut on_b = stack.probe(1, &stack.token(student), &[course]).await;
    for p in [&mut on_a, &mut on_b] {
        p.until("ready").await;
    }
    stack.put_progress(student, course, lesson, true).await;
    let message = tokio::time::timeout(Duration::from_secs(2), sharded_rx.recv())
        .await
        .expect("the sharded subscriber gets the event")
        .unwrap();
    assert_eq!(message.kind, fred::types::MessageKind::SMessage);
    assert_eq!(message.channel, progress);
    for (name, probe) in [("node A", &mut on_a), ("node B", &mut on_b)] {
        let events = probe.events_within(Duration::from_millis(1500)).await;
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        assert_progress_event(
            &events[0],
            &course.to_string(),
            &lesson.to_string(),
            &student.to_string(),
        );
    }
    assert!(
        classic_rx.try_recv().is_err(),
        "the event was broadcast with classic PUBLISH"
    );

    // Another publisher's classic PUBLISH, without an offset: relayed live.
    let publisher = skillup_cache::client::connect_now(&cfg).await.unwrap();
    let event =
        serde_json::json!({"course_id": course.to_string(), "at": chrono::Utc::now().to_rfc3339()});
    let _: u64 = publisher
        .publish(format!("{}events:course", stack.prefix), event.to_string())
        .await
        .unwrap();
    let events = on_b.events_within(Duration::from_millis(1500)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["name"], "course:updated");
    for client in [&classic, &sharded] {
        let _ = client.quit().await;
    }
}
