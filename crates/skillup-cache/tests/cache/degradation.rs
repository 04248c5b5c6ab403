//! Redis down, slow or gone and back: callers get the loader's answer, never an error.

use std::time::{Duration, Instant};

use skillup_cache::{Bytes, CacheStatus};
use skillup_common::CourseId;
use skillup_testkit::{PrivateRedis, dead_redis_url, eventually, signal};

use crate::cache_at;

async fn load(
    cache: &skillup_cache::Cache,
    key: &skillup_cache::CacheKey,
) -> skillup_cache::Lookup {
    cache
        .get_or_load(key, Duration::from_secs(60), || async {
            Ok::<_, ()>(Some(Bytes::from_static(b"db")))
        })
        .await
        .expect("a redis outage is never the caller's error")
}

#[tokio::test]
async fn a_dead_port_bypasses_quickly() {
    let cache = cache_at(&dead_redis_url()).await;
    let key = cache.keys().course(CourseId::new_random());
    let start = Instant::now();
    for _ in 0..20 {
        let lookup = load(&cache, &key).await;
        assert_eq!(lookup.value.as_deref(), Some(&b"db"[..]));
        assert_eq!(lookup.status, CacheStatus::Bypass);
    }
    // Disconnected calls are refused without waiting on the network: 20 lookups
    // take far less than one command timeout each (a loose bound, not a benchmark).
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert!(cache.ping().await.is_err());
    assert!(cache.counters().errors >= 20);
}

#[tokio::test]
async fn redis_stopped_then_restarted_is_picked_up_again() {
    let mut redis = PrivateRedis::start();
    let cache = cache_at(&redis.url()).await;
    let key = cache.keys().course(CourseId::new_random());
    assert_eq!(load(&cache, &key).await.status, CacheStatus::Miss);
    assert_eq!(load(&cache, &key).await.status, CacheStatus::Hit);

    redis.stop();
    assert!(
        eventually(Duration::from_secs(5), || async {
            load(&cache, &key).await.status == CacheStatus::Bypass
        })
        .await,
        "lookups bypass while redis is down"
    );
    let lookup = load(&cache, &key).await;
    assert_eq!(lookup.value.as_deref(), Some(&b"db"[..]));

    redis.restart();
    assert!(
        eventually(Duration::from_secs(10), || async {
            cache.ping().await.is_ok()
        })
        .await,
        "the client reconnects by itself"
    );
    // The restarted server is empty: a miss fills it, then hits resume.
    assert_eq!(load(&cache, &key).await.status, CacheStatus::Miss);
    assert_eq!(load(&cache, &key).await.status, CacheStatus::Hit);
}

#[tokio::test]
async fn a_cache_started_while_redis_is_down_connects_when_it_appears() {
    let mut redis = PrivateRedis::start();
    redis.stop();
    let cache = cache_at(&redis.url()).await;
    let key = cache.keys().course(CourseId::new_random());
    assert_eq!(load(&cache, &key).await.status, CacheStatus::Bypass);
    redis.restart();
    assert!(
        eventually(Duration::from_secs(10), || async {
            cache.ping().await.is_ok()
        })
        .await
    );
    assert_eq!(load(&cache, &key).await.status, CacheStatus::Miss);
}

#[tokio::test]
async fn a_redis_that_stops_answering_is_treated_as_down() {
    let redis = PrivateRedis::start();
    let cache = cache_at(&redis.url()).await;
    let key = cache.keys().course(CourseId::new_random());
    assert_eq!(load(&cache, &key).await.status, CacheStatus::Miss);
    // Freeze the server (SIGSTOP): the connection stays open but nothing answers.
    let pid = redis_pid(&cache).await;
    signal(pid, "STOP");
    let start = Instant::now();
    let lookup = load(&cache, &key).await;
    signal(pid, "CONT");
    assert_eq!(lookup.status, CacheStatus::Bypass);
    assert_eq!(lookup.value.as_deref(), Some(&b"db"[..]));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "bounded by the command timeout, took {:?}",
        start.elapsed()
    );
}

async fn redis_pid(cache: &skillup_cache::Cache) -> u32 {
    use fred::prelude::*;
    let info: String = cache
        .client()
        .info(Some(fred::types::InfoKind::Server))
        .await
        .expect("redis reachable");
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("INFO server has process_id")
}
