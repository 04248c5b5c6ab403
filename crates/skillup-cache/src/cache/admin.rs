//! Operating the cache: key scans, health (`PING`, `INFO`), publishing, `QUIT`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::prelude::*;
use fred::types::scan::Scanner;
use futures_util::StreamExt;

use super::Cache;
use crate::CacheError;
use crate::stats::RedisInfo;

impl Cache {
    /// Up to `limit` keys matching `pattern` (a full pattern, see [`Cache::delete_pattern`]).
    pub async fn scan_keys(&self, pattern: &str, limit: usize) -> Result<Vec<String>, CacheError> {
        let mut found = Vec::new();
        let mut pages = self.scan_pages(pattern);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(CacheError::Redis)?;
            for key in page.take_results().unwrap_or_default() {
                if found.len() >= limit {
                    return Ok(found);
                }
                found.push(key.as_str_lossy().into_owned());
            }
            page.next();
        }
        Ok(found)
    }

    /// Round-trip time of a `PING`.
    pub async fn ping(&self) -> Result<Duration, CacheError> {
        let start = Instant::now();
        self.call(self.inner.client.ping::<String>(None)).await?;
        Ok(start.elapsed())
    }

    /// The server figures of `INFO`; on a cluster, the totals of every primary
    /// (see [`RedisInfo::total`]).
    pub async fn info(&self) -> Result<RedisInfo, CacheError> {
        let nodes = self.info_by_node().await?;
        Ok(RedisInfo::total(nodes.iter().map(|(_, info)| info)))
    }

    /// The `INFO` figures of each server: the one Redis (named by `REDIS_URL`'s
    /// host and port), or every primary of a cluster (as `host:port`).
    pub async fn info_by_node(&self) -> Result<Vec<(String, RedisInfo)>, CacheError> {
        let client = &self.inner.client;
        if !client.is_clustered() {
            let info: String = self.call(client.info(None)).await?;
            let server = client
                .active_connections()
                .first()
                .map_or_else(String::new, ToString::to_string);
            return Ok(vec![(server, RedisInfo::parse(&info))]);
        }
        let primaries = client
            .cached_cluster_state()
            .map(|state| state.unique_primary_nodes())
            .unwrap_or_default();
        if primaries.is_empty() {
            self.inner.counters.error();
            return Err(CacheError::NotConnected);
        }
        let mut nodes = Vec::with_capacity(primaries.len());
        for server in primaries {
            let info: String = self
                .call(client.with_cluster_node(server.clone()).info(None))
                .await?;
            nodes.push((server.to_string(), RedisInfo::parse(&info)));
        }
        Ok(nodes)
    }

    /// Publishes `payload` on `channel`; returns how many subscribers got it.
    ///
    /// On a Redis Cluster this is sharded pub/sub (`SPUBLISH`): the message goes
    /// to the primary of the channel's slot and its replicas, where the
    /// subscribers (`SSUBSCRIBE`) are, instead of over the whole cluster bus.
    pub async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64, CacheError> {
        if self.inner.client.is_clustered() {
            self.call(self.inner.client.spublish(channel, payload))
                .await
        } else {
            self.call(self.inner.client.publish(channel, payload)).await
        }
    }

    /// Publishes `messages` in order, pipelined (one round trip for a batch of
    /// events; a subscriber receives them in this order). On a cluster they are
    /// sharded like [`Cache::publish`], and the order holds per channel (each
    /// channel lives on one primary).
    pub async fn publish_many(&self, messages: Vec<(String, Bytes)>) -> Result<(), CacheError> {
        if messages.is_empty() {
            return Ok(());
        }
        self.call(async {
            let pipeline = self.inner.client.pipeline();
            let sharded = self.inner.client.is_clustered();
            for (channel, payload) in messages {
                let () = if sharded {
                    pipeline.spublish(channel, payload).await?
                } else {
                    pipeline.publish(channel, payload).await?
                };
            }
            let _: Vec<i64> = pipeline.all().await?;
            Ok(())
        })
        .await
    }

    /// Closes the connection cleanly (`QUIT`), waiting at most `grace`.
    pub async fn quit(&self, grace: Duration) {
        if tokio::time::timeout(grace, self.inner.client.quit())
            .await
            .is_err()
        {
            tracing::warn!("redis QUIT did not finish in {grace:?}");
        }
    }
}
