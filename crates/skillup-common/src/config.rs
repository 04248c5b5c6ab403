//! Configuration from the environment, parsed once at start into typed structs.
//!
//! Every section reads through an [`EnvSource`], so tests pass a map instead of
//! mutating the process environment. A bad value is a [`ConfigError`] that names
//! the variable; binaries print it as one line and exit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use secrecy::SecretString;
use url::Url;

/// Where configuration values come from: the process environment or, in tests, a map.
pub trait EnvSource {
    /// The raw value of `var`, if set. Empty values count as unset.
    fn var(&self, var: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, var: &str) -> Option<String> {
        self.get(var).filter(|v| !v.is_empty()).cloned()
    }
}

impl EnvSource for HashMap<&str, &str> {
    fn var(&self, var: &str) -> Option<String> {
        self.get(var)
            .filter(|v| !v.is_empty())
            .map(|v| (*v).to_owned())
    }
}

/// A configuration value that cannot be used. The message is one line naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required but not set{hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

fn invalid(var: &'static str, value: &str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

/// Parses `var` with `FromStr`, falling back to `default` when unset.
fn parse_or<T>(env: &dyn EnvSource, var: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match env.var(var) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e| invalid(var, &raw, e)),
    }
}

/// An integer setting of at least `min`, `default` when unset; anything else names
/// the variable. For services' own settings beyond the shared sections.
pub fn integer_at_least(
    env: &dyn EnvSource,
    var: &'static str,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    let value: u64 = parse_or(env, var, default)?;
    if value < min {
        return Err(invalid(
            var,
            &value.to_string(),
            format!("must be at least {min}"),
        ));
    }
    Ok(value)
}

/// A number of seconds that must be at least 1.
fn seconds_or(
    env: &dyn EnvSource,
    var: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let secs: u64 = parse_or(env, var, default)?;
    if secs == 0 {
        return Err(invalid(var, "0", "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

fn millis_or(
    env: &dyn EnvSource,
    var: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let ms: u64 = parse_or(env, var, default)?;
    if ms == 0 {
        return Err(invalid(var, "0", "must be at least 1 millisecond"));
    }
    Ok(Duration::from_millis(ms))
}

fn url_or(
    env: &dyn EnvSource,
    var: &'static str,
    default: &str,
    schemes: &[&str],
) -> Result<SecretUrl, ConfigError> {
    let raw = env.var(var).unwrap_or_else(|| default.to_owned());
    let url = Url::parse(&raw).map_err(|e| invalid(var, &redact(&raw), e))?;
    if !schemes.contains(&url.scheme()) {
        return Err(invalid(
            var,
            &redact(&raw),
            format!("scheme must be one of {}", schemes.join(", ")),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(var, &redact(&raw), "a host is required"));
    }
    Ok(SecretUrl(url))
}

/// Hides a password in a URL-like string so it can appear in an error or log line.
fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// A connection URL whose password never reaches `Debug` or `Display`.
#[derive(Clone)]
pub struct SecretUrl(Url);

impl SecretUrl {
    /// The full URL, password included: pass it to a client, never to a log.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(self.0.as_str())
    }

    /// The parsed URL (password included).
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `DATABASE_URL` and pool sizing.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretUrl,
    /// `DATABASE_MAX_CONNECTIONS` (default 10).
    pub max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS` (default 3000): how long a request waits for a
    /// connection before answering 503.
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/skillup";

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let max_connections: u32 = parse_or(env, "DATABASE_MAX_CONNECTIONS", 10)?;
        if max_connections == 0 {
            return Err(invalid(
                "DATABASE_MAX_CONNECTIONS",
                "0",
                "must be at least 1",
            ));
        }
        Ok(Self {
            url: url_or(
                env,
                "DATABASE_URL",
                Self::DEFAULT_URL,
                &["postgres", "postgresql"],
            )?,
            max_connections,
            acquire_timeout: millis_or(env, "DATABASE_ACQUIRE_TIMEOUT_MS", 3000)?,
        })
    }
}

/// `REDIS_*`: where Redis is, the key namespace and the TTL of each kind of entry.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: SecretUrl,
    /// `REDIS_KEY_PREFIX` (default `skillup:`): prepended to every key and channel.
    pub key_prefix: String,
    /// `REDIS_DEFAULT_TTL` (seconds, default 3600).
    pub default_ttl: Duration,
    /// `REDIS_COURSE_TTL` (seconds, default 3600): `course:*` and `courses:published:*`.
    pub course_ttl: Duration,
    /// `REDIS_USER_TTL` (seconds, default 1800): `user:*`.
    pub user_ttl: Duration,
    /// `REDIS_COMMAND_TIMEOUT_MS` (default 250): a slower Redis is treated as down
    /// for that call, and the caller is served from Postgres.
    pub command_timeout: Duration,
    /// `REDIS_TLS_CA_FILE` (unset: the system's roots): the CAs a `rediss://`
    /// connection trusts, for servers whose certificate a private CA signed.
    pub tls_ca: Option<TlsCaBundle>,
}

/// The CA certificates of `REDIS_TLS_CA_FILE`, read and checked once at start: a
/// missing file or one without a usable CA certificate stops the binary then,
/// not at the first reconnection.
#[derive(Clone)]
pub struct TlsCaBundle {
    /// The file they came from, for log lines.
    pub path: PathBuf,
    /// DER certificates, in file order; each parses as a trust anchor.
    pub certs: Arc<[CertificateDer<'static>]>,
}

impl std::fmt::Debug for TlsCaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsCaBundle")
            .field("path", &self.path)
            .field("certs", &self.certs.len())
            .finish()
    }
}

impl TlsCaBundle {
    const VAR: &'static str = "REDIS_TLS_CA_FILE";

    /// Reads a PEM bundle: every `CERTIFICATE` section, at least one, each a
    /// certificate webpki accepts as a trust anchor. Errors name `REDIS_TLS_CA_FILE`.
    pub fn read(path: &str) -> Result<Self, ConfigError> {
        let pem = std::fs::read(path)
            .map_err(|e| invalid(Self::VAR, path, format!("cannot read the file: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(Self::VAR, path, format!("not a PEM bundle: {e}")))?;
        if certs.is_empty() {
            return Err(invalid(
                Self::VAR,
                path,
                "no PEM CERTIFICATE found in the file",
            ));
        }
        for (i, cert) in certs.iter().enumerate() {
            webpki::anchor_from_trusted_cert(cert).map_err(|e| {
                invalid(
                    Self::VAR,
                    path,
                    format!("certificate {} is not a usable CA certificate: {e}", i + 1),
                )
            })?;
        }
        Ok(Self {
            path: PathBuf::from(path),
            certs: certs.into(),
        })
    }
}

impl RedisConfig {
    pub const DEFAULT_URL: &'static str = "redis://127.0.0.1:6379";

    /// The `REDIS_URL` schemes accepted, as fred reads them: one server (`redis`,
    /// TLS `rediss`) or a Redis Cluster (`redis-cluster`, TLS `rediss-cluster`,
    /// with more seed nodes as `?node=host:port&node=…`).
    pub const SCHEMES: [&'static str; 4] = ["redis", "rediss", "redis-cluster", "rediss-cluster"];

    fn is_tls_scheme(scheme: &str) -> bool {
        matches!(scheme, "rediss" | "rediss-cluster")
    }

    /// Whether `REDIS_URL` names a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.url.url().scheme().ends_with("-cluster")
    }

    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let key_prefix = env
            .var("REDIS_KEY_PREFIX")
            .unwrap_or_else(|| "skillup:".to_owned());
        if key_prefix.contains(['*', '?', '[', ']', '\\', ' ']) {
            return Err(invalid(
                "REDIS_KEY_PREFIX",
                &key_prefix,
                "must not contain pattern characters (* ? [ ] \\) or spaces",
            ));
        }
        let url = url_or(env, "REDIS_URL", Self::DEFAULT_URL, &Self::SCHEMES)?;
        if url.url().scheme().ends_with("-cluster") && key_prefix.contains(['{', '}']) {
            // A guard `gen:{<key>}` must hash to its key's slot; a brace in the
            // prefix would make Redis hash on the prefix's braces instead.
            return Err(invalid(
                "REDIS_KEY_PREFIX",
                &key_prefix,
                "must not contain `{` or `}` on a Redis Cluster (they pick the hash slot)",
            ));
        }
        let tls_ca = match env.var(TlsCaBundle::VAR) {
            None => None,
            // A CA for a plain connection would be silently ignored: say so now.
            Some(path) if !Self::is_tls_scheme(url.url().scheme()) => {
                return Err(invalid(
                    TlsCaBundle::VAR,
                    &path,
                    "REDIS_URL is not rediss:// or rediss-cluster://, so there is no TLS \
                     connection to use it for",
                ));
            }
            Some(path) => Some(TlsCaBundle::read(&path)?),
        };
        Ok(Self {
            url,
            key_prefix,
            default_ttl: seconds_or(env, "REDIS_DEFAULT_TTL", 3600)?,
            course_ttl: seconds_or(env, "REDIS_COURSE_TTL", 3600)?,
            user_ttl: seconds_or(env, "REDIS_USER_TTL", 1800)?,
            command_timeout: millis_or(env, "REDIS_COMMAND_TIMEOUT_MS", 250)?,
            tls_ca,
        })
    }
}

/// The API's in-process near cache (L1) in front of Redis (`skillup_cache::near`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearCacheConfig {
    /// `CACHE_L1_MB` (default 16, `0` turns L1 off): the memory L1 may hold,
    /// keys and values counted.
    pub capacity_bytes: u64,
    /// `CACHE_L1_MAX_LAG_MS` (default 500, at least 200): L1 answers only while
    /// its last proof that Redis is reachable and tracking is younger than this,
    /// so no answer is staler than Redis by more than this.
    pub max_lag: Duration,
}

impl NearCacheConfig {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mb = integer_at_least(env, "CACHE_L1_MB", 16, 0)?;
        Ok(Self {
            capacity_bytes: mb.saturating_mul(1024 * 1024),
            max_lag: Duration::from_millis(integer_at_least(env, "CACHE_L1_MAX_LAG_MS", 500, 200)?),
        })
    }

    /// L1 off.
    pub fn disabled() -> Self {
        Self {
            capacity_bytes: 0,
            max_lag: Duration::from_millis(500),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.capacity_bytes > 0
    }
}

/// `HOST` and `PORT` of a service's HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    /// `SHUTDOWN_GRACE_SECS` (default 10): how long in-flight work may take after SIGTERM.
    pub shutdown_grace: Duration,
}

impl HttpConfig {
    pub fn from_env(env: &dyn EnvSource, default_port: u16) -> Result<Self, ConfigError> {
        Ok(Self {
            host: parse_or(env, "HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: parse_or(env, "PORT", default_port)?,
            shutdown_grace: seconds_or(env, "SHUTDOWN_GRACE_SECS", 10)?,
        })
    }
}

/// `JWT_SECRET`: the HS256 secret tokens are signed with (Supabase's "JWT secret").
#[derive(Clone)]
pub struct JwtConfig {
    pub secret: SecretString,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtConfig { secret: *** }")
    }
}

impl JwtConfig {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let secret = env.var("JWT_SECRET").ok_or(ConfigError::Missing {
            var: "JWT_SECRET",
            hint: " (the HS256 secret tokens are signed with)",
        })?;
        Ok(Self {
            secret: SecretString::from(secret),
        })
    }
}

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

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn defaults_follow_the_spec() {
        let e = env(&[]);
        let redis = RedisConfig::from_env(&e).expect("defaults are valid");
        assert_eq!(redis.url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(redis.key_prefix, "skillup:");
        assert_eq!(redis.default_ttl, Duration::from_secs(3600));
        assert_eq!(redis.course_ttl, Duration::from_secs(3600));
        assert_eq!(redis.user_ttl, Duration::from_secs(1800));
        let db = DatabaseConfig::from_env(&e).expect("defaults are valid");
        assert_eq!(
            db.url.expose(),
            "postgres://postgres@127.0.0.1:5432/skillup"
        );
        let http = HttpConfig::from_env(&e, 5000).expect("defaults are valid");
        assert_eq!(http.port, 5000);
        assert_eq!(http.host.to_string(), "0.0.0.0");
    }

    #[test]
    fn non_numeric_ttl_names_the_variable() {
        let err = RedisConfig::from_env(&env(&[("REDIS_COURSE_TTL", "soon")])).unwrap_err();
        assert!(err.to_string().starts_with("REDIS_COURSE_TTL="), "{err}");
    }

    #[test]
    fn zero_ttl_is_refused() {
        let err = RedisConfig::from_env(&env(&[("REDIS_USER_TTL", "0")])).unwrap_err();
        assert!(err.to_string().contains("REDIS_USER_TTL"), "{err}");
    }

    #[test]
    fn malformed_urls_name_the_variable_and_hide_passwords() {
        let err =
            RedisConfig::from_env(&env(&[("REDIS_URL", "http://u:hunter2@h:1")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("REDIS_URL="), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        let err = DatabaseConfig::from_env(&env(&[("DATABASE_URL", "not a url")])).unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_URL="), "{err}");
    }

    #[test]
    fn tls_redis_urls_are_accepted_and_redacted() {
        let cfg = RedisConfig::from_env(&env(&[(
            "REDIS_URL",
            "rediss://default:pw@redis.example:6380",
        )]))
        .unwrap();
        assert_eq!(
            format!("{:?}", cfg.url),
            "rediss://default:***@redis.example:6380"
        );
        assert!(!format!("{cfg:?}").contains("pw@"));
    }

    #[test]
    fn cluster_urls_are_accepted_and_redacted() {
        for (raw, shown) in [
            (
                "redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=127.0.0.1:7003",
                "redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=127.0.0.1:7003",
            ),
            (
                "rediss-cluster://default:hunter2@c.example:7001?node=c2.example:7001",
                "rediss-cluster://default:***@c.example:7001?node=c2.example:7001",
            ),
        ] {
            let cfg = RedisConfig::from_env(&env(&[("REDIS_URL", raw)])).unwrap();
            assert!(cfg.is_cluster());
            assert_eq!(cfg.url.expose(), raw);
            assert_eq!(format!("{:?}", cfg.url), shown);
            assert_eq!(cfg.url.to_string(), shown);
            assert!(!format!("{cfg:?}").contains("hunter2"));
        }
        assert!(!RedisConfig::from_env(&env(&[])).unwrap().is_cluster());
        let err = ca_error("redis-cluster://h:7001", "/nonexistent/ca.pem");
        assert!(err.contains("not rediss://"), "{err}");
        // With TLS the file is read: the error is about the file, not the scheme.
        let err = ca_error("rediss-cluster://h:7001", "/nonexistent/ca.pem");
        assert!(err.contains("cannot read"), "{err}");
        let err =
            RedisConfig::from_env(&env(&[("REDIS_URL", "redis-sentinel://u:hunter2@h:26379")]))
                .unwrap_err()
                .to_string();
        assert!(err.contains("redis-cluster"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    /// A file under the temp dir holding `contents`, removed by the caller's test end.
    fn temp_file(name: &str, contents: &[u8]) -> String {
        let path =
            std::env::temp_dir().join(format!("skillup-config-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write temp file");
        path.to_string_lossy().into_owned()
    }

    fn ca_error(url: &'static str, path: &str) -> String {
        let mut e: HashMap<String, String> = HashMap::new();
        e.insert("REDIS_URL".into(), url.into());
        e.insert("REDIS_TLS_CA_FILE".into(), path.into());
        RedisConfig::from_env(&e).unwrap_err().to_string()
    }

    #[test]
    fn without_a_ca_file_tls_uses_the_system_roots() {
        let cfg = RedisConfig::from_env(&env(&[("REDIS_URL", "rediss://h:6380")])).unwrap();
        assert!(cfg.tls_ca.is_none());
    }

    #[test]
    fn unusable_ca_files_name_the_variable() {
        let missing = ca_error("rediss://h:6380", "/nonexistent/ca.pem");
        assert!(missing.starts_with("REDIS_TLS_CA_FILE="), "{missing}");
        assert!(missing.contains("cannot read"), "{missing}");

        let empty = temp_file("empty.pem", b"just text, no PEM sections\n");
        let err = ca_error("rediss://h:6380", &empty);
        assert!(err.starts_with("REDIS_TLS_CA_FILE="), "{err}");
        assert!(err.contains("no PEM CERTIFICATE"), "{err}");

        let garbage = temp_file(
            "garbage.pem",
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        );
        let err = ca_error("rediss://h:6380", &garbage);
        assert!(err.starts_with("REDIS_TLS_CA_FILE="), "{err}");
        assert!(err.contains("not a usable CA certificate"), "{err}");

        let bad_base64 = temp_file(
            "base64.pem",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let err = ca_error("rediss://h:6380", &bad_base64);
        assert!(err.starts_with("REDIS_TLS_CA_FILE="), "{err}");

        for f in [empty, garbage, bad_base64] {
            let _ = std::fs::remove_file(f);
        }
    }

    #[test]
    fn a_ca_file_without_tls_is_refused() {
        // Checked before the file is read: a plain URL can never use it.
        let err = ca_error("redis://h:6379", "/nonexistent/ca.pem");
        assert!(err.starts_with("REDIS_TLS_CA_FILE="), "{err}");
        assert!(err.contains("not rediss://"), "{err}");
    }

    #[test]
    fn pattern_characters_in_the_prefix_are_refused() {
        let err = RedisConfig::from_env(&env(&[("REDIS_KEY_PREFIX", "a*")])).unwrap_err();
        assert!(err.to_string().starts_with("REDIS_KEY_PREFIX="), "{err}");
        let cluster = "redis-cluster://127.0.0.1:7001";
        let err = RedisConfig::from_env(&env(&[
            ("REDIS_KEY_PREFIX", "{app}:"),
            ("REDIS_URL", cluster),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with("REDIS_KEY_PREFIX="), "{err}");
        assert!(RedisConfig::from_env(&env(&[("REDIS_KEY_PREFIX", "{app}:")])).is_ok());
    }

    #[test]
    fn bad_port_and_log_format_name_the_variable() {
        let err = HttpConfig::from_env(&env(&[("PORT", "70000")]), 5000).unwrap_err();
        assert!(err.to_string().starts_with("PORT="), "{err}");
        let err = LogConfig::from_env(&env(&[("LOG_FORMAT", "xml")]), "x").unwrap_err();
        assert!(err.to_string().starts_with("LOG_FORMAT="), "{err}");
    }

    #[test]
    fn service_integers_have_defaults_and_floors() {
        assert_eq!(integer_at_least(&env(&[]), "X_BATCH", 500, 1).unwrap(), 500);
        assert_eq!(
            integer_at_least(&env(&[("X_BATCH", " 7 ")]), "X_BATCH", 500, 1).unwrap(),
            7
        );
        for bad in ["0", "-1", "many", "1.5"] {
            let err = integer_at_least(&env(&[("X_BATCH", bad)]), "X_BATCH", 500, 1).unwrap_err();
            assert!(err.to_string().starts_with("X_BATCH="), "{err}");
        }
    }

    #[test]
    fn jwt_secret_is_required_and_never_debug_printed() {
        let err = JwtConfig::from_env(&env(&[])).unwrap_err();
        assert!(
            err.to_string().starts_with("JWT_SECRET is required"),
            "{err}"
        );
        let cfg = JwtConfig::from_env(&env(&[("JWT_SECRET", "s3cret")])).unwrap();
        assert!(!format!("{cfg:?}").contains("s3cret"));
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
