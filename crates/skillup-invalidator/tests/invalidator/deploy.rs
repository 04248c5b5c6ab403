//! `deploy/railway/invalidator.json` against the real binary: the Dockerfile it
//! names builds and installs the start command, which is this crate's binary,
//! and the health-check path answers 200 on the `PORT` Railway injects.

use skillup_testkit::deploy::check_railway_service;

#[tokio::test]
async fn railway_config_starts_this_binary_and_checks_a_path_it_serves() {
    check_railway_service("invalidator", env!("CARGO_BIN_EXE_skillup-invalidator")).await;
}
