//! Nothing internal leaves the process: database failures answer the spec's
//! error body without SQL, driver text or traces, and the logs (JSON, at
//! `debug`) never hold the JWT secret, a bearer token or a connection password.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use skillup_db::seed;
use skillup_testkit::PrivateRedis;

use crate::helpers::{JWT_SECRET, TestApp, admin, instructor, spawn_app, token};

/// Words that would mean a body carries internals.
const INTERNALS: [&str; 16] = [
    "sql",
    "postgres",
    "select ",
    "insert ",
    "update ",
    "relation",
    "column",
    "constraint",
    "duplicate key",
    "violates",
    "panicked",
    "backtrace",
    "stack",
    "src/",
    ".rs:",
    "error returned from database",
];

/// Asserts `status` and the error body, and that it names nothing internal.
async fn assert_clean(res: reqwest::Response, status: u16, what: &str) {
    assert_eq!(res.status(), status, "{what}");
    let text = res.text().await.expect("a body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {text}"));
    assert!(body["error"]["code"].is_string(), "{what}: {text}");
    let lower = text.to_lowercase();
    for word in INTERNALS {
        assert!(!lower.contains(word), "{what} leaks {word:?}: {text}");
    }
}

#[tokio::test]
async fn database_errors_answer_without_sql_or_driver_text() {
    let app = spawn_app().await;
    let pool = &app.db.pool;
    // A trigger whose message is SQL-looking text, on enrollments.
    sqlx::raw_sql(
        "CREATE FUNCTION leak_test() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'SELECT password FROM pg_authid; relation secret_table'; END $$; \
         CREATE TRIGGER leak_test BEFORE INSERT ON enrollments \
         FOR EACH ROW EXECUTE FUNCTION leak_test();",
    )
    .execute(pool)
    .await
    .unwrap();
    let course = TestApp::course_path(1);
    assert_clean(
        app.post_empty(&format!("{course}/enroll"), &crate::helpers::new_user().1)
            .await,
        500,
        "an exception raised in a trigger",
    )
    .await;

    // A unique violation no handler maps more precisely: a clean 409.
    let first = app
        .create_course(&instructor(1), &json!({"title": "Dup", "slug": "dup-slug"}))
        .await;
    assert!(first["id"].is_string());
    assert_clean(
        app.post(
            "/api/courses",
            &instructor(2),
            &json!({"title": "Dup", "slug": "dup-slug"}),
        )
        .await,
        409,
        "a taken slug",
    )
    .await;

    // A schema the code does not expect: every query on courses fails.
    sqlx::raw_sql("ALTER TABLE courses RENAME COLUMN title TO title_renamed")
        .execute(pool)
        .await
        .unwrap();
    assert_clean(
        app.get(&TestApp::course_path(2)).await,
        500,
        "course detail",
    )
    .await;
    assert_clean(app.get("/api/courses?page=3").await, 500, "listing").await;
    assert_clean(
        app.post("/api/courses", &admin(), &json!({"title": "x"}))
            .await,
        500,
        "create",
    )
    .await;
}

#[tokio::test]
async fn a_database_that_is_gone_answers_503_without_driver_text() {
    let app = spawn_app().await;
    app.db.drop_now().await;
    assert_clean(
        app.get(&TestApp::course_path(3)).await,
        503,
        "course detail",
    )
    .await;
    assert_clean(
        app.post("/api/courses", &admin(), &json!({"title": "x"}))
            .await,
        503,
        "create",
    )
    .await;
}

/// The API binary, run as in production, its log lines sent to a channel.
struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Process {
    fn spawn(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skillup-api"))
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("skillup-api runs");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Self { child, lines }
    }

    /// Lines until one holds `needle`; all of them, that one last.
    fn until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {needle:?} line in: {seen:#?}"));
            let done = line.contains(needle);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn json_logs_at_debug_hold_no_secret_token_or_password() {
    const REDIS_PASSWORD: &str = "hunter2-redis-pw";
    const DB_PASSWORD: &str = "hunter2-db-pw";
    let redis = PrivateRedis::start_with(&["--requirepass", REDIS_PASSWORD]);
    let db = skillup_testkit::fresh_database().await;
    seed::seed(&db.pool, 3, &|_| {}).await.expect("seed");
    // Postgres here trusts loopback, so the password is sent nowhere but must
    // still never be printed.
    let mut db_url = url::Url::parse(&db.url).unwrap();
    db_url.set_password(Some(DB_PASSWORD)).unwrap();
    let redis_url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", redis.port);
    let prefix = skillup_testkit::unique_prefix();
    let process = Process::spawn(&[
        ("DATABASE_URL", db_url.as_str()),
        ("REDIS_URL", &redis_url),
        ("REDIS_KEY_PREFIX", &prefix),
        ("JWT_SECRET", JWT_SECRET),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "debug"),
        ("SHUTDOWN_GRACE_SECS", "1"),
    ]);
    let mut lines = process.until("skillup-api listening");
    let listening: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    let port = listening["port"].as_u64().expect("the port is logged");
    let base = format!("http://127.0.0.1:{port}");

    let http = reqwest::Client::new();
    let student = token(seed::student_id(1));
    let forged = skillup_testkit::jwt::forge(
        &json!({"alg": "HS256"}),
        &json!({"sub": "not-a-uuid", "exp": 1}),
        Some("wrong"),
    );
    for (method, path, bearer) in [
        ("GET", "/api/me".to_owned(), student.as_str()),
        ("GET", TestApp::course_path(1), student.as_str()),
        ("GET", "/api/me".to_owned(), forged.as_str()),
        (
            "PUT",
            format!(
                "{}/lessons/{}/progress",
                TestApp::course_path(1),
                uuid::Uuid::new_v4()
            ),
            student.as_str(),
        ),
        ("POST", "/api/auth/logout".to_owned(), student.as_str()),
        ("GET", "/api/me".to_owned(), student.as_str()),
    ] {
        let res = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .bearer_auth(bearer)
            .json(&json!({"completed": true}))
            .send()
            .await
            .expect("the api answers");
        assert!(
            res.status().as_u16() < 500,
            "{method} {path}: {}",
            res.status()
        );
    }
    // The revoked token's 401 comes last; stop and take every line written.
    skillup_testkit::signal(process.child.id(), "TERM");
    lines.extend(process.until("skillup-api stopped"));
    while let Ok(line) = process.lines.recv_timeout(Duration::from_millis(200)) {
        lines.push(line);
    }

    assert!(lines.len() > 20, "debug logging is on: {lines:#?}");
    for line in &lines {
        assert!(
            serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
            "not a JSON object: {line}"
        );
        for (name, secret) in [
            ("the JWT secret", JWT_SECRET),
            ("a bearer token", student.as_str()),
            ("a forged token", forged.as_str()),
            ("the Redis password", REDIS_PASSWORD),
            ("the database password", DB_PASSWORD),
        ] {
            assert!(!line.contains(secret), "{name} in the log: {line}");
        }
    }
    // A token's signature alone would do as much harm as the token.
    let signature = student.rsplit('.').next().unwrap();
    assert!(lines.iter().all(|l| !l.contains(signature)));
}
