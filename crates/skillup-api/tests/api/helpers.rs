use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use skillup_api::{ApiConfig, Application};
use skillup_common::UserId;
use skillup_common::auth::JwtKeys;
use skillup_common::config::JwtConfig;
use skillup_db::seed;
use skillup_testkit::{TcpProxy, TestDatabase, fresh_database, redis_url, unique_prefix};

/// Courses seeded for each test (every tenth is a draft).
pub const SEEDED_COURSES: u32 = 12;

/// The `JWT_SECRET` of every test app.
pub const JWT_SECRET: &str = "test-secret";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    pub prefix: String,
    /// The `REDIS_URL` the app was given (a single server or a cluster).
    pub redis_url: String,
    /// The proxy between the app and Postgres, when asked for: cut it for an outage.
    pub postgres: Option<TcpProxy>,
}

pub struct Options {
    pub redis_url: String,
    /// `CORS_ORIGINS`, unset by default.
    pub cors_origins: Option<&'static str>,
    /// `AUTH_FAILURE_LIMIT`: a million by default, so the tests that send many
    /// bad tokens on purpose are answered 401, not 429.
    pub auth_failure_limit: &'static str,
    /// `AUTH_FAILURE_WINDOW_SECS`.
    pub auth_failure_window_secs: &'static str,
    /// `REDIS_TLS_CA_FILE`, unset by default.
    pub redis_tls_ca_file: Option<String>,
    /// Whether the app reaches Postgres through a [`TcpProxy`] the test can cut.
    pub postgres_proxy: bool,
    /// More variables (e.g. a short `REDIS_COURSE_TTL`).
    pub env: Vec<(&'static str, &'static str)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redis_url: redis_url(),
            cors_origins: None,
            auth_failure_limit: "1000000",
            auth_failure_window_secs: "60",
            redis_tls_ca_file: None,
            postgres_proxy: false,
            env: Vec::new(),
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
    let postgres = match options.postgres_proxy {
        true => Some(TcpProxy::start_for_url(&db.url).await),
        false => None,
    };
    let db_url = match &postgres {
        Some(proxy) => proxy.through(&db.url),
        None => db.url.clone(),
    };
    let mut env: HashMap<&str, &str> = [
        ("DATABASE_URL", db_url.as_str()),
        ("REDIS_URL", options.redis_url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("JWT_SECRET", JWT_SECRET),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("SHUTDOWN_GRACE_SECS", "1"),
        ("AUTH_FAILURE_LIMIT", options.auth_failure_limit),
        ("AUTH_FAILURE_WINDOW_SECS", options.auth_failure_window_secs),
    ]
    .into_iter()
    .collect();
    if let Some(origins) = options.cors_origins {
        env.insert("CORS_ORIGINS", origins);
    }
    if let Some(ca) = &options.redis_tls_ca_file {
        env.insert("REDIS_TLS_CA_FILE", ca);
    }
    env.extend(options.env.iter().copied());
    let config = ApiConfig::from_env(&env).expect("test config is valid");
    let app = Application::build(config).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        db,
        prefix,
        redis_url: options.redis_url,
        postgres,
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

    /// A client whose connections come from `ip` (any of 127.0.0.0/8 works on
    /// Linux loopback), so a test can be two different client addresses.
    pub fn client_from(ip: [u8; 4]) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .expect("client builds")
    }

    pub fn course_path(n: u32) -> String {
        format!("/api/courses/{}", seed::course_id(n))
    }

    /// A raw connection to the app's Redis, for looking at keys directly.
    pub async fn redis(&self) -> fred::clients::Client {
        use fred::prelude::*;
        let config = Config::from_url(&self.redis_url).expect("the app's REDIS_URL is valid");
        let client = Builder::from_config(config).build().expect("client builds");
        client.init().await.expect("redis reachable");
        client
    }

    /// Every key under this app's prefix (a full `SCAN`).
    pub async fn keys(&self) -> std::collections::BTreeSet<String> {
        let cache = skillup_cache::Cache::connect(&skillup_testkit::redis_config(
            &self.redis_url,
            &self.prefix,
        ))
        .await
        .expect("redis");
        let scoped = cache.keys().scoped_pattern("*");
        cache
            .scan_keys(&scoped, usize::MAX)
            .await
            .expect("scan")
            .into_iter()
            .collect()
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

/// Signing keys for the test secret.
pub fn jwt() -> JwtKeys {
    JwtKeys::new(&JwtConfig {
        secret: JWT_SECRET.to_owned().into(),
    })
}

/// A valid one-hour token for `user`, as Supabase would issue it.
pub fn token(user: UserId) -> String {
    jwt().mint(user, Duration::from_secs(3600), None)
}

/// A token with exactly these claims, signed with the test secret.
pub fn token_with(claims: &Value) -> String {
    jwt().sign(claims)
}

/// One hour from now, as a JWT `exp`.
pub fn in_one_hour() -> i64 {
    chrono::Utc::now().timestamp() + 3600
}

/// A user nobody has seen yet: their first request creates a `student` profile.
pub fn new_user() -> (UserId, String) {
    let user = UserId::new_random();
    (user, token(user))
}

/// The seeded admin's token.
pub fn admin() -> String {
    token(seed::admin_id())
}

/// Seeded instructor `n`'s token; they teach courses `n`, `n + 20`, ….
pub fn instructor(n: u32) -> String {
    token(seed::instructor_id(n))
}

impl TestApp {
    /// Any request: `token` as a bearer token, `body` as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("request sent")
    }

    /// A request with a raw body (for malformed JSON).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn post_empty(&self, path: &str, token: &str) -> reqwest::Response {
        self.call(Method::POST, path, Some(token), None).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a course as `token` and returns its detail; panics unless 201.
    pub async fn create_course(&self, token: &str, body: &Value) -> Value {
        let res = self.post("/api/courses", token, body).await;
        assert_eq!(res.status(), 201, "create course");
        res.json().await.expect("course JSON")
    }

    /// A published course of instructor 1 with one module of `lessons` lessons;
    /// returns (course id, lesson ids).
    pub async fn published_course(&self, lessons: usize) -> (String, Vec<String>) {
        let owner = instructor(1);
        let course = self
            .create_course(&owner, &serde_json::json!({"title": "Test course"}))
            .await;
        let id = course["id"].as_str().expect("course id").to_owned();
        let module: Value = self
            .post(
                &format!("/api/courses/{id}/modules"),
                &owner,
                &serde_json::json!({"title": "Module"}),
            )
            .await
            .json()
            .await
            .expect("module JSON");
        let module = module["id"].as_str().expect("module id").to_owned();
        let mut ids = Vec::new();
        for i in 0..lessons {
            let lesson: Value = self
                .post(
                    &format!("/api/modules/{module}/lessons"),
                    &owner,
                    &serde_json::json!({"title": format!("Lesson {i}"), "duration_seconds": 60}),
                )
                .await
                .json()
                .await
                .expect("lesson JSON");
            ids.push(lesson["id"].as_str().expect("lesson id").to_owned());
        }
        let res = self
            .patch(
                &format!("/api/courses/{id}"),
                &owner,
                &serde_json::json!({"published": true}),
            )
            .await;
        assert_eq!(res.status(), 200, "publish");
        (id, ids)
    }
}

/// Asserts the status and the error code of a refusal, and returns its message.
pub async fn refused(res: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(res.status(), status, "status");
    let body: Value = res.json().await.expect("error bodies are JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("error.message is a string")
        .to_owned()
}

/// Checks that `key` is fresh for a TTL spread over [0.9 × `ttl_secs`,
/// `ttl_secs`] and kept by Redis for the stale window (`CACHE_STALE_SECS`,
/// default a day) more.
pub async fn assert_lifetime(app: &TestApp, key: &str, ttl_secs: u64) {
    use fred::prelude::*;
    let redis = app.redis().await;
    let stored: skillup_cache::Bytes = redis.get(key).await.expect("redis");
    let entry = skillup_cache::envelope::Envelope::decode(&stored).expect("an entry");
    let fresh = (entry.fresh_until - skillup_cache::envelope::now_ms()) / 1000;
    assert!(
        (ttl_secs * 9 / 10 - 1..=ttl_secs).contains(&fresh),
        "fresh for {fresh} s"
    );
    let ttl: i64 = redis.ttl(key).await.expect("redis");
    let ttl = u64::try_from(ttl).expect("an expiry");
    assert!(ttl.abs_diff(fresh + 86_400) <= 2, "kept {ttl} s");
}
