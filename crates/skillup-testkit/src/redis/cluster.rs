//! A three-primary Redis Cluster of one test binary's own.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ports::{free_port, wait_for_port};

/// The URL of the Redis Cluster tests share: `TEST_REDIS_CLUSTER_URL` when set (an
/// existing cluster, e.g. `scripts/redis-cluster.sh url`), else a [`RedisCluster`]
/// this test process starts on first use and keeps for its whole life (tests of
/// one binary share it under their own prefixes, as they share the single Redis).
pub fn redis_cluster_url() -> String {
    static SHARED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            std::env::var("TEST_REDIS_CLUSTER_URL")
                .ok()
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| {
                    // Leaked on purpose: statics are never dropped, so the servers
                    // stop with the process instead (see `RedisCluster::start`).
                    let cluster = Box::leak(Box::new(RedisCluster::start()));
                    cluster.url()
                })
        })
        .clone()
}

/// A Redis Cluster of three primaries (`redis-server --cluster-enabled yes`, no
/// replicas) on free loopback ports, each with its own temp dir, created with
/// `redis-cli --cluster create` and ready (`cluster_state:ok` on every node) when
/// [`RedisCluster::start`] returns. Killed and its files removed on drop.
///
/// Each server runs under a small shell that waits for its stdin, a pipe from
/// this process, to close and then stops the server and removes its dir. Drop
/// closes the pipes; so does the kernel when the test process exits, so a shared
/// cluster kept in a static (never dropped) does not outlive the test binary.
pub struct RedisCluster {
    /// The client ports of the primaries.
    pub ports: Vec<u16>,
    children: Vec<Child>,
}

impl RedisCluster {
    /// How many primaries [`RedisCluster::start`] creates.
    pub const PRIMARIES: usize = 3;

    pub fn start() -> Self {
        let run = uuid::Uuid::new_v4().simple();
        let mut cluster = Self {
            ports: Vec::new(),
            children: Vec::new(),
        };
        for _ in 0..Self::PRIMARIES {
            // The cluster bus listens on port + 10000: both must be free.
            let port = loop {
                let port = free_port();
                if port < 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
                    break port;
                }
            };
            let node_dir = std::env::temp_dir().join(format!("skillup-cluster-{run}-{port}"));
            std::fs::create_dir_all(&node_dir).expect("create the node dir");
            let script = "redis-server --port \"$1\" --bind 127.0.0.1 --cluster-enabled yes \
                 --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
                 --save '' --appendonly no --dir \"$2\" >\"$2/redis.log\" 2>&1 & pid=$!; \
                 cat >/dev/null; kill \"$pid\"; wait \"$pid\"; rm -rf \"$2\"";
            let child = Command::new("sh")
                .args(["-c", script, "redis-cluster-node"])
                .arg(port.to_string())
                .arg(&node_dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sh runs");
            cluster.ports.push(port);
            cluster.children.push(child);
        }
        for &port in &cluster.ports {
            wait_for_port(port, "cluster node");
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli is installed (it comes with redis-server)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cluster.ports.iter().all(|&p| cluster_state_ok(p)) {
            assert!(
                Instant::now() < deadline,
                "the cluster on {:?} never reached cluster_state:ok",
                cluster.ports
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// The fred URL of the cluster:
    /// `redis-cluster://127.0.0.1:{p1}?node=127.0.0.1:{p2}&node=127.0.0.1:{p3}`.
    pub fn url(&self) -> String {
        let (first, rest) = self.ports.split_first().expect("a cluster has nodes");
        let others: Vec<String> = rest.iter().map(|p| format!("node=127.0.0.1:{p}")).collect();
        format!("redis-cluster://127.0.0.1:{first}?{}", others.join("&"))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            // Closing stdin makes the wrapper kill its server and exit.
            drop(child.stdin.take());
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_state_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
}
