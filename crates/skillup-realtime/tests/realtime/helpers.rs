use std::process::Stdio;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use skillup_common::auth::JwtKeys;
use skillup_common::config::JwtConfig;
use skillup_common::{CourseId, LessonId, UserId};
use skillup_db::seed;
use skillup_realtime::{Application, RealtimeConfig};
use skillup_testkit::{TestDatabase, fresh_database, service_env, unique_prefix};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const COURSES: u32 = 12;

pub struct Stack {
    /// Kept so the test database outlives the services using it.
    pub _db: TestDatabase,
    pub prefix: String,
    pub redis_url: String,
    pub api: String,
    pub nodes: Vec<String>,
    pub http: reqwest::Client,
    pub jwt: JwtKeys,
}

pub async fn stack(nodes: usize, redis_url: String) -> Stack {
    let db = fresh_database().await;
    seed::seed(&db.pool, COURSES, &|_| {}).await.expect("seed");
    let prefix = unique_prefix();
    let env = service_env(&db, &redis_url, &prefix);
    let api = skillup_api::Application::build(
        skillup_api::ApiConfig::from_env(&env).expect("api config"),
    )
    .await
    .expect("api builds");
    let api_addr = format!("http://127.0.0.1:{}", api.port());
    tokio::spawn(api.run_until_stopped(std::future::pending()));
    let mut addrs = Vec::new();
    for _ in 0..nodes {
        let node = Application::build(RealtimeConfig::from_env(&env).expect("realtime config"))
            .await
            .expect("realtime builds");
        addrs.push(format!("http://127.0.0.1:{}", node.port()));
        tokio::spawn(node.run_until_stopped(std::future::pending()));
    }
    Stack {
        _db: db,
        prefix,
        redis_url,
        api: api_addr,
        nodes: addrs,
        http: reqwest::Client::new(),
        jwt: JwtKeys::new(&JwtConfig {
            secret: SecretString::from("test-secret"),
        }),
    }
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
    pub fn token(&self, user: UserId) -> String {
        self.jwt.mint(user, Duration::from_secs(600), None)
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
        let courses: Vec<String> = subscribe.iter().map(ToString::to_string).collect();
        let mut child = Command::new("node")
            .current_dir(js_dir())
            .env("PROBE_TRANSPORT", transport)
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

    pub async fn close(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}
