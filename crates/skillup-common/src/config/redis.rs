//! The Redis section: `REDIS_*`, and the CA bundle a `rediss://` connection trusts.
//!
//! It stays here, beside the other sections, rather than next to the client it
//! configures in `skillup-cache`: the test kit builds `RedisConfig`s for every
//! crate's tests and depends only on this crate and `skillup-db`; with the config
//! in `skillup-cache`, the test kit would depend on the cache crate that
//! dev-depends on it (a cycle Cargo allows, but that builds the cache crate twice
//! in its own tests). And every service composes its config from these sections
//! with one `EnvSource` and one `ConfigError`. The cache crate owns what the
//! config turns into: `skillup_cache::client::builder`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::env::{
    ConfigError, EnvSource, SecretUrl, invalid, millis_or, parse_or, seconds_or, url_or,
};

/// `REDIS_*`: where Redis is, the key namespace and the TTL of each kind of entry.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: SecretUrl,
    /// `REDIS_KEY_PREFIX` (default `skillup:`): prepended to every key and channel.
    pub key_prefix: String,
    /// `REDIS_DEFAULT_TTL` (seconds, default 3600): the TTL of a kind of cached
    /// entry that has no variable of its own. Every kind cached today has one
    /// (`REDIS_COURSE_TTL`, `REDIS_USER_TTL`; a session revocation lives as long
    /// as its token), so this governs no entry yet: it is parsed and checked
    /// because the spec defines it, and a new kind of entry takes its TTL from
    /// here (`Cache::default_ttl`) until it earns a variable of its own.
    pub default_ttl: Duration,
    /// `REDIS_COURSE_TTL` (seconds, default 3600): `course:*` and `courses:published:*`.
    pub course_ttl: Duration,
    /// `REDIS_USER_TTL` (seconds, default 1800): `user:*`.
    pub user_ttl: Duration,
    /// `CACHE_STALE_SECS` (seconds, default 86400; 0 turns STALE off): how long
    /// past its expiry a course detail or listing page that no write invalidated
    /// may still be answered, with `X-Cache: STALE`, while Postgres fails. Entries
    /// stay in Redis that much longer than their TTL.
    pub stale_window: Duration,
    /// `CACHE_LEASE_MS` (default 1000; 0 turns leases off): how long the one
    /// process loading a cold key holds off the others' loads of it. Off, every
    /// process loads a cold key on its own (the "before" of the cold-start
    /// benchmark).
    pub lease: Duration,
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
            stale_window: Duration::from_secs(parse_or(env, "CACHE_STALE_SECS", 86_400)?),
            lease: Duration::from_millis(parse_or(env, "CACHE_LEASE_MS", 1000)?),
            command_timeout: millis_or(env, "REDIS_COMMAND_TIMEOUT_MS", 250)?,
            tls_ca,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::env::test_env as env;

    #[test]
    fn defaults_follow_the_spec() {
        let redis = RedisConfig::from_env(&env(&[])).expect("defaults are valid");
        assert_eq!(redis.url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(redis.key_prefix, "skillup:");
        assert_eq!(redis.default_ttl, Duration::from_secs(3600));
        assert_eq!(redis.course_ttl, Duration::from_secs(3600));
        assert_eq!(redis.user_ttl, Duration::from_secs(1800));
        assert_eq!(redis.stale_window, Duration::from_secs(86_400));
        assert_eq!(redis.lease, Duration::from_secs(1));
    }

    #[test]
    fn the_stale_window_may_be_turned_off_but_not_garbled() {
        let off = RedisConfig::from_env(&env(&[("CACHE_STALE_SECS", "0")])).unwrap();
        assert_eq!(off.stale_window, Duration::ZERO);
        let err = RedisConfig::from_env(&env(&[("CACHE_STALE_SECS", "a day")])).unwrap_err();
        assert!(err.to_string().contains("CACHE_STALE_SECS"), "{err}");
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
}
