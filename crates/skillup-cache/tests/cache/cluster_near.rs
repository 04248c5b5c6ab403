//! The near cache on a Redis Cluster: every primary's connection tracks the
//! reads routed through it and every primary must prove it, so L1 stays as
//! fresh as on a single Redis, through concurrent writers on every primary, a
//! frozen primary, a killed connection and a slot moving between primaries
//! (`MOVED` after it migrated).

use std::time::Duration;

use fred::prelude::*;
use skillup_cache::{Bytes, Cache, CacheKey, CacheStatus};
use skillup_common::CourseId;
use skillup_testkit::{RedisCluster, eventually, redis_cluster_url, signal, unique_prefix};

use crate::cluster::primaries;
use crate::near::{
    MAX_LAG, assert_l1s_agree_after_concurrent_writes, near_cache_at, other_client, read,
    read_value,
};

/// The primary that serves `key` now, as the cache's routing table says.
fn owner(cache: &Cache, key: &CacheKey) -> String {
    let slot = fred::util::redis_keyslot(key.as_str().as_bytes());
    cache
        .client()
        .cached_cluster_state()
        .and_then(|state| state.get_server(slot).cloned())
        .expect("a routing table")
        .to_string()
}

/// A key of a course on each primary.
fn keys_on_every_primary(cache: &Cache, per_primary: usize) -> Vec<CacheKey> {
    let mut by_owner: std::collections::BTreeMap<String, Vec<CacheKey>> = Default::default();
    while by_owner.len() < RedisCluster::PRIMARIES
        || by_owner.values().any(|keys| keys.len() < per_primary)
    {
        let key = cache.keys().course(CourseId::new_random());
        let keys = by_owner.entry(owner(cache, &key)).or_default();
        if keys.len() < per_primary {
            keys.push(key);
        }
    }
    by_owner.into_values().flatten().collect()
}

/// Reads `key` until L1 answers it (the first read of a stored value fills L1).
async fn held_in_l1(cache: &Cache, key: &CacheKey) {
    let before = cache.counters().near_hits;
    assert!(
        eventually(Duration::from_secs(5), || async {
            read(cache, key).await;
            cache.counters().near_hits > before
        })
        .await,
        "L1 answers {key:?}"
    );
}

/// A private cluster (its nodes are frozen, cut or resharded by the caller), a
/// near cache on it, and a key stored as `value` that L1 holds.
async fn held_on_a_private_cluster(value: &'static str) -> (RedisCluster, Cache, CacheKey) {
    let cluster = RedisCluster::start();
    let cache = near_cache_at(&cluster.url(), &unique_prefix()).await;
    let key = cache.keys().course(CourseId::new_random());
    cache
        .set(
            &key,
            Bytes::from_static(value.as_bytes()),
            Duration::from_secs(60),
        )
        .await
        .expect("set");
    held_in_l1(&cache, &key).await;
    (cluster, cache, key)
}

/// Stores `value` under `key` and waits until `cache` answers it; then no read
/// may answer anything else (an old value coming back is a stale L1 entry).
async fn write_and_see(writer: &Client, cache: &Cache, key: &CacheKey, value: &str) {
    let _: () = writer
        .set(key.as_str(), value, None, None, false)
        .await
        .expect("set");
    assert!(
        eventually(MAX_LAG + Duration::from_secs(1), || async {
            read_value(cache, key).await == value.as_bytes()
        })
        .await,
        "{key:?} never answered {value}"
    );
    for _ in 0..20 {
        assert_eq!(read_value(cache, key).await, value.as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_l1s_agree_with_the_cluster_after_concurrent_writers_on_every_primary() {
    let prefix = unique_prefix();
    let mut caches = Vec::new();
    for _ in 0..3 {
        caches.push(near_cache_at(&redis_cluster_url(), &prefix).await);
    }
    let keys = keys_on_every_primary(&caches[0], 3);
    assert_l1s_agree_after_concurrent_writes(&caches, keys, &redis_cluster_url()).await;
}

#[tokio::test]
async fn a_change_on_any_primary_replaces_the_l1_value() {
    let cache = near_cache_at(&redis_cluster_url(), &unique_prefix()).await;
    let writer = other_client(&redis_cluster_url()).await;
    for key in keys_on_every_primary(&cache, 1) {
        write_and_see(&writer, &cache, &key, "v1").await;
        held_in_l1(&cache, &key).await;
        write_and_see(&writer, &cache, &key, "v2").await;
    }
}

#[tokio::test]
async fn a_frozen_primary_turns_l1_off_within_the_max_lag() {
    let (_cluster, cache, key) = held_on_a_private_cluster("cached").await;

    // Freeze a primary that does not hold the key: L1 answers for no primary
    // while one of them cannot prove its pushes arrive.
    let nodes = primaries(&cache).await;
    let (_, frozen) = nodes
        .iter()
        .find(|(server, _)| *server != owner(&cache, &key))
        .expect("another primary");
    let pid = process_id(frozen).await;
    signal(pid, "STOP");
    tokio::time::sleep(MAX_LAG + Duration::from_millis(200)).await;
    let ready = cache.near_cache_ready();
    let lookup = read(&cache, &key).await;
    signal(pid, "CONT");
    assert!(!ready, "L1 stays on with a frozen primary");
    assert_ne!(lookup.status, CacheStatus::Miss);
    assert!(
        eventually(Duration::from_secs(10), || async {
            cache.near_cache_ready()
        })
        .await,
        "L1 comes back with the primary"
    );
}

#[tokio::test]
async fn a_killed_connection_to_a_primary_leaves_no_stale_l1_entry() {
    let (_cluster, cache, key) = held_on_a_private_cluster("before").await;

    // Kill every other connection to the key's primary, ours included, then
    // change the key there at once: the push for it had no connection to go to.
    let nodes = primaries(&cache).await;
    let (_, node) = nodes
        .iter()
        .find(|(server, _)| *server == owner(&cache, &key))
        .expect("the key's primary");
    let _: Value = node
        .custom(
            fred::cmd!("CLIENT"),
            vec!["KILL", "TYPE", "normal", "SKIPME", "yes"],
        )
        .await
        .expect("CLIENT KILL");
    let _: () = node
        .set(key.as_str(), "after", None, None, false)
        .await
        .expect("set");
    assert!(
        eventually(MAX_LAG + Duration::from_secs(1), || async {
            read_value(&cache, &key).await == b"after"[..]
        })
        .await,
        "the reconnect must empty L1"
    );
    held_in_l1(&cache, &key).await;
    assert_eq!(read_value(&cache, &key).await, &b"after"[..]);
}

#[tokio::test]
async fn a_slot_moving_to_another_primary_leaves_no_stale_l1_entry() {
    let cluster = RedisCluster::start();
    let cache = near_cache_at(&cluster.url(), &unique_prefix()).await;
    let writer = other_client(&cluster.url()).await;
    let key = cache.keys().course(CourseId::new_random());
    write_and_see(&writer, &cache, &key, "v1").await;
    held_in_l1(&cache, &key).await;

    let nodes = primaries(&cache).await;
    let source_addr = owner(&cache, &key);
    let (_, source) = nodes
        .iter()
        .find(|(s, _)| *s == source_addr)
        .expect("source");
    let (target_addr, target) = nodes
        .iter()
        .find(|(s, _)| *s != source_addr)
        .expect("target");
    let slot = fred::util::redis_keyslot(key.as_str().as_bytes());
    let source_id: String = source.cluster_myid().await.expect("MYID");
    let target_id: String = target.cluster_myid().await.expect("MYID");

    // Migration: the key leaves the source (its MIGRATE deletes it there, which
    // pushes an invalidation). Nothing reads the slot meanwhile: fred 10.1 fails
    // commands that get ASK (it reads the ASKING reply off a connection whose
    // reader task owns the replies: "Max attempts reached"), so a read of a slot
    // in migration answers from the database, never from L1 (docs/cache.md).
    setslot(target, slot, "IMPORTING", &source_id).await;
    setslot(source, slot, "MIGRATING", &target_id).await;
    let (host, port) = target_addr.rsplit_once(':').expect("host:port");
    let _: Value = source
        .custom(
            fred::cmd!("MIGRATE"),
            vec![host, port, "", "0", "5000", "KEYS", key.as_str()],
        )
        .await
        .expect("MIGRATE");
    // The slot is the target's now: the next read gets MOVED, and fred's resync
    // empties L1 before it answers again.
    for (_, node) in &nodes {
        setslot(node, slot, "NODE", &target_id).await;
    }
    write_and_see(&writer, &cache, &key, "v2").await;
    held_in_l1(&cache, &key).await;
    assert_eq!(owner(&cache, &key), *target_addr, "the routing table moved");
    write_and_see(&writer, &cache, &key, "v3").await;
}

/// `CLUSTER SETSLOT slot state node` on `node` (fred's `cluster_setslot` sends
/// IMPORTING and MIGRATING without the node id Redis requires).
async fn setslot(node: &Client, slot: u16, state: &str, id: &str) {
    let slot = slot.to_string();
    let _: Value = node
        .custom(
            fred::cmd!("CLUSTER"),
            vec!["SETSLOT", slot.as_str(), state, id],
        )
        .await
        .unwrap_or_else(|e| panic!("CLUSTER SETSLOT {slot} {state}: {e}"));
}

/// The pid of the `redis-server` behind `node`.
async fn process_id(node: &Client) -> u32 {
    let info: String = node
        .info(Some(fred::types::InfoKind::Server))
        .await
        .expect("INFO server");
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .expect("INFO lists process_id")
}
