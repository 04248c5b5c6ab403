//! A load that read the database before a write must not store its value after
//! that write's invalidation.

use std::time::Duration;

use fred::prelude::*;
use skillup_cache::{Bytes, CacheStatus};
use skillup_common::CourseId;
use tokio::sync::oneshot;

use crate::cache;

#[tokio::test]
async fn a_fill_that_raced_an_invalidation_is_refused() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let (read_done_tx, read_done_rx) = oneshot::channel::<()>();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let reader = {
        let (cache, key) = (cache.clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    // "read the old row", then wait while a write commits and invalidates
                    let _ = read_done_tx.send(());
                    let _ = release_rx.await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"old")))
                })
                .await
        })
    };
    read_done_rx.await.unwrap();
    cache.invalidate(std::slice::from_ref(&key)).await.unwrap();
    release_tx.send(()).unwrap();
    let lookup = reader.await.unwrap().unwrap();
    assert_eq!(
        lookup.value.as_deref(),
        Some(&b"old"[..]),
        "the reader still gets its answer"
    );
    assert_eq!(
        cache.get(&key).await.unwrap(),
        None,
        "but the old value was not stored"
    );

    let fresh = cache
        .get_or_load(&key, Duration::from_secs(60), || async {
            Ok::<_, ()>(Some(Bytes::from_static(b"new")))
        })
        .await
        .unwrap();
    assert_eq!(fresh.status, CacheStatus::Miss);
    assert_eq!(
        crate::body(&cache, &key).await.as_deref(),
        Some(&b"new"[..]),
        "later fills work"
    );
}

#[tokio::test]
async fn a_page_fill_that_raced_a_listing_invalidation_is_refused() {
    assert_a_raced_page_fill_is_refused(&cache().await).await;
}

/// A listing page load that read "the database" before a write cannot store its
/// old page after the write's `invalidate_course_pages`, whether the pages share
/// a guard (single Redis) or each has its own, found by `SCAN` (cluster); and
/// the next load fills the page. `pub` so the cluster tests run it there too.
pub async fn assert_a_raced_page_fill_is_refused(cache: &skillup_cache::Cache) {
    let key = cache.keys().courses_page(1, 20);
    let (read_done_tx, read_done_rx) = oneshot::channel::<()>();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let reader = {
        let (cache, key) = (cache.clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    let _ = read_done_tx.send(());
                    let _ = release_rx.await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"old page")))
                })
                .await
        })
    };
    read_done_rx.await.expect("the loader read");
    cache.invalidate_course_pages().await.expect("invalidation");
    release_tx.send(()).expect("the loader waits");
    let lookup = reader
        .await
        .expect("reader task")
        .expect("loader does not fail");
    assert_eq!(lookup.value.as_deref(), Some(&b"old page"[..]));
    assert_eq!(lookup.status, CacheStatus::Miss, "Redis answered the fill");
    assert_eq!(
        cache.get(&key).await.expect("redis reachable"),
        None,
        "the old page was not stored"
    );

    let fresh = cache
        .get_or_load(&key, Duration::from_secs(60), || async {
            Ok::<_, ()>(Some(Bytes::from_static(b"new page")))
        })
        .await
        .expect("loader does not fail");
    assert_eq!(fresh.status, CacheStatus::Miss);
    assert_eq!(
        crate::body(cache, &key).await.as_deref(),
        Some(&b"new page"[..]),
        "later fills work"
    );
}

#[tokio::test]
async fn invalidation_detaches_a_load_in_flight_for_later_readers() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let slow = {
        let (cache, key) = (cache.clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    let _ = started_tx.send(());
                    let _ = release_rx.await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"old")))
                })
                .await
        })
    };
    started_rx.await.unwrap();
    cache.invalidate(std::slice::from_ref(&key)).await.unwrap();
    // A reader after the write must not join the old load.
    let after = cache
        .get_or_load(&key, Duration::from_secs(60), || async {
            Ok::<_, ()>(Some(Bytes::from_static(b"new")))
        })
        .await
        .unwrap();
    assert_eq!(after.value.as_deref(), Some(&b"new"[..]));
    release_tx.send(()).unwrap();
    slow.await.unwrap().unwrap();
    assert_eq!(
        crate::body(&cache, &key).await.as_deref(),
        Some(&b"new"[..])
    );
}

#[tokio::test]
async fn listing_pages_are_invalidated_together() {
    let cache = cache().await;
    for page in 1..=3 {
        let key = cache.keys().courses_page(page, 20);
        cache
            .get_or_load(&key, Duration::from_secs(60), || async {
                Ok::<_, ()>(Some(Bytes::from_static(b"p")))
            })
            .await
            .unwrap();
    }
    let course = cache.keys().course(CourseId::new_random());
    cache
        .set(&course, Bytes::from_static(b"c"), Duration::from_secs(60))
        .await
        .unwrap();
    if cache.keys().is_clustered() {
        // On a cluster each page has its own guard, made by its loader, which
        // invalidation finds with SCAN.
        for page in 1..=3 {
            let guard = cache.keys().courses_page(page, 20).guard();
            let generation: Option<String> = cache.client().get(&guard).await.unwrap();
            assert_eq!(generation.as_deref(), Some("0"), "{guard}");
        }
        assert_eq!(cache.invalidate_course_pages().await.unwrap(), 3);
        for page in 1..=3 {
            let guard = cache.keys().courses_page(page, 20).guard();
            let generation: Option<String> = cache.client().get(&guard).await.unwrap();
            assert_eq!(generation.as_deref(), Some("1"), "{guard} bumped");
        }
    } else {
        // Fills register the pages in their index set: invalidation deletes its
        // members instead of scanning the keyspace.
        let index = cache.keys().courses_pages_index();
        let registered: Vec<String> = cache.client().smembers(&index).await.unwrap();
        assert_eq!(registered.len(), 3, "{registered:?}");
        assert_eq!(cache.invalidate_course_pages().await.unwrap(), 3);
        let left: u64 = cache.client().exists(&index).await.unwrap();
        assert_eq!(left, 0, "the index goes with its pages");
    }
    for page in 1..=3 {
        assert_eq!(
            cache
                .get(&cache.keys().courses_page(page, 20))
                .await
                .unwrap(),
            None
        );
    }
    assert!(
        cache.get(&course).await.unwrap().is_some(),
        "other keys stay"
    );
}
