use anyhow::Context;
use skillup_common::config::ProcessEnv;
use skillup_common::shutdown::shutdown_signal;
use skillup_invalidator::{Application, InvalidatorConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = InvalidatorConfig::from_env(&ProcessEnv).unwrap_or_else(|e| {
        eprintln!("skillup-invalidator: {e}");
        std::process::exit(2);
    });
    let telemetry =
        skillup_common::telemetry::init_tracing(&config.log).context("initialising tracing")?;
    let result = async {
        let app = Application::build(config)
            .await
            .context("starting skillup-invalidator")?;
        app.run_until_stopped(shutdown_signal()).await
    }
    .await;
    telemetry.shutdown().await;
    result
}
