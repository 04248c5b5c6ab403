//! A three-primary Redis Cluster of one test binary's own, made by the project's
//! one cluster fixture, `scripts/redis-cluster.sh`.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::ports::free_port;

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

/// A Redis Cluster of three primaries (no replicas) on free loopback ports, ready
/// (`cluster_state:ok` on every node) when [`RedisCluster::start`] returns.
/// Stopped and its files removed on drop.
///
/// It is `scripts/redis-cluster.sh run`, the cluster developers and
/// `scripts/test.sh` use, on ports and in a temp dir of its own: the script keeps
/// the cluster while its stdin, a pipe from this process, stays open, then stops
/// the nodes and removes their files. Drop closes the pipe; so does the kernel
/// when the test process exits, so a shared cluster kept in a static (never
/// dropped) does not outlive the test binary.
pub struct RedisCluster {
    /// The client ports of the primaries.
    pub ports: Vec<u16>,
    url: String,
    script: Child,
    /// Closing it tells the script to stop the cluster.
    stdin: Option<ChildStdin>,
}

impl RedisCluster {
    /// How many primaries [`RedisCluster::start`] creates.
    pub const PRIMARIES: usize = 3;

    pub fn start() -> Self {
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < Self::PRIMARIES {
            // The cluster bus listens on port + 10000: both must be free.
            let port = free_port();
            if port < 55_535
                && !ports.contains(&port)
                && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
            {
                ports.push(port);
            }
        }
        let dir =
            std::env::temp_dir().join(format!("skillup-cluster-{}", uuid::Uuid::new_v4().simple()));
        let port_list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let mut script = Command::new("bash")
            .arg(script_path())
            .arg("run")
            .env("REDIS_CLUSTER_PORTS", port_list.join(" "))
            .env("REDIS_CLUSTER_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs scripts/redis-cluster.sh");
        let stdin = script.stdin.take();
        let mut stderr = script.stderr.take().expect("piped stderr");
        let mut url = String::new();
        BufReader::new(script.stdout.take().expect("piped stdout"))
            .read_line(&mut url)
            .expect("read the cluster's URL");
        if url.trim().is_empty() {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            let _ = script.wait();
            panic!("scripts/redis-cluster.sh run gave no URL:\n{log}");
        }
        // Its later log lines (the stop) must never block on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Self {
            ports,
            url: url.trim().to_owned(),
            script,
            stdin,
        }
    }

    /// The fred URL of the cluster:
    /// `redis-cluster://127.0.0.1:{p1}?node=127.0.0.1:{p2}&node=127.0.0.1:{p3}`.
    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        // Closing stdin makes the script stop the nodes and remove their files.
        drop(self.stdin.take());
        let _ = self.script.wait();
    }
}

/// `scripts/redis-cluster.sh` of this workspace.
fn script_path() -> PathBuf {
    crate::deploy::workspace_root().join("scripts/redis-cluster.sh")
}
