//! `deploy/railway/invalidator.json` against the real binary: the Dockerfile it
//! names builds and installs the start command, which is this crate's binary,
//! and the health-check path answers 200 on the `PORT` Railway injects.

use skillup_testkit::deploy::{assert_served_as_railway_checks, railway};
use skillup_testkit::{fresh_database, redis_url, service_env, unique_prefix};

#[tokio::test]
async fn railway_config_starts_this_binary_and_checks_a_path_it_serves() {
    let config = railway("invalidator");
    let db = fresh_database().await;
    let env = service_env(&db, &redis_url(), &unique_prefix());
    tokio::task::spawn_blocking(move || {
        assert_served_as_railway_checks(&config, env!("CARGO_BIN_EXE_skillup-invalidator"), &env);
    })
    .await
    .expect("health check");
}
