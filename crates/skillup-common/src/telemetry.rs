//! Tracing setup, called once at the top of each binary's `main`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber: `RUST_LOG` filter, pretty or JSON lines on stderr.
///
/// Fails only if a subscriber is already installed (e.g. called twice).
pub fn init_tracing(cfg: &LogConfig) -> Result<(), tracing_subscriber::util::TryInitError> {
    let filter = EnvFilter::try_new(&cfg.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match cfg.format {
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    }
}

/// How often histogram samples are folded into their buckets.
const METRICS_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Histogram samples wait in a queue until upkeep folds them into buckets; without
/// it the queue grows with every request until `/metrics` is scraped (measured:
/// tens of MB after a few million requests). A plain thread, so no runtime is needed.
fn spawn_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started");
    }
}

/// The process's Prometheus recorder, installed on first use.
///
/// A metrics recorder is process-global by nature; tests that start several apps in
/// one process share it.
pub fn prometheus() -> metrics_exporter_prometheus::PrometheusHandle {
    use std::sync::OnceLock;

    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".to_owned()),
                    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => {
                    spawn_upkeep(handle.clone());
                    handle
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder is already installed; /metrics will be empty");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}
