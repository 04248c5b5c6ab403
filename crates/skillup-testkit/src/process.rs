//! Service binaries run as processes, as a platform runs them: their path,
//! their environment, their log lines, and the signals they are sent.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::db::TestDatabase;
use crate::ports::free_port;

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
        Self::spawn_on(binary, env, free_port())
    }

    /// [`ServiceProcess::spawn`] on a given port (a restart where the last one ran).
    pub fn spawn_on(
        binary: &str,
        env: &std::collections::HashMap<String, String>,
        port: u16,
    ) -> Self {
        use std::io::BufRead;
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

    /// Sends SIGKILL (`kill -9`): the process dies without closing anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Sends the signal named `sig` ("TERM", "STOP", "CONT", ... — without `SIG`) to
/// process `pid`: SIGTERM as a platform stops a container; SIGSTOP / SIGCONT to
/// freeze a Redis, which then keeps its data and its connections but answers nothing.
pub fn signal(pid: u32, sig: &str) {
    let signal: Signal = format!("SIG{sig}")
        .parse()
        .unwrap_or_else(|_| panic!("SIG{sig} is not a signal"));
    let pid = Pid::from_raw(i32::try_from(pid).expect("a pid fits i32"));
    kill(pid, signal).unwrap_or_else(|e| panic!("kill -{sig} {pid}: {e}"));
}
