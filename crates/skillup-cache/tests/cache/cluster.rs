//! The cache on a Redis Cluster of three primaries (`skillup_testkit::RedisCluster`,
//! shared by the tests of this binary under their own prefixes, or the cluster
//! `TEST_REDIS_CLUSTER_URL` names). Each node is also looked at directly, through a
//! plain connection to it, so "on every primary" is checked where the keys live.

use std::time::Duration;

use fred::prelude::*;
use skillup_cache::{Bytes, Cache, CacheStatus};
use skillup_common::CourseId;
use skillup_testkit::{RedisCluster, redis_cluster_url, redis_config, unique_prefix};

use crate::stale_fills::assert_a_raced_page_fill_is_refused;

async fn cluster_cache(prefix: &str) -> Cache {
    let cache = Cache::connect(&redis_config(&redis_cluster_url(), prefix))
        .await
        .expect("valid config");
    assert!(cache.client().is_clustered());
    assert!(cache.keys().is_clustered());
    cache
}

/// A plain (non-cluster) connection to each primary, with its address.
pub(crate) async fn primaries(cache: &Cache) -> Vec<(String, Client)> {
    let mut out = Vec::new();
    for (server, _) in cache.info_by_node().await.expect("INFO of every primary") {
        let config = Config::from_url(&format!("redis://{server}")).expect("node url");
        let client = Builder::from_config(config).build().expect("client builds");
        client.init().await.expect("node reachable");
        out.push((server, client));
    }
    assert_eq!(out.len(), RedisCluster::PRIMARIES);
    out
}

/// The keys matching `pattern` that the node itself holds (`SCAN` on it alone).
async fn keys_on(node: &Client, pattern: &str) -> Vec<String> {
    use fred::types::scan::Scanner;
    use futures_util::StreamExt;
    let mut found = Vec::new();
    let mut pages = node.scan(pattern, Some(1000), None);
    while let Some(page) = pages.next().await {
        let mut page = page.expect("scan");
        found.extend(
            page.take_results()
                .unwrap_or_default()
                .into_iter()
                .map(|k| k.as_str_lossy().into_owned()),
        );
        page.next();
    }
    found
}

/// How many keys under `prefix` each primary holds, in `primaries` order.
async fn spread(nodes: &[(String, Client)], prefix: &str) -> Vec<usize> {
    let mut counts = Vec::new();
    for (_, node) in nodes {
        counts.push(keys_on(node, &format!("{prefix}*")).await.len());
    }
    counts
}

#[tokio::test]
async fn keys_of_one_prefix_land_on_every_primary() {
    let cache = cluster_cache(&unique_prefix()).await;
    let prefix = cache.keys().prefix().to_owned();
    for _ in 0..60 {
        let key = cache.keys().course(CourseId::new_random());
        cache
            .set(&key, Bytes::from_static(b"{}"), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let counts = spread(&primaries(&cache).await, &prefix).await;
    assert_eq!(counts.iter().sum::<usize>(), 60, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "every primary holds some: {counts:?}"
    );
    let all = cache
        .scan_keys(&cache.keys().scoped_pattern("*"), usize::MAX)
        .await
        .unwrap();
    assert_eq!(all.len(), 60, "scan_keys covers every primary");
}

#[tokio::test]
async fn delete_pattern_removes_keys_on_every_primary_and_only_its_pattern() {
    let cache = cluster_cache(&unique_prefix()).await;
    let prefix = cache.keys().prefix().to_owned();
    // A longer prefix that the first one is a prefix of: never touched.
    let other = cluster_cache(&format!("{prefix}x:")).await;
    for i in 0..500 {
        let _: () = cache
            .client()
            .set(format!("{prefix}course:{i}"), "x", None, None, false)
            .await
            .unwrap();
        let _: () = cache
            .client()
            .set(format!("{prefix}user:{i}"), "x", None, None, false)
            .await
            .unwrap();
    }
    let _: () = other
        .client()
        .set(format!("{prefix}x:course:1"), "x", None, None, false)
        .await
        .unwrap();
    let nodes = primaries(&cache).await;
    let before: Vec<usize> = {
        let mut counts = Vec::new();
        for (_, node) in &nodes {
            counts.push(keys_on(node, &format!("{prefix}course:*")).await.len());
        }
        counts
    };
    assert!(before.iter().all(|&n| n > 0), "{before:?}");

    // One SCAN page holds keys of many slots: UNLINK must go slot by slot.
    let deleted = cache
        .delete_pattern(&cache.keys().scoped_pattern("course:*"))
        .await
        .unwrap();
    assert_eq!(deleted, 500);
    for (server, node) in &nodes {
        assert!(
            keys_on(node, &format!("{prefix}course:*")).await.is_empty(),
            "{server} still holds course keys"
        );
    }
    assert_eq!(
        spread(&nodes, &format!("{prefix}user:"))
            .await
            .iter()
            .sum::<usize>(),
        500,
        "other patterns stay"
    );
    assert_eq!(
        other
            .scan_keys(&other.keys().scoped_pattern("*"), usize::MAX)
            .await
            .unwrap()
            .len(),
        1,
        "a longer prefix is not the pattern's"
    );
    cache
        .delete_pattern(&cache.keys().scoped_pattern("*"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_page_fill_that_raced_a_listing_invalidation_is_refused_on_a_cluster() {
    let cache = cluster_cache(&unique_prefix()).await;
    assert_a_raced_page_fill_is_refused(&cache).await;
}

#[tokio::test]
async fn invalidate_course_pages_deletes_pages_on_every_primary() {
    let cache = cluster_cache(&unique_prefix()).await;
    let prefix = cache.keys().prefix().to_owned();
    let other = cluster_cache(&format!("{prefix}x:")).await;
    const PAGES: u32 = 30;
    for page in 1..=PAGES {
        for c in [&cache, &other] {
            let key = c.keys().courses_page(page, 20);
            let lookup = c
                .get_or_load(&key, Duration::from_secs(60), || async {
                    Ok::<_, ()>(Some(Bytes::from_static(b"page")))
                })
                .await
                .unwrap();
            assert_eq!(lookup.status, CacheStatus::Miss);
        }
    }
    // A page stored without its loader's guard (an unconditional set): found by
    // the scan all the same.
    let unguarded = cache.keys().courses_page(1, 50);
    cache
        .set(
            &unguarded,
            Bytes::from_static(b"page"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let course = cache.keys().course(CourseId::new_random());
    cache
        .set(&course, Bytes::from_static(b"c"), Duration::from_secs(60))
        .await
        .unwrap();
    let nodes = primaries(&cache).await;
    let pages = format!("{prefix}courses:published:");
    let before = spread(&nodes, &pages).await;
    assert_eq!(before.iter().sum::<usize>(), PAGES as usize + 1);
    assert!(
        before.iter().all(|&n| n > 0),
        "pages on every primary: {before:?}"
    );

    assert_eq!(
        cache.invalidate_course_pages().await.unwrap(),
        u64::from(PAGES) + 1
    );
    assert_eq!(spread(&nodes, &pages).await, vec![0; nodes.len()]);
    for page in 1..=PAGES {
        let guard = cache.keys().courses_page(page, 20).guard();
        let generation: Option<String> = cache.client().get(&guard).await.unwrap();
        assert_eq!(generation.as_deref(), Some("1"), "{guard} bumped once");
    }
    assert!(
        cache.get(&course).await.unwrap().is_some(),
        "other keys stay"
    );
    for page in 1..=PAGES {
        assert!(
            other
                .get(&other.keys().courses_page(page, 20))
                .await
                .unwrap()
                .is_some(),
            "another prefix's pages stay"
        );
    }
    // And the listing fills again.
    let again = cache
        .get_or_load(
            &cache.keys().courses_page(1, 20),
            Duration::from_secs(60),
            || async { Ok::<_, ()>(Some(Bytes::from_static(b"new"))) },
        )
        .await
        .unwrap();
    assert_eq!(again.status, CacheStatus::Miss);
    assert_eq!(
        crate::body(&cache, &cache.keys().courses_page(1, 20))
            .await
            .as_deref(),
        Some(&b"new"[..])
    );
}

/// Classic pub/sub from any node reaches a classic subscriber wherever it is
/// connected; the cache publishes sharded (`SPUBLISH`), which only a sharded
/// subscriber gets.
#[tokio::test]
async fn publishes_reach_subscribers_built_by_our_builder_classic_from_any_node_and_ours_sharded() {
    let prefix = unique_prefix();
    let cfg = redis_config(&redis_cluster_url(), &prefix);
    let cache = cluster_cache(&prefix).await;
    let channel = cache.keys().progress_channel();
    let subscriber = skillup_cache::client::builder(&cfg)
        .unwrap()
        .build_subscriber_client()
        .unwrap();
    subscriber.init().await.expect("cluster reachable");
    let mut messages = subscriber.message_rx();
    subscriber.subscribe(channel.as_str()).await.unwrap();
    subscriber.ssubscribe(channel.as_str()).await.unwrap();

    // Through the cache, then straight into each primary: whichever node the
    // subscriber's connection is on, every message must reach it.
    let receivers = cache
        .publish(&channel, Bytes::from_static(b"via cache"))
        .await
        .unwrap();
    assert_eq!(
        receivers, 1,
        "one sharded subscriber on the channel's primary"
    );
    let nodes = primaries(&cache).await;
    for (server, node) in &nodes {
        let _: u64 = node
            .publish(channel.as_str(), server.as_str())
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..=nodes.len() {
        let message = tokio::time::timeout(Duration::from_secs(5), messages.recv())
            .await
            .expect("a message arrives")
            .unwrap();
        assert_eq!(message.channel, channel);
        let sharded = message.kind == fred::types::MessageKind::SMessage;
        let value = message.value.convert::<String>().unwrap();
        assert_eq!(sharded, value == "via cache", "{value}: sharded {sharded}");
        got.push(value);
    }
    got.sort();
    let mut want: Vec<String> = nodes.iter().map(|(s, _)| s.clone()).collect();
    want.push("via cache".to_owned());
    want.sort();
    assert_eq!(got, want);
    let _ = subscriber.quit().await;
}

#[tokio::test]
async fn info_covers_every_primary() {
    let cache = cluster_cache(&unique_prefix()).await;
    let nodes = cache.info_by_node().await.unwrap();
    assert_eq!(nodes.len(), RedisCluster::PRIMARIES);
    let total = cache.info().await.unwrap();
    let biggest = nodes.iter().map(|(_, i)| i.used_memory).max().unwrap();
    assert!(total.used_memory > biggest, "{total:?} sums {nodes:?}");
    assert!(total.connected_clients >= 3, "{total:?}");
}
