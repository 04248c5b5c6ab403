//! `rediss://` with a private CA (`REDIS_TLS_CA_FILE`), against a TLS-only
//! `redis-server` whose certificate a CA made at test time signed: trusted with
//! that CA, refused without it or with another one.

use std::time::Duration;

use fred::prelude::*;
use skillup_cache::{Bytes, Cache, CacheStatus};
use skillup_common::CourseId;
use skillup_testkit::{TlsRedis, unique_prefix};

async fn lookup(cache: &Cache, key: &skillup_cache::CacheKey) -> skillup_cache::Lookup {
    cache
        .get_or_load(key, Duration::from_secs(60), || async {
            Ok::<_, ()>(Some(Bytes::from_static(b"from the database")))
        })
        .await
        .expect("a redis failure is never the caller's error")
}

#[tokio::test]
async fn a_private_ca_file_lets_every_cache_operation_run_over_tls() {
    let redis = TlsRedis::start();
    let cfg = redis.config(&unique_prefix(), Some(&redis.ca_file()));
    let cache = Cache::connect(&cfg).await.expect("valid config");
    assert!(cache.ping().await.is_ok(), "connected over TLS");

    let key = cache.keys().course(CourseId::new_random());
    cache
        .set(&key, Bytes::from_static(b"v1"), Duration::from_secs(60))
        .await
        .expect("SET over TLS");
    assert_eq!(
        cache.get(&key).await.expect("GET over TLS").as_deref(),
        Some(&b"v1"[..])
    );

    let loaded = cache.keys().course(CourseId::new_random());
    assert_eq!(lookup(&cache, &loaded).await.status, CacheStatus::Miss);
    let hit = lookup(&cache, &loaded).await;
    assert_eq!(hit.status, CacheStatus::Hit);
    assert_eq!(hit.value.as_deref(), Some(&b"from the database"[..]));

    // A subscriber built the same way (as the realtime relay's is) receives
    // what the cache publishes.
    let channel = format!("{}events:test", cache.keys().prefix());
    let subscriber = skillup_cache::client::builder(&cfg)
        .expect("valid config")
        .build_subscriber_client()
        .expect("subscriber client");
    let _task = subscriber
        .init()
        .await
        .expect("subscriber connects over TLS");
    let mut messages = subscriber.message_rx();
    subscriber
        .subscribe(channel.as_str())
        .await
        .expect("SUBSCRIBE");
    let receivers = cache
        .publish(&channel, Bytes::from_static(b"hello"))
        .await
        .expect("PUBLISH over TLS");
    assert_eq!(receivers, 1);
    let message = tokio::time::timeout(Duration::from_secs(5), messages.recv())
        .await
        .expect("the message arrives")
        .expect("message stream open");
    assert_eq!(message.value.as_bytes(), Some(&b"hello"[..]));
    let _ = subscriber.quit().await;

    let deleted = cache
        .delete_pattern(&cache.keys().scoped_pattern("*"))
        .await
        .expect("SCAN + UNLINK over TLS");
    // The two entries plus the generation key the guarded fill read.
    assert!(deleted >= 2, "deleted {deleted}");
    assert_eq!(cache.get(&key).await.expect("GET"), None);
    assert_eq!(cache.get(&loaded).await.expect("GET"), None);
}

/// Without `REDIS_TLS_CA_FILE` the client trusts the system's roots, which did
/// not sign this server: no connection, and reads are served from the loader.
#[tokio::test]
async fn without_the_ca_file_the_server_is_not_trusted() {
    let redis = TlsRedis::start();
    assert_refused(&redis, None).await;
}

#[tokio::test]
async fn a_ca_that_did_not_sign_the_server_is_not_trusted() {
    let redis = TlsRedis::start();
    assert_refused(&redis, Some(&redis.other_ca_file())).await;
}

async fn assert_refused(redis: &TlsRedis, ca_file: Option<&str>) {
    let cfg = redis.config(&unique_prefix(), ca_file);
    assert!(
        skillup_cache::client::connect_now(&cfg).await.is_err(),
        "an untrusted server must not be connected to"
    );
    let cache = Cache::connect(&cfg).await.expect("valid config");
    assert!(cache.ping().await.is_err());
    let key = cache.keys().course(CourseId::new_random());
    for _ in 0..2 {
        let answer = lookup(&cache, &key).await;
        assert_eq!(answer.status, CacheStatus::Bypass);
        assert_eq!(answer.value.as_deref(), Some(&b"from the database"[..]));
    }
}
