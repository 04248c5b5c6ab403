use std::time::Duration;

use skillup_cache::{Cache, CacheKey};
use skillup_db::seed;
use skillup_invalidator::{Application, Invalidator, InvalidatorConfig};
use skillup_testkit::{
    TestDatabase, eventually, fresh_database, redis_config, service_env, unique_prefix,
};
use tokio::sync::oneshot;

pub struct Stack {
    pub db: TestDatabase,
    pub prefix: String,
    pub redis_url: String,
    pub api: String,
    pub http: reqwest::Client,
    /// A cache handle on the stack's prefix, for looking at keys.
    pub cache: Cache,
    worker: Option<Worker>,
    poll_ms: u64,
}

pub struct Worker {
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub port: u16,
    pub invalidator: Invalidator,
}

pub struct Options {
    pub courses: u32,
    pub redis_url: String,
    pub poll_ms: u64,
    pub worker: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            courses: 12,
            redis_url: skillup_testkit::redis_url(),
            poll_ms: 1000,
            worker: true,
        }
    }
}

pub async fn stack(options: Options) -> Stack {
    let db = fresh_database().await;
    seed::seed(&db.pool, options.courses, &|_| {})
        .await
        .expect("seed");
    let prefix = unique_prefix();
    let env = service_env(&db, &options.redis_url, &prefix);
    let api = skillup_api::Application::build(
        skillup_api::ApiConfig::from_env(&env).expect("api config"),
    )
    .await
    .expect("api builds");
    let api_addr = format!("http://127.0.0.1:{}", api.port());
    tokio::spawn(api.run_until_stopped(std::future::pending()));
    let cache = Cache::connect(&redis_config(&options.redis_url, &prefix))
        .await
        .expect("cache");
    let mut stack = Stack {
        db,
        prefix,
        redis_url: options.redis_url,
        api: api_addr,
        http: reqwest::Client::new(),
        cache,
        worker: None,
        poll_ms: options.poll_ms,
    };
    if options.worker {
        stack.start_worker().await;
    }
    stack
}

impl Stack {
    pub fn env(&self) -> std::collections::HashMap<String, String> {
        let mut env = service_env(&self.db, &self.redis_url, &self.prefix);
        env.insert("INVALIDATOR_POLL_MS".into(), self.poll_ms.to_string());
        env.insert("INVALIDATOR_MAX_BACKOFF_MS".into(), "200".into());
        env
    }

    pub async fn start_worker(&mut self) {
        let config = InvalidatorConfig::from_env(&self.env()).expect("invalidator config");
        let app = Application::build(config)
            .await
            .expect("invalidator builds");
        let (stop, stopped) = oneshot::channel::<()>();
        let port = app.port();
        let invalidator = app.invalidator().clone();
        let done = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        self.worker = Some(Worker {
            stop,
            done,
            port,
            invalidator,
        });
    }

    /// Stops the worker the way SIGTERM does and waits for it to exit.
    pub async fn stop_worker(&mut self) {
        let worker = self.worker.take().expect("a worker runs");
        let _ = worker.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), worker.done)
            .await
            .expect("the worker exits after its shutdown signal")
            .expect("worker task")
            .expect("worker exits cleanly");
    }

    pub fn worker(&self) -> &Worker {
        self.worker.as_ref().expect("a worker runs")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    pub async fn sql(&self, statement: &str) {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&self.db.pool)
            .await
            .expect("sql runs");
    }

    pub async fn cached(&self, key: &CacheKey) -> bool {
        self.cache
            .get(key)
            .await
            .expect("redis reachable")
            .is_some()
    }

    /// Waits (up to 5 s) until `key` is gone; returns whether it went.
    pub async fn gone(&self, key: &CacheKey) -> bool {
        eventually(Duration::from_secs(5), || async { !self.cached(key).await }).await
    }

    /// Waits until the worker has applied everything pending (e.g. the seed's records).
    pub async fn settled(&self) {
        assert!(
            eventually(Duration::from_secs(10), || async {
                self.backlog().await == 0
            })
            .await,
            "the worker drains the outbox"
        );
    }

    pub async fn backlog(&self) -> i64 {
        skillup_db::outbox::backlog(&self.db.pool)
            .await
            .expect("backlog")
            .pending
    }
}

pub fn course_path(n: u32) -> String {
    format!("/api/courses/{}", seed::course_id(n))
}
