//! `deploy/railway/api.json` against the real binary: the Dockerfile it names
//! builds and installs the start command, which is this crate's binary, and the
//! health-check path answers 200 on the `PORT` Railway injects.

use skillup_testkit::deploy::{assert_served_as_railway_checks, railway, railway_services};
use skillup_testkit::{fresh_database, redis_url, service_env, unique_prefix};

#[tokio::test]
async fn railway_config_starts_this_binary_and_checks_a_path_it_serves() {
    let config = railway("api");
    let db = fresh_database().await;
    let env = service_env(&db, &redis_url(), &unique_prefix());
    tokio::task::spawn_blocking(move || {
        assert_served_as_railway_checks(&config, env!("CARGO_BIN_EXE_skillup-api"), &env);
    })
    .await
    .expect("health check");
}

/// Each file there is checked by its service's crate (api here, invalidator and
/// realtime in theirs); a new one would go unchecked.
#[test]
fn railway_configures_exactly_the_three_services() {
    assert_eq!(
        railway_services(),
        ["api.json", "invalidator.json", "realtime.json"]
    );
}
