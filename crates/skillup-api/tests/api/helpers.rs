use std::collections::HashMap;

use skillup_api::{ApiConfig, Application};
use skillup_db::seed;
use skillup_testkit::{TestDatabase, fresh_database, redis_url, unique_prefix};

/// Courses seeded for each test (every tenth is a draft).
pub const SEEDED_COURSES: u32 = 12;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    pub prefix: String,
}

pub struct Options {
    pub redis_url: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redis_url: redis_url(),
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let db = fresh_database().await;
    seed::seed(&db.pool, SEEDED_COURSES, &|_| {})
        .await
        .expect("seed");
    let prefix = unique_prefix();
    let env: HashMap<&str, &str> = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", options.redis_url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("JWT_SECRET", "test-secret"),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("SHUTDOWN_GRACE_SECS", "1"),
    ]
    .into_iter()
    .collect();
    let config = ApiConfig::from_env(&env).expect("test config is valid");
    let app = Application::build(config).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        db,
        prefix,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    pub fn course_path(n: u32) -> String {
        format!("/api/courses/{}", seed::course_id(n))
    }

    /// A raw connection to the test's Redis, for looking at keys directly.
    pub async fn redis(&self) -> fred::clients::Client {
        use fred::prelude::*;
        let config = Config::from_url(&redis_url()).expect("TEST_REDIS_URL is valid");
        let client = Builder::from_config(config).build().expect("client builds");
        client.init().await.expect("redis reachable");
        client
    }

    pub fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}

/// The `X-Cache` header of a response.
pub fn x_cache(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-cache")
        .map(|v| v.to_str().expect("ascii header").to_owned())
        .unwrap_or_default()
}

/// Asserts the spec's error body and returns its code.
pub async fn error_code(res: reqwest::Response) -> String {
    let body: serde_json::Value = res.json().await.expect("error bodies are JSON");
    let message = body["error"]["message"]
        .as_str()
        .expect("error.message is a string");
    assert!(!message.is_empty());
    body["error"]["code"]
        .as_str()
        .expect("error.code is a string")
        .to_owned()
}
