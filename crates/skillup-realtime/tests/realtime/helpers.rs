use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use skillup_common::auth::JwtKeys;
use skillup_common::config::JwtConfig;
use skillup_common::{CourseId, LessonId, UserId};
use skillup_db::seed;
use skillup_realtime::{Application, RealtimeConfig};
use skillup_testkit::{ServiceProcess, TestDatabase, fresh_database, service_env, unique_prefix};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const COURSES: u32 = 12;

pub struct Stack {
    /// Kept so the test database outlives the services using it.
    pub db: TestDatabase,
    pub prefix: String,
    pub redis_url: String,
    pub api: String,
    pub nodes: Vec<String>,
    pub http: reqwest::Client,
    pub jwt: JwtKeys,
    /// The environment every service of the stack reads.
    pub env: HashMap<String, String>,
}

/// The API, the invalidator (which numbers and publishes every realtime event)
/// and `nodes` realtime nodes, in this process, on a fresh seeded database.
pub async fn stack(nodes: usize, redis_url: String) -> Stack {
    stack_with(nodes, redis_url, &[]).await
}

/// [`stack`] with extra environment for every service.
pub async fn stack_with(nodes: usize, redis_url: String, extra: &[(&str, &str)]) -> Stack {
    let db = fresh_database().await;
    seed::seed(&db.pool, COURSES, &|_| {}).await.expect("seed");
    // The seed's own changes invalidate nothing yet cached and announce nothing
    // anyone follows: dropped, so no test meets thousands of seed events.
    sqlx::query("DELETE FROM invalidation_outbox")
        .execute(&db.pool)
        .await
        .expect("outbox");
    let prefix = unique_prefix();
    let mut env = service_env(&db, &redis_url, &prefix);
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let api = skillup_api::Application::build(
        skillup_api::ApiConfig::from_env(&env).expect("api config"),
    )
    .await
    .expect("api builds");
    let api_addr = format!("http://127.0.0.1:{}", api.port());
    tokio::spawn(api.run_until_stopped(std::future::pending()));
    let invalidator = skillup_invalidator::Application::build(
        skillup_invalidator::InvalidatorConfig::from_env(&env).expect("invalidator config"),
    )
    .await
    .expect("invalidator builds");
    tokio::spawn(invalidator.run_until_stopped(std::future::pending()));
    let mut stack = Stack {
        db,
        prefix,
        redis_url,
        api: api_addr,
        nodes: Vec::new(),
        http: reqwest::Client::new(),
        jwt: JwtKeys::new(&JwtConfig {
            secret: SecretString::from("test-secret"),
        }),
        env,
    };
    for _ in 0..nodes {
        let node = stack.node(&stack.env.clone()).await;
        stack.nodes.push(node);
    }
    stack
}

/// Student 1's first enrolled course and a lesson of it they have not completed.
pub fn student_course() -> (CourseId, LessonId) {
    let n = seed::enrollments_of(1, COURSES)[0];
    let lesson = seed::uuid_for(&format!("course-{n}/module-5/lesson-8"));
    (seed::course_id(n), LessonId(lesson))
}

/// A course student 1 is not enrolled in.
pub fn other_course() -> CourseId {
    let enrolled = seed::enrollments_of(1, COURSES);
    let n = (1..=COURSES)
        .find(|n| seed::is_published(*n) && !enrolled.contains(n))
        .expect("some course is not student 1's");
    seed::course_id(n)
}

impl Stack {
    /// Starts one more realtime node in this process with `env`; its URL.
    pub async fn node(&self, env: &HashMap<String, String>) -> String {
        let node = Application::build(RealtimeConfig::from_env(env).expect("realtime config"))
            .await
            .expect("realtime builds");
        let url = format!("http://127.0.0.1:{}", node.port());
        tokio::spawn(node.run_until_stopped(std::future::pending()));
        url
    }

    /// A realtime node run as its own process (`kill -9`-able) on `port`.
    pub fn node_process(&self, port: u16) -> ServiceProcess {
        ServiceProcess::spawn_on(env!("CARGO_BIN_EXE_skillup-realtime"), &self.env, port)
    }

    pub fn token(&self, user: UserId) -> String {
        self.jwt.mint(user, Duration::from_secs(600), None)
    }

    /// A token of its own session (`session_id`), valid for `ttl`.
    pub fn session_token(&self, user: UserId, session: &str, ttl: Duration) -> String {
        self.jwt.mint(user, ttl, Some(session.to_owned()))
    }

    /// The Prometheus text of node `node`.
    pub async fn metrics(&self, node: usize) -> String {
        self.http
            .get(format!("{}/metrics", self.nodes[node]))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Runs SQL on the stack's database, as a person in psql would.
    pub async fn sql(&self, statement: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&self.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Logs `token`'s session out through the API, so the token is revoked.
    pub async fn revoke(&self, token: &str) {
        let res = self
            .http
            .post(format!("{}/api/auth/logout", self.api))
            .bearer_auth(token)
            .send()
            .await
            .expect("logout request");
        assert_eq!(res.status(), 204, "logout");
    }

    pub async fn put_progress(
        &self,
        user: UserId,
        course: CourseId,
        lesson: LessonId,
        completed: bool,
    ) -> Value {
        let res = self.try_put_progress(user, course, lesson, completed).await;
        assert_eq!(res.status(), 200, "progress PUT");
        res.json().await.expect("json")
    }

    /// The raw response of a progress PUT (503 while the API cannot reach Redis:
    /// writes fail closed on the revocation check).
    pub async fn try_put_progress(
        &self,
        user: UserId,
        course: CourseId,
        lesson: LessonId,
        completed: bool,
    ) -> reqwest::Response {
        self.http
            .put(format!(
                "{}/api/courses/{course}/lessons/{lesson}/progress",
                self.api
            ))
            .bearer_auth(self.token(user))
            .json(&serde_json::json!({ "completed": completed }))
            .send()
            .await
            .expect("request")
    }

    pub async fn probe(&self, node: usize, token: &str, subscribe: &[CourseId]) -> Probe {
        Probe::spawn(&self.nodes[node], token, subscribe).await
    }

    /// A probe that reconnects by itself, passing its last offset back.
    pub async fn reconnecting_probe(
        &self,
        url: &str,
        token: &str,
        subscribe: &[CourseId],
    ) -> Probe {
        Probe::spawn_with(url, token, subscribe, &[("PROBE_RECONNECT", "1")]).await
    }
}

/// A running `probe.mjs`: one official socket.io client.
pub struct Probe {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

pub fn js_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js")
}

impl Probe {
    pub async fn spawn(url: &str, token: &str, subscribe: &[CourseId]) -> Self {
        Self::spawn_over(url, token, subscribe, "websocket").await
    }

    /// [`Probe::spawn`] over one transport: `websocket` or `polling` (HTTP
    /// long-polling, which keeps a request pending on the server).
    pub async fn spawn_over(
        url: &str,
        token: &str,
        subscribe: &[CourseId],
        transport: &str,
    ) -> Self {
        Self::spawn_with(url, token, subscribe, &[("PROBE_TRANSPORT", transport)]).await
    }

    /// [`Probe::spawn`] with `env` (`PROBE_TRANSPORT`, `PROBE_RECONNECT`,
    /// `PROBE_OFFSET`: see probe.mjs).
    pub async fn spawn_with(
        url: &str,
        token: &str,
        subscribe: &[CourseId],
        env: &[(&str, &str)],
    ) -> Self {
        let courses: Vec<String> = subscribe.iter().map(ToString::to_string).collect();
        let mut child = Command::new("node")
            .current_dir(js_dir())
            .envs(env.iter().copied())
            .args(["probe.mjs", url, token, &courses.join(",")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (scripts/test.sh installs node and tests/js/node_modules)");
        let stdout = child.stdout.take().expect("piped stdout");
        Self {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next line, parsed; `None` on timeout or end.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        match tokio::time::timeout(timeout, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                Some(serde_json::from_str(&line).expect("probe prints JSON lines"))
            }
            _ => None,
        }
    }

    /// Lines until one of `kind` arrives (panics after 10 s); returns it.
    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            let line = self
                .next(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("no {kind} line"));
            if line["type"] == kind {
                return line;
            }
        }
    }

    /// Every event line that arrives within `window`.
    pub async fn events_within(&mut self, window: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + window;
        let mut events = Vec::new();
        while let Some(line) = self
            .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if line["type"] == "event" {
                events.push(line);
            }
        }
        events
    }

    /// Sends one command line to probe.mjs (`drop`, `connect`, `token JWT`, …).
    pub async fn send(&mut self, command: &str) {
        use tokio::io::AsyncWriteExt;
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("probe reads commands");
        stdin.flush().await.expect("flush");
    }

    /// Event lines until `pred` holds for one (panics after `timeout`);
    /// returns every event seen, the matching one last.
    pub async fn events_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self
                .next(left)
                .await
                .unwrap_or_else(|| panic!("no matching line within {timeout:?}; saw {seen:#?}"));
            let hit = pred(&line);
            if line["type"] == "event" || hit {
                seen.push(line);
            }
            if hit {
                return seen;
            }
        }
    }

    /// The events before the next line of `kind` (which is consumed), then every
    /// event within `window` after it.
    pub async fn events_around(&mut self, kind: &str, window: Duration) -> Vec<Value> {
        let mut seen = self
            .events_until(Duration::from_secs(10), |l| l["type"] == kind)
            .await;
        seen.pop();
        seen.extend(self.events_within(window).await);
        seen
    }

    pub async fn close(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}
