//! Cache counters of this process and the Redis `INFO` figures shown by `/health/redis`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Hits, misses and errors counted by this process since start.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub hits: AtomicU64,
    pub near_hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
}

impl Counters {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_hits_total").increment(1);
    }

    /// A hit answered by the in-process near cache (counted as a hit too).
    pub fn near_hit(&self) {
        self.hit();
        self.near_hits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_l1_hits_total").increment(1);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_misses_total").increment(1);
    }

    /// An expired entry answered because the database failed (see `CacheStatus::Stale`).
    pub fn stale(&self) {
        metrics::counter!("cache_stale_total").increment(1);
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_errors_total").increment(1);
    }

    pub fn snapshot(&self) -> CacheCounters {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        let lookups = hits + misses;
        CacheCounters {
            hits,
            near_hits: self.near_hits.load(Ordering::Relaxed),
            misses,
            errors: self.errors.load(Ordering::Relaxed),
            #[expect(clippy::cast_precision_loss, reason = "a ratio for humans")]
            hit_ratio: if lookups == 0 {
                0.0
            } else {
                hits as f64 / lookups as f64
            },
        }
    }
}

/// A snapshot of the process counters.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct CacheCounters {
    /// Hits, whether answered by L1 or Redis.
    pub hits: u64,
    /// The hits the in-process near cache (L1) answered without Redis.
    pub near_hits: u64,
    pub misses: u64,
    /// Redis calls that failed or timed out (the caller was served from the database).
    pub errors: u64,
    /// hits / (hits + misses); 0 before the first lookup.
    pub hit_ratio: f64,
}

/// The figures of `INFO memory`, `INFO stats`, `INFO clients` and `INFO server`
/// that operators look at.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RedisInfo {
    pub used_memory: u64,
    pub used_memory_human: String,
    pub connected_clients: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub uptime_seconds: u64,
}

impl RedisInfo {
    /// Parses the `field:value` lines of an `INFO` reply; unknown fields are ignored.
    pub fn parse(info: &str) -> Self {
        let mut out = Self::default();
        for line in info.lines() {
            let Some((field, value)) = line.trim().split_once(':') else {
                continue;
            };
            let num = || value.parse::<u64>().unwrap_or(0);
            match field {
                "used_memory" => out.used_memory = num(),
                "used_memory_human" => value.clone_into(&mut out.used_memory_human),
                "connected_clients" => out.connected_clients = num(),
                "keyspace_hits" => out.keyspace_hits = num(),
                "keyspace_misses" => out.keyspace_misses = num(),
                "uptime_in_seconds" => out.uptime_seconds = num(),
                _ => {}
            }
        }
        out
    }
}

impl RedisInfo {
    /// The figures of several servers (a cluster's primaries) as one: memory,
    /// clients, hits and misses summed; the shortest uptime (the youngest node).
    /// One server's figures are returned as they are.
    pub fn total<'a>(nodes: impl IntoIterator<Item = &'a Self>) -> Self {
        let nodes: Vec<&Self> = nodes.into_iter().collect();
        if let [one] = nodes.as_slice() {
            return (*one).clone();
        }
        let mut out = Self::default();
        let mut uptime: Option<u64> = None;
        for node in nodes {
            out.used_memory += node.used_memory;
            out.connected_clients += node.connected_clients;
            out.keyspace_hits += node.keyspace_hits;
            out.keyspace_misses += node.keyspace_misses;
            uptime = Some(uptime.map_or(node.uptime_seconds, |u| u.min(node.uptime_seconds)));
        }
        out.uptime_seconds = uptime.unwrap_or(0);
        out.used_memory_human = human_bytes(out.used_memory);
        out
    }
}

/// Bytes the way Redis prints `used_memory_human`: `512B`, `1.50K`, `2.00M`, `1.25G`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    #[expect(clippy::cast_precision_loss, reason = "a figure for humans")]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_lines_are_parsed() {
        let info = "# Server\r\nuptime_in_seconds:42\r\n# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\n# Stats\r\nkeyspace_hits:7\r\nkeyspace_misses:2\r\n";
        assert_eq!(
            RedisInfo::parse(info),
            RedisInfo {
                used_memory: 1024,
                used_memory_human: "1.00K".into(),
                connected_clients: 3,
                keyspace_hits: 7,
                keyspace_misses: 2,
                uptime_seconds: 42,
            }
        );
    }

    #[test]
    fn cluster_figures_add_up() {
        let node = |mem, clients, hits, uptime| RedisInfo {
            used_memory: mem,
            used_memory_human: String::new(),
            connected_clients: clients,
            keyspace_hits: hits,
            keyspace_misses: 1,
            uptime_seconds: uptime,
        };
        let nodes = [
            node(1024, 2, 5, 90),
            node(2048, 3, 6, 30),
            node(1_048_576, 1, 0, 60),
        ];
        assert_eq!(
            RedisInfo::total(&nodes),
            RedisInfo {
                used_memory: 1_051_648,
                used_memory_human: "1.00M".into(),
                connected_clients: 6,
                keyspace_hits: 11,
                keyspace_misses: 3,
                uptime_seconds: 30,
            }
        );
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1536), "1.50K");
    }

    #[test]
    fn hit_ratio_is_zero_before_any_lookup() {
        let c = Counters::default();
        assert!(c.snapshot().hit_ratio.abs() < f64::EPSILON);
        c.hit();
        c.hit();
        c.hit();
        c.miss();
        assert!((c.snapshot().hit_ratio - 0.75).abs() < 1e-9);
    }
}
