use anyhow::Context;
use skillup_api::{ApiConfig, Application};
use skillup_common::config::ProcessEnv;
use skillup_common::shutdown::shutdown_signal;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ApiConfig::from_env(&ProcessEnv).unwrap_or_else(|e| {
        eprintln!("skillup-api: {e}");
        std::process::exit(2);
    });
    let telemetry =
        skillup_common::telemetry::init_tracing(&config.log).context("initialising tracing")?;
    let result = async {
        let app = Application::build(config)
            .await
            .context("starting skillup-api")?;
        app.run_until_stopped(shutdown_signal()).await
    }
    .await;
    telemetry.shutdown().await;
    result
}
