//! Helpers for integration tests against real Postgres and Redis.
//!
//! Every test gets its own database ([`fresh_database`]) and its own Redis key
//! prefix ([`unique_prefix`]), so tests run in parallel without sharing state.
//! Outage tests run a private `redis-server` ([`PrivateRedis`]) they can stop and
//! restart without touching the shared one.
//!
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) names
//! the server and maintenance database; `TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`) the shared Redis.

pub mod otlp;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skillup_common::config::{DatabaseConfig, RedisConfig};
use sqlx::{Connection, PgConnection, PgPool};

/// Prefix of every database the tests create; `scripts/test.sh` drops leftovers.
pub const TEST_DB_PREFIX: &str = "skillup_test_";

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The path of a workspace binary built beside the running test executable
/// (`target/<profile>/<name>`), for tests that run another crate's service as a
/// process. `cargo test --workspace` (scripts/test.sh) builds every binary first;
/// with `-p`, build it yourself (`cargo build --bin <name>`) or it may be stale.
pub fn workspace_binary(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("tests run from target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --bin {name}` (scripts/test.sh builds every binary)",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses: `test:{uuid}:`.
pub fn unique_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

/// A database created for one test and migrated.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    pub fn config(&self) -> DatabaseConfig {
        let env: std::collections::HashMap<&str, &str> =
            [("DATABASE_URL", self.url.as_str())].into_iter().collect();
        DatabaseConfig::from_env(&env).expect("test database url is valid")
    }

    /// Drops the database while the app may still hold connections: Postgres is
    /// gone as far as anything using it can tell.
    pub async fn drop_now(&self) {
        self.pool.close().await;
        let mut admin = PgConnection::connect(&server_url())
            .await
            .expect("connect to postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("drop test database");
    }
}

/// Creates `skillup_test_{uuid}` and applies the migrations.
pub async fn fresh_database() -> TestDatabase {
    let name = format!("{TEST_DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server_url())
        .await
        .expect("connect to postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&server_url()).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    let url = url.to_string();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .expect("connect to test database");
    skillup_db::migrate::run(&pool)
        .await
        .expect("migrate test database");
    TestDatabase { name, url, pool }
}

/// A Redis config for tests: the shared server (or `url`), a unique prefix, a short timeout.
pub fn redis_config(url: &str, prefix: &str) -> RedisConfig {
    let env: std::collections::HashMap<&str, &str> = [
        ("REDIS_URL", url),
        ("REDIS_KEY_PREFIX", prefix),
        ("REDIS_COMMAND_TIMEOUT_MS", "250"),
    ]
    .into_iter()
    .collect();
    RedisConfig::from_env(&env).expect("test redis config is valid")
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A port nothing listens on: connections are refused at once.
pub fn dead_redis_url() -> String {
    format!("redis://127.0.0.1:{}", free_port())
}

/// A `redis-server` of this test's own, on its own port, that can be stopped and
/// restarted to simulate an outage. Killed on drop.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
    /// Extra `redis-server` arguments, kept for restarts.
    extra: Vec<String>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A private server with extra arguments, e.g. `["--requirepass", "pw"]`.
    pub fn start_with(extra: &[&str]) -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        wait_for_port(self.port, "private redis");
    }

    /// Kills the server: an abrupt outage, connections drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `redis-server` of this test's own that speaks only TLS, with a certificate
/// (SAN `127.0.0.1` and `localhost`) signed by a CA made for it at test time with
/// `openssl`, as Redis Cloud's servers are signed by Redis's private CA. Killed
/// and its files removed on drop.
pub struct TlsRedis {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Child,
}

impl TlsRedis {
    pub fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("skillup-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the certificate dir");
        make_ca(&dir, "ca", "SkillUp test CA");
        // A CA nobody signed the server with: trusting it must not be enough.
        make_ca(&dir, "other-ca", "SkillUp other CA");
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write the extensions file");
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        let port = free_port();
        let child = Command::new("redis-server")
            .current_dir(&dir)
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
                "--tls-ca-cert-file",
                "ca.pem",
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        wait_for_port(port, "TLS redis (is redis-server built with TLS?)");
        Self { port, dir, child }
    }

    /// `rediss://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// The PEM of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> String {
        self.dir.join("ca.pem").to_string_lossy().into_owned()
    }

    /// The PEM of another CA, which signed nothing this server presents.
    pub fn other_ca_file(&self) -> String {
        self.dir.join("other-ca.pem").to_string_lossy().into_owned()
    }

    /// A Redis config for this server under `prefix`, trusting `ca_file` (or the
    /// system's roots with `None`).
    pub fn config(&self, prefix: &str, ca_file: Option<&str>) -> RedisConfig {
        let url = self.url();
        let mut env: std::collections::HashMap<&str, &str> = [
            ("REDIS_URL", url.as_str()),
            ("REDIS_KEY_PREFIX", prefix),
            ("REDIS_COMMAND_TIMEOUT_MS", "1000"),
        ]
        .into_iter()
        .collect();
        if let Some(ca) = ca_file {
            env.insert("REDIS_TLS_CA_FILE", ca);
        }
        RedisConfig::from_env(&env).expect("TLS redis config is valid")
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

/// Waits up to 10 s until something accepts connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_state_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
}

/// A self-signed CA `{name}.pem` / `{name}.key` in `dir`.
fn make_ca(dir: &std::path::Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A service binary run as in production (for signal tests): its environment is
/// exactly `env` (plus `PATH`), its log lines are collected, and it is killed on
/// drop if still running.
pub struct ServiceProcess {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// The HTTP port it was given (`PORT`).
    pub port: u16,
}

impl ServiceProcess {
    /// Starts `binary` (a `CARGO_BIN_EXE_*` path) on a free port and waits until
    /// that port accepts connections.
    pub fn spawn(binary: &str, env: &std::collections::HashMap<String, String>) -> Self {
        use std::io::BufRead;
        let port = free_port();
        let mut child = Command::new(binary)
            .env_clear()
            .envs(env)
            .env("PORT", port.to_string())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary} runs: {e}"));
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut process = Self { child, lines, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!(
                    "{binary} exited with {status} before listening: {:#?}",
                    process.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{binary} did not listen on {port}: {:#?}",
                process.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as Docker, Railway and Kubernetes do to stop a container.
    pub fn sigterm(&self) {
        signal(self.pid(), "TERM");
    }

    /// Waits up to `timeout` for the process to exit; its status, or `None` if it
    /// is still running.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The log lines printed so far (and not returned by an earlier call).
    pub fn log(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The environment a service under test reads: its database, a Redis, a prefix,
/// a test JWT secret, loopback and a free port.
pub fn service_env(
    db: &TestDatabase,
    redis_url: &str,
    prefix: &str,
) -> std::collections::HashMap<String, String> {
    [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", redis_url),
        ("REDIS_KEY_PREFIX", prefix),
        ("JWT_SECRET", "test-secret"),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("SHUTDOWN_GRACE_SECS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Sends SIGSTOP or SIGCONT (`sig` = "STOP" / "CONT") to a process: a frozen Redis
/// keeps its data and its connections but answers nothing.
pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{sig} {pid}");
}

impl PrivateRedis {
    /// The server's process id (for freezing it with [`signal`]).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("private redis is running")
    }
}

/// A pool on the server's maintenance database (for `pg_stat_activity` and such).
pub async fn admin_pool() -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&server_url())
        .await
        .expect("connect to postgres")
}

/// Hand-made JWTs for attack tests: any header, any claims, any signature.
pub mod jwt {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey};
    use serde_json::Value;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    /// `header.claims.signature`, where the signature is HMAC-SHA256 of the first
    /// two segments under `secret` whatever algorithm the header names (so an
    /// `RS256` or `HS512` header carries a signature the server *could* check with
    /// its HS256 secret: the algorithm-confusion attack), or empty without one
    /// (the `alg: none` attack).
    pub fn forge(header: &Value, claims: &Value, secret: Option<&str>) -> String {
        let message = format!("{}.{}", b64(header), b64(claims));
        let signature = secret.map_or_else(String::new, |secret| {
            jsonwebtoken::crypto::sign(
                message.as_bytes(),
                &EncodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            )
            .expect("HMAC signing cannot fail")
        });
        format!("{message}.{signature}")
    }

    /// A token properly signed with `secret` under `alg` (an HMAC algorithm).
    pub fn signed_with(alg: Algorithm, claims: &Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("HMAC signing cannot fail")
    }

    /// The JWT attacks every service must refuse, named for the attack, as
    /// tokens for `sub` (a uuid string) signed (where signed) with `secret`.
    pub fn attacks(sub: &str, secret: &str) -> Vec<(&'static str, String)> {
        use serde_json::json;
        let now = chrono_now();
        let hour = now + 3600;
        let good = json!({"sub": sub, "exp": hour});
        vec![
            ("garbage", "not-a-jwt".to_owned()),
            ("empty segments", "..".to_owned()),
            (
                "alg none",
                forge(&json!({"alg": "none", "typ": "JWT"}), &good, None),
            ),
            (
                "alg none with a signature",
                forge(&json!({"alg": "none", "typ": "JWT"}), &good, Some(secret)),
            ),
            (
                "HS512 with the right secret",
                signed_with(Algorithm::HS512, &good, secret),
            ),
            (
                "HS384 with the right secret",
                signed_with(Algorithm::HS384, &good, secret),
            ),
            (
                "RS256 header, HMAC signature (algorithm confusion)",
                forge(&json!({"alg": "RS256", "typ": "JWT"}), &good, Some(secret)),
            ),
            (
                "wrong signature",
                signed_with(Algorithm::HS256, &good, "not-the-secret"),
            ),
            (
                "missing exp",
                signed_with(Algorithm::HS256, &json!({"sub": sub}), secret),
            ),
            (
                "missing sub",
                signed_with(Algorithm::HS256, &json!({"exp": hour}), secret),
            ),
            (
                "non-uuid sub",
                signed_with(
                    Algorithm::HS256,
                    &json!({"sub": "admin", "exp": hour}),
                    secret,
                ),
            ),
            (
                "expired",
                signed_with(
                    Algorithm::HS256,
                    &json!({"sub": sub, "exp": now - 1}),
                    secret,
                ),
            ),
            (
                "iat far in the future",
                signed_with(
                    Algorithm::HS256,
                    &json!({"sub": sub, "exp": hour, "iat": now + 3600}),
                    secret,
                ),
            ),
        ]
    }

    fn chrono_now() -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970");
        i64::try_from(since.as_secs()).expect("seconds fit i64")
    }
}

/// The deploy files, read as the platforms read them, for tests that hold them
/// to what the services really are.
pub mod deploy {
    use std::path::PathBuf;

    use serde_json::Value;

    /// The workspace root (where `deploy/` and `docker/` live).
    pub fn workspace_root() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// What `deploy/railway/{service}.json` tells Railway.
    #[derive(Debug)]
    pub struct Railway {
        pub start_command: String,
        pub healthcheck_path: String,
        /// `healthcheckTimeout`, seconds.
        pub healthcheck_timeout: u64,
    }

    /// Reads `deploy/railway/{service}.json` and checks what needs no running
    /// service: a Dockerfile build whose Dockerfile exists, builds the start
    /// command's binary (`--bin`) and installs it on the image's `PATH`; a start
    /// command that is one binary and nothing else (our services take their
    /// settings from the environment, never from arguments); a health-check
    /// path; a restart policy.
    pub fn railway(service: &str) -> Railway {
        let path = workspace_root().join(format!("deploy/railway/{service}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let field = |pointer: &str| -> &Value {
            json.pointer(pointer)
                .unwrap_or_else(|| panic!("{}: no {pointer}", path.display()))
        };
        let string = |pointer: &str| -> String {
            field(pointer)
                .as_str()
                .unwrap_or_else(|| panic!("{}: {pointer} is not a string", path.display()))
                .to_owned()
        };
        assert_eq!(string("/build/builder"), "DOCKERFILE", "{}", path.display());
        let dockerfile_path = string("/build/dockerfilePath");
        let dockerfile = std::fs::read_to_string(workspace_root().join(&dockerfile_path))
            .unwrap_or_else(|e| {
                panic!("{}: dockerfilePath {dockerfile_path}: {e}", path.display())
            });
        let start_command = string("/deploy/startCommand");
        assert!(
            !start_command.is_empty() && !start_command.contains(char::is_whitespace),
            "{}: startCommand {start_command:?} must be one binary",
            path.display()
        );
        assert!(
            dockerfile.contains(&format!("--bin {start_command} "))
                || dockerfile.contains(&format!("--bin {start_command}\n")),
            "{dockerfile_path} does not build {start_command}"
        );
        assert!(
            dockerfile.contains(&format!("target/release/{start_command} ")),
            "{dockerfile_path} does not install {start_command}"
        );
        let healthcheck_path = string("/deploy/healthcheckPath");
        assert!(healthcheck_path.starts_with('/'), "{}", path.display());
        assert_eq!(
            string("/deploy/restartPolicyType"),
            "ON_FAILURE",
            "{}",
            path.display()
        );
        let healthcheck_timeout = field("/deploy/healthcheckTimeout")
            .as_u64()
            .unwrap_or_else(|| panic!("{}: healthcheckTimeout", path.display()));
        Railway {
            start_command,
            healthcheck_path,
            healthcheck_timeout,
        }
    }

    /// Runs `binary` as Railway would run the service of `config`: with `env`, a
    /// `PORT` it chose, and the health check asked until it answers 200 or the
    /// config's `healthcheckTimeout` passes. Panics naming what failed.
    pub fn assert_served_as_railway_checks(
        config: &Railway,
        binary: &str,
        env: &std::collections::HashMap<String, String>,
    ) {
        let name = std::path::Path::new(binary)
            .file_name()
            .expect("binary path has a name")
            .to_string_lossy();
        assert_eq!(
            name, config.start_command,
            "startCommand names the binary this crate builds"
        );
        let process = super::ServiceProcess::spawn(binary, env);
        let deadline = std::time::Instant::now()
            + std::time::Duration::from_secs(config.healthcheck_timeout.min(30));
        let mut last = String::new();
        while std::time::Instant::now() < deadline {
            match http_status(process.port, &config.healthcheck_path) {
                Ok(200) => return,
                Ok(status) => last = format!("status {status}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "GET {} on {} never answered 200 (last: {last}): {:#?}",
            config.healthcheck_path,
            config.start_command,
            process.log()
        );
    }

    /// The status code of `GET path` on 127.0.0.1:`port`, over plain HTTP/1.1.
    fn http_status(port: u16, path: &str) -> std::io::Result<u16> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: healthcheck.railway.app\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other("not an HTTP/1.1 status line"))
    }

    /// The whole check of one service's Railway config: [`railway`], then
    /// [`assert_served_as_railway_checks`] with `binary` (its crate's
    /// `CARGO_BIN_EXE_*`) on a fresh database and key prefix.
    pub async fn check_railway_service(service: &str, binary: &'static str) {
        let config = railway(service);
        let db = crate::fresh_database().await;
        let env = crate::service_env(&db, &crate::redis_url(), &crate::unique_prefix());
        tokio::task::spawn_blocking(move || {
            assert_served_as_railway_checks(&config, binary, &env);
        })
        .await
        .expect("health check");
    }

    /// The services `deploy/railway/` configures, from its file names.
    pub fn railway_services() -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("deploy/railway"))
            .expect("deploy/railway exists")
            .map(|entry| {
                entry
                    .expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}
