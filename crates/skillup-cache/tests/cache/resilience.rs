//! Riding out database failures and cold starts: STALE answers, the lease that
//! makes one load across processes, spread TTLs and cached absences.
//!
//! "Processes" here are separate `Cache`s: each has its own Redis connection
//! and its own single-flight table, as two API processes do. The API suite runs
//! the same burst against two real API processes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fred::prelude::*;
use futures_util::future::join_all;
use skillup_cache::{Bytes, Cache, CacheKey, CacheStatus, Lookup};
use skillup_common::CourseId;
use skillup_testkit::{redis_config, redis_url, unique_prefix};
use tokio::sync::oneshot;

use crate::cache;

const SHORT: Duration = Duration::from_millis(150);

async fn fill(cache: &Cache, key: &CacheKey, ttl: Duration, body: &'static [u8]) -> Lookup {
    cache
        .get_or_load(key, ttl, || async {
            Ok::<_, ()>(Some(Bytes::from_static(body)))
        })
        .await
        .expect("the loader does not fail")
}

async fn failing_load(cache: &Cache, key: &CacheKey) -> Result<Lookup, Arc<&'static str>> {
    cache
        .get_or_load(key, SHORT, || async {
            Err::<Option<Bytes>, _>("database down")
        })
        .await
}

#[tokio::test]
async fn an_expired_entry_answers_stale_while_the_loader_fails() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let filled = fill(&cache, &key, SHORT, b"last good").await;
    assert_eq!(
        failing_load(&cache, &key).await.unwrap().status,
        CacheStatus::Hit
    );
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;

    let stale = failing_load(&cache, &key).await.unwrap();
    assert_eq!(stale.status, CacheStatus::Stale);
    assert_eq!(stale.value.as_deref(), Some(&b"last good"[..]));
    assert_eq!(stale.etag, filled.etag, "the tag of the value served");

    let refilled = fill(&cache, &key, SHORT, b"new").await;
    assert_eq!(
        refilled.status,
        CacheStatus::Miss,
        "a working load replaces it"
    );
    assert_eq!(refilled.value.as_deref(), Some(&b"new"[..]));
}

#[tokio::test]
async fn an_invalidated_entry_is_never_served_stale() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    fill(&cache, &key, SHORT, b"old").await;
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    cache.invalidate(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(
        *failing_load(&cache, &key).await.unwrap_err(),
        "database down"
    );
}

#[tokio::test]
async fn an_invalidation_during_the_failing_load_wins_over_the_stale_value() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    fill(&cache, &key, SHORT, b"old").await;
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let (fail_tx, fail_rx) = oneshot::channel::<()>();
    let reader = {
        let (cache, key) = (cache.clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, SHORT, move || async move {
                    let _ = started_tx.send(());
                    let _ = fail_rx.await;
                    Err::<Option<Bytes>, _>("database down")
                })
                .await
        })
    };
    started_rx.await.unwrap();
    cache.invalidate(std::slice::from_ref(&key)).await.unwrap();
    fail_tx.send(()).unwrap();
    assert!(
        reader.await.unwrap().is_err(),
        "the stale copy in hand was invalidated"
    );
}

#[tokio::test]
async fn a_load_slower_than_the_soft_timeout_answers_stale_then_fills_in_the_background() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    fill(&cache, &key, SHORT, b"old").await;
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    let started = Instant::now();
    let lookup = cache
        .get_or_load(&key, Duration::from_secs(60), || async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok::<_, ()>(Some(Bytes::from_static(b"slow but new")))
        })
        .await
        .unwrap();
    assert_eq!(lookup.status, CacheStatus::Stale);
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    let filled = skillup_testkit::eventually(Duration::from_secs(5), || async {
        cache
            .stored(&key)
            .await
            .unwrap()
            .and_then(|e| e.body)
            .as_deref()
            == Some(&b"slow but new"[..])
    })
    .await;
    assert!(filled, "the load went on and filled the entry");
}

#[tokio::test]
async fn without_a_last_value_a_failing_load_is_an_error() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    assert!(failing_load(&cache, &key).await.is_err());
}

#[tokio::test]
async fn with_the_stale_window_off_an_expired_entry_is_not_served() {
    let mut cfg = redis_config(&redis_url(), &unique_prefix());
    cfg.stale_window = Duration::ZERO;
    let cache = Cache::connect(&cfg).await.unwrap();
    let key = cache.keys().course(CourseId::new_random());
    fill(&cache, &key, SHORT, b"old").await;
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    assert!(failing_load(&cache, &key).await.is_err());
}

#[tokio::test]
async fn stored_ttls_are_spread_over_the_last_tenth() {
    let cache = cache().await;
    let ttl = Duration::from_secs(1000);
    let window = redis_config(&redis_url(), "x").stale_window;
    let mut fresh_for = Vec::new();
    for _ in 0..200 {
        let key = cache.keys().course(CourseId::new_random());
        fill(&cache, &key, ttl, b"x").await;
        let entry = cache.stored(&key).await.unwrap().unwrap();
        let left = Duration::from_millis(entry.fresh_until - skillup_cache::envelope::now_ms());
        let pttl: i64 = cache.client().pttl(key.as_str()).await.unwrap();
        let physical = Duration::from_millis(u64::try_from(pttl).unwrap());
        assert!(
            physical <= ttl + window
                && physical >= ttl.mul_f64(0.9) + window - Duration::from_secs(1)
        );
        assert!(
            left <= ttl && left >= ttl.mul_f64(0.9) - Duration::from_secs(1),
            "{left:?}"
        );
        fresh_for.push(left.as_secs());
    }
    fresh_for.sort_unstable();
    fresh_for.dedup();
    assert!(
        fresh_for.len() > 20,
        "spread over many seconds, not one: {fresh_for:?}"
    );
}

#[tokio::test]
async fn an_absence_is_cached_until_an_invalidation() {
    let cache = cache().await;
    let key = cache.keys().course(CourseId::new_random());
    let loads = Arc::new(AtomicUsize::new(0));
    let lookup = |found: &'static [u8]| {
        let (cache, key, loads) = (cache.clone(), key.clone(), loads.clone());
        async move {
            cache
                .get_or_load_caching_absence(&key, Duration::from_secs(60), move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>((!found.is_empty()).then(|| Bytes::from_static(found)))
                })
                .await
                .unwrap()
        }
    };
    let first = lookup(b"").await;
    assert_eq!((first.value, first.status), (None, CacheStatus::Miss));
    let second = lookup(b"").await;
    assert_eq!(
        (second.value, second.etag, second.status),
        (None, None, CacheStatus::Hit)
    );
    assert_eq!(loads.load(Ordering::SeqCst), 1, "the repeat did not load");
    let pttl: i64 = cache.client().pttl(key.as_str()).await.unwrap();
    assert!(pttl <= 60_000, "an absence keeps no stale window: {pttl}");

    cache.invalidate(std::slice::from_ref(&key)).await.unwrap();
    let created = lookup(b"{\"now\":\"exists\"}").await;
    assert_eq!(created.status, CacheStatus::Miss);
    assert!(created.value.is_some());
    assert_eq!(loads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn absences_are_not_cached_unless_asked() {
    let cache = cache().await;
    let key = cache.keys().user(skillup_common::UserId::new_random());
    for _ in 0..2 {
        let lookup = cache
            .get_or_load(&key, Duration::from_secs(60), || async {
                Ok::<_, ()>(None)
            })
            .await
            .unwrap();
        assert_eq!(lookup.status, CacheStatus::Miss);
    }
    assert_eq!(cache.get(&key).await.unwrap(), None);
}

/// Caches on one prefix with their own connections and single flights.
async fn processes(n: usize) -> Vec<Cache> {
    let cfg = redis_config(&redis_url(), &unique_prefix());
    let mut caches = Vec::new();
    for _ in 0..n {
        caches.push(Cache::connect(&cfg).await.expect("valid config"));
    }
    caches
}

#[tokio::test]
async fn a_burst_of_misses_across_processes_makes_one_load() {
    let caches = processes(2).await;
    let key = caches[0].keys().course(CourseId::new_random());
    let loads = Arc::new(AtomicUsize::new(0));
    let lookups = join_all((0..40).map(|i| {
        let (cache, key, loads) = (caches[i % 2].clone(), key.clone(), loads.clone());
        async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"loaded once")))
                })
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert!(
        lookups
            .iter()
            .all(|l| l.value.as_deref() == Some(&b"loaded once"[..]))
    );
    assert!(lookups.iter().all(|l| l.etag == lookups[0].etag));
}

#[tokio::test]
async fn when_the_lease_holder_dies_mid_load_another_process_loads() {
    let caches = processes(2).await;
    let key = caches[0].keys().course(CourseId::new_random());
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let holder = {
        let (cache, key) = (caches[0].clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    let _ = started_tx.send(());
                    std::future::pending::<()>().await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"never")))
                })
                .await
        })
    };
    started_rx.await.unwrap();
    holder.abort();
    let started = Instant::now();
    let lookup = fill(&caches[1], &key, Duration::from_secs(60), b"taken over").await;
    assert_eq!(lookup.value.as_deref(), Some(&b"taken over"[..]));
    assert_eq!(lookup.status, CacheStatus::Miss);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(2500),
        "bounded by the lease TTL: {waited:?}"
    );
}

#[tokio::test]
async fn a_waiter_never_takes_a_fill_that_raced_a_write() {
    let caches = processes(2).await;
    let key = caches[0].keys().course(CourseId::new_random());
    let (read_tx, read_rx) = oneshot::channel::<()>();
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let holder = {
        let (cache, key) = (caches[0].clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    let _ = read_tx.send(());
                    let _ = go_rx.await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"old")))
                })
                .await
        })
    };
    read_rx.await.unwrap();
    let waiter = {
        let (cache, key) = (caches[1].clone(), key.clone());
        tokio::spawn(async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), || async {
                    Ok::<_, ()>(Some(Bytes::from_static(b"new")))
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    caches[0]
        .invalidate(std::slice::from_ref(&key))
        .await
        .unwrap();
    go_tx.send(()).unwrap();
    assert_eq!(
        holder.await.unwrap().unwrap().value.as_deref(),
        Some(&b"old"[..])
    );
    assert_eq!(
        waiter.await.unwrap().unwrap().value.as_deref(),
        Some(&b"new"[..])
    );
    let stored = caches[1].stored(&key).await.unwrap().and_then(|e| e.body);
    assert_eq!(stored.as_deref(), Some(&b"new"[..]));
}

#[tokio::test]
async fn with_leases_off_each_process_loads_on_its_own() {
    let mut cfg = redis_config(&redis_url(), &unique_prefix());
    cfg.lease = Duration::ZERO;
    let caches = [
        Cache::connect(&cfg).await.unwrap(),
        Cache::connect(&cfg).await.unwrap(),
    ];
    let key = caches[0].keys().course(CourseId::new_random());
    let loads = Arc::new(AtomicUsize::new(0));
    join_all(caches.iter().map(|cache| {
        let (key, loads) = (key.clone(), loads.clone());
        async move {
            cache
                .get_or_load(&key, Duration::from_secs(60), move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, ()>(Some(Bytes::from_static(b"x")))
                })
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(
        loads.load(Ordering::SeqCst),
        2,
        "the lease is what makes it one"
    );
}
