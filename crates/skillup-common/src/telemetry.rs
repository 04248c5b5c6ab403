//! Tracing setup, called once at the top of each binary's `main`, and the W3C
//! trace context carried across Redis pub/sub.
//!
//! Logs go to stderr (pretty or JSON lines). With `OTEL_EXPORTER_OTLP_ENDPOINT`
//! set, spans are also exported over OTLP/HTTP by a batch processor running on
//! the service's tokio runtime; [`Telemetry::shutdown`] flushes what is queued.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat, OtlpConfig};

/// How long one export may take before it is abandoned.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
    #[error("OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// What [`init_tracing`] installed; keep it until the service stopped, then call
/// [`Telemetry::shutdown`] so queued spans are sent.
#[must_use = "call shutdown() at exit, or queued spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes queued spans (bounded by the export timeout) and stops the
    /// exporter. A no-op without OTLP export.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The SDK's shutdown blocks until the batch task on this runtime answers.
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("OTLP exporter shutdown: {e}"),
            Err(e) => eprintln!("OTLP exporter shutdown task: {e}"),
        }
    }
}

/// Installs the global subscriber: `RUST_LOG` filter, pretty or JSON lines on
/// stderr, and the OTLP layer when `cfg.otlp` is set (then it must be called
/// inside a tokio runtime, which runs the exporter).
///
/// Fails if a subscriber is already installed (e.g. called twice) or the
/// exporter cannot be built.
pub fn init_tracing(cfg: &LogConfig) -> Result<Telemetry, TelemetryError> {
    // Each output filters with `RUST_LOG` on its own, so the query metrics below
    // see sqlx's statement events whatever the log level.
    let env_filter = || EnvFilter::try_new(&cfg.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = cfg
        .otlp
        .as_ref()
        .map(|otlp| otlp_provider(otlp, &cfg.service_name))
        .transpose()?;
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(cfg.service_name.clone()))
            .with_tracked_inactivity(false)
            .with_filter(env_filter())
    });
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match cfg.format {
        LogFormat::Pretty => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };
    // The global filter adds sqlx's statement events to what RUST_LOG asks for, so
    // interest is decided once per callsite; the log outputs filter with RUST_LOG
    // alone (only those events ever differ), and the query metrics see them all.
    let global = env_filter().add_directive(
        format!("{SQLX_QUERY}=debug")
            .parse()
            .expect("a valid directive"),
    );
    tracing_subscriber::registry()
        .with(global)
        .with(fmt.with_filter(env_filter()))
        .with(otel)
        .with(DbQueryMetrics)
        .try_init()?;
    // `try_init` lets the `log` crate (actix's logging) through at the most verbose
    // level any filter wants: DEBUG, for the query metrics. Every `log::debug!` of
    // actix would then be built and filtered per request. Only RUST_LOG's level is
    // needed for `log` records.
    log::set_max_level(log_level(env_filter().max_level_hint()));
    if let (Some(otlp), Some(provider)) = (&cfg.otlp, &provider) {
        // actix's root spans read an incoming `traceparent` through the global propagator.
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing::info!(collector = %otlp.origin(), service = %cfg.service_name, "exporting traces over OTLP/HTTP");
    }
    Ok(Telemetry { provider })
}

/// The `log` crate's level for a tracing level hint (`None`: everything).
fn log_level(hint: Option<tracing::level_filters::LevelFilter>) -> log::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match hint {
        Some(LevelFilter::OFF) => log::LevelFilter::Off,
        Some(LevelFilter::ERROR) => log::LevelFilter::Error,
        Some(LevelFilter::WARN) => log::LevelFilter::Warn,
        Some(LevelFilter::INFO) => log::LevelFilter::Info,
        Some(LevelFilter::DEBUG) => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

/// The target of the event sqlx emits when a statement finishes (at DEBUG, or
/// WARN when slow), with its duration in `elapsed_secs`.
const SQLX_QUERY: &str = "sqlx::query";

/// Turns sqlx's per-statement events into `db_queries_total` and
/// `db_query_duration_seconds`: sqlx's own instrumentation, counted, instead of
/// a wrapper around every query.
struct DbQueryMetrics;

impl<S: tracing::Subscriber> Layer<S> for DbQueryMetrics {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != SQLX_QUERY {
            return;
        }
        let mut elapsed = ElapsedSecs(None);
        event.record(&mut elapsed);
        metrics::counter!("db_queries_total").increment(1);
        if let Some(secs) = elapsed.0 {
            metrics::histogram!("db_query_duration_seconds").record(secs);
        }
    }
}

struct ElapsedSecs(Option<f64>);

impl tracing::field::Visit for ElapsedSecs {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.0 = Some(value);
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

fn otlp_provider(otlp: &OtlpConfig, service: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(otlp.traces_url())
        .with_timeout(EXPORT_TIMEOUT)
        .build()?;
    // The batch task runs on the service's runtime: hyper's client needs tokio.
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}

/// The W3C `traceparent` of the current span, to carry its trace through a
/// message (a Redis event); `None` when no trace is being recorded (no OTLP
/// export, or the span is disabled).
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the remote span named by `traceparent` (as made by
/// [`current_traceparent`] in another service). A malformed value is ignored:
/// the span then starts a trace of its own.
pub fn set_remote_parent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    // Fails only when the span is disabled, which records nothing anyway.
    let _ = span.set_parent(context);
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
