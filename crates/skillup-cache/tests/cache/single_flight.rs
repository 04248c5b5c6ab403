use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use skillup_cache::{Bytes, CacheStatus};
use skillup_common::CourseId;

use crate::{cache, cache_at};

async fn burst(cache: &skillup_cache::Cache, n: usize) -> (usize, Vec<skillup_cache::Lookup>) {
    let key = cache.keys().course(CourseId::new_random());
    let loads = Arc::new(AtomicUsize::new(0));
    let lookups = join_all((0..n).map(|_| {
        let loads = loads.clone();
        let key = key.clone();
        async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"loaded")))
                })
                .await
                .expect("loader never fails here")
        }
    }))
    .await;
    (loads.load(Ordering::SeqCst), lookups)
}

#[tokio::test]
async fn a_hundred_concurrent_misses_make_one_load() {
    let cache = cache().await;
    let (loads, lookups) = burst(&cache, 100).await;
    assert_eq!(loads, 1);
    assert!(
        lookups
            .iter()
            .all(|l| l.value.as_deref() == Some(&b"loaded"[..]))
    );
    assert!(lookups.iter().all(|l| l.status == CacheStatus::Miss));
}

#[tokio::test]
async fn single_flight_holds_while_redis_is_down() {
    let cache = cache_at(&skillup_testkit::dead_redis_url()).await;
    let (loads, lookups) = burst(&cache, 100).await;
    assert_eq!(loads, 1);
    assert!(lookups.iter().all(|l| l.status == CacheStatus::Bypass));
}

#[tokio::test]
async fn a_burst_on_many_threads_still_makes_one_load() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (cache, key, loads) = (cache.clone(), key.clone(), loads.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(&key, Duration::from_secs(60), move || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, ()>(Some(Bytes::from_static(b"x")))
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}
