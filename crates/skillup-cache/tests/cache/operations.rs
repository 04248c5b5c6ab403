use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fred::prelude::*;
use skillup_cache::{Bytes, CacheStatus};
use skillup_common::CourseId;

use crate::cache;

#[tokio::test]
async fn set_applies_the_ttl() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    cache
        .set(&key, Bytes::from_static(b"{}"), Duration::from_secs(5))
        .await
        .unwrap();
    let pttl: i64 = cache.client().pttl(key.as_str()).await.unwrap();
    assert!((4_000..=5_000).contains(&pttl), "pttl {pttl}");
}

#[tokio::test]
async fn get_or_load_fills_with_the_given_ttl() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    cache
        .get_or_load(&key, Duration::from_secs(90), || async {
            Ok::<_, ()>(Some(Bytes::from_static(b"1")))
        })
        .await
        .unwrap();
    // Fresh for 90 s less up to a tenth (the spread); kept by Redis for the
    // stale window more.
    let entry = cache.stored(&key).await.unwrap().unwrap();
    let fresh_ms = entry.fresh_until - skillup_cache::envelope::now_ms();
    assert!(
        (80_900..=90_000).contains(&fresh_ms),
        "fresh for {fresh_ms} ms"
    );
    let window = skillup_testkit::redis_config(&skillup_testkit::redis_url(), "x").stale_window;
    let window_ms = u64::try_from(window.as_millis()).unwrap();
    let pttl: i64 = cache.client().pttl(key.as_str()).await.unwrap();
    let pttl = u64::try_from(pttl).unwrap();
    assert!(pttl.abs_diff(fresh_ms + window_ms) < 1_000, "pttl {pttl}");
}

#[tokio::test]
async fn get_or_load_misses_then_hits_and_loads_once() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let loads = Arc::new(AtomicUsize::new(0));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let loads = loads.clone();
        let lookup = cache
            .get_or_load(&key, Duration::from_secs(60), move || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(Some(Bytes::from_static(b"{\"v\":1}")))
            })
            .await
            .unwrap();
        assert_eq!(lookup.value.as_deref(), Some(&b"{\"v\":1}"[..]));
        statuses.push(lookup.status);
    }
    assert_eq!(
        statuses,
        [CacheStatus::Miss, CacheStatus::Hit, CacheStatus::Hit]
    );
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    let counters = cache.counters();
    assert_eq!((counters.hits, counters.misses, counters.errors), (2, 1, 0));
}

#[tokio::test]
async fn a_loader_answer_of_none_is_not_stored() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let lookup = cache
        .get_or_load(&key, Duration::from_secs(60), || async {
            Ok::<_, ()>(None)
        })
        .await
        .unwrap();
    assert_eq!(lookup.value, None);
    assert_eq!(cache.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn loader_errors_reach_the_caller_and_store_nothing() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let err = cache
        .get_or_load(&key, Duration::from_secs(60), || async {
            Err::<Option<Bytes>, _>("db down")
        })
        .await
        .unwrap_err();
    assert_eq!(*err, "db down");
    assert_eq!(cache.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn delete_pattern_removes_thousands_of_keys_and_only_its_pattern() {
    let cache = cache().await;
    let other = crate::cache().await; // another prefix on the same server
    let prefix = cache.keys().prefix().to_owned();
    let client = cache.client();
    for i in 0..3000 {
        let _: () = client
            .set(
                format!("{prefix}courses:published:{i}:20"),
                "x",
                None,
                None,
                false,
            )
            .await
            .unwrap();
    }
    for i in 0..300 {
        let _: () = client
            .set(format!("{prefix}course:{i}"), "x", None, None, false)
            .await
            .unwrap();
        let _: () = client
            .set(
                format!("{}courses:published:{i}:20", other.keys().prefix()),
                "x",
                None,
                None,
                false,
            )
            .await
            .unwrap();
    }
    let deleted = cache
        .delete_pattern(&cache.keys().courses_pages_pattern())
        .await
        .unwrap();
    assert_eq!(deleted, 3000);
    let left = cache
        .scan_keys(&cache.keys().scoped_pattern("*"), usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        left.len(),
        300,
        "only course:* keys remain under the prefix"
    );
    assert!(
        left.iter()
            .all(|k| k.starts_with(&format!("{prefix}course:")))
    );
    let untouched = other
        .scan_keys(&other.keys().scoped_pattern("*"), usize::MAX)
        .await
        .unwrap();
    assert_eq!(untouched.len(), 300, "another prefix is never touched");
    cache
        .delete_pattern(&cache.keys().scoped_pattern("*"))
        .await
        .unwrap();
    other
        .delete_pattern(&other.keys().scoped_pattern("*"))
        .await
        .unwrap();
}

#[tokio::test]
async fn stats_report_server_figures() {
    let cache = cache().await;
    let info = cache.info().await.unwrap();
    assert!(info.used_memory > 0);
    assert!(!info.used_memory_human.is_empty());
    assert!(info.connected_clients >= 1);
    assert!(cache.ping().await.unwrap() < Duration::from_secs(1));
}
