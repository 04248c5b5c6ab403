//! `deploy/railway/api.json` against the real binary: the Dockerfile it names
//! builds and installs the start command, which is this crate's binary, and the
//! health-check path answers 200 on the `PORT` Railway injects.

use skillup_testkit::deploy::{check_railway_service, railway_services};

#[tokio::test]
async fn railway_config_starts_this_binary_and_checks_a_path_it_serves() {
    check_railway_service("api", env!("CARGO_BIN_EXE_skillup-api")).await;
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
