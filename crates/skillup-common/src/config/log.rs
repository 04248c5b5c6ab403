//! Logs and traces: `RUST_LOG`, `LOG_FORMAT`, `OTEL_*`.

use std::str::FromStr;

use url::Url;

use super::env::{ConfigError, EnvSource, invalid, parse_or, redact};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl FromStr for LogFormat {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err("expected `pretty` or `json`"),
        }
    }
}

/// `RUST_LOG`, `LOG_FORMAT`, `OTEL_*`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub filter: String,
    pub format: LogFormat,
    /// Where traces go over OTLP, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub otlp: Option<OtlpConfig>,
    /// `OTEL_SERVICE_NAME`, else the binary's name.
    pub service_name: String,
}

/// OTLP trace export: `OTEL_EXPORTER_OTLP_ENDPOINT` (the collector's base URL, as
/// the OpenTelemetry spec defines it: `/v1/traces` is appended) and
/// `OTEL_EXPORTER_OTLP_PROTOCOL`, of which `http/protobuf` (the default) is built in.
///
/// Only plain `http://` is accepted: export goes to an OpenTelemetry Collector
/// (or agent) on the private network, which forwards to a vendor over TLS with
/// its own credentials. Any `OTEL_EXPORTER_OTLP_HEADERS` are read by the exporter
/// itself and never logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    endpoint: Url,
}

impl OtlpConfig {
    fn from_env(env: &dyn EnvSource) -> Result<Option<Self>, ConfigError> {
        const VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
        const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
        let Some(raw) = env.var(VAR).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        if let Some(protocol) = env.var(PROTOCOL).filter(|p| p.trim() != "http/protobuf") {
            return Err(invalid(
                PROTOCOL,
                &protocol,
                "only `http/protobuf` is built in (point the endpoint at the collector's OTLP/HTTP port, usually 4318)",
            ));
        }
        let endpoint = Url::parse(raw.trim()).map_err(|e| invalid(VAR, &redact(&raw), e))?;
        match endpoint.scheme() {
            "http" if endpoint.host().is_some() => Ok(Some(Self { endpoint })),
            "https" => Err(invalid(
                VAR,
                &redact(&raw),
                "TLS export is not built in: send to an OpenTelemetry Collector over http:// on the private network",
            )),
            _ => Err(invalid(
                VAR,
                &redact(&raw),
                "expected an http://host:port URL",
            )),
        }
    }

    /// Where spans are posted: the endpoint with `/v1/traces` appended.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.endpoint.as_str().trim_end_matches('/'))
    }

    /// The endpoint without credentials or path, for logs.
    pub fn origin(&self) -> String {
        self.endpoint.origin().ascii_serialization()
    }
}

impl LogConfig {
    pub fn from_env(env: &dyn EnvSource, binary: &str) -> Result<Self, ConfigError> {
        let filter = env.var("RUST_LOG").unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&filter)
            .map_err(|e| invalid("RUST_LOG", &filter, e))?;
        Ok(Self {
            filter,
            format: parse_or(env, "LOG_FORMAT", LogFormat::Pretty)?,
            otlp: OtlpConfig::from_env(env)?,
            service_name: env
                .var("OTEL_SERVICE_NAME")
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| binary.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::test_env as env;

    #[test]
    fn bad_log_format_names_the_variable() {
        let err = LogConfig::from_env(&env(&[("LOG_FORMAT", "xml")]), "x").unwrap_err();
        assert!(err.to_string().starts_with("LOG_FORMAT="), "{err}");
    }

    #[test]
    fn otlp_endpoint_is_parsed_and_checked() {
        let cfg = LogConfig::from_env(&env(&[]), "skillup-api").expect("valid");
        assert!(cfg.otlp.is_none());
        assert_eq!(cfg.service_name, "skillup-api");

        let cfg = LogConfig::from_env(
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
                ("OTEL_SERVICE_NAME", "api-eu"),
            ]),
            "skillup-api",
        )
        .expect("valid");
        let otlp = cfg.otlp.expect("export configured");
        assert_eq!(otlp.traces_url(), "http://collector:4318/v1/traces");
        assert_eq!(otlp.origin(), "http://collector:4318");
        assert_eq!(cfg.service_name, "api-eu");

        for (vars, names) in [
            (
                vec![(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "https://u:hunter2@otlp.example.com",
                )],
                "OTEL_EXPORTER_OTLP_ENDPOINT=",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT=",
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ],
                "OTEL_EXPORTER_OTLP_PROTOCOL=",
            ),
        ] {
            let err = LogConfig::from_env(&env(&vars), "skillup-api")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(names), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
