//! One fred client per process, built from `RedisConfig`.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::*;
use fred::rustls::{ClientConfig, RootCertStore};
use fred::types::config::{TlsConnector, UnresponsiveConfig};
use skillup_common::config::{RedisConfig, TlsCaBundle};

use crate::CacheError;

/// How long `connect` waits for the first connection before carrying on degraded.
pub const FIRST_CONNECT_WAIT: Duration = Duration::from_secs(2);

/// The fred builder for `cfg`: URL (plain or `rediss://`), a reconnect policy that
/// never gives up (100 ms doubling to 2 s), bounded connect and command timeouts,
/// and unresponsive-connection detection so a hung Redis is noticed. With
/// `REDIS_TLS_CA_FILE` a `rediss://` connection trusts exactly that bundle's CAs;
/// without it, fred's default (the system's roots).
pub fn builder(cfg: &RedisConfig) -> Result<Builder, CacheError> {
    let mut config = fred::types::config::Config::from_url(cfg.url.expose())
        .map_err(|e| CacheError::Config(e.to_string()))?;
    if let Some(ca) = &cfg.tls_ca {
        config.tls = Some(private_ca_connector(ca)?.into());
    }
    // Keep retrying when Redis is down at start instead of failing the caller:
    // services start degraded and pick Redis up when it appears.
    config.fail_fast = false;
    let command_timeout = cfg.command_timeout;
    // One attempt fails fast when Redis is down (the command timeout bounds the
    // wait anyway). On a cluster a redirection is an attempt too: with one, the
    // first command of every slot that moved (`MOVED`) would fail. (`ASK`, a slot
    // in migration, fails in fred 10.1 whatever the attempts: docs/cache.md.)
    let attempts = if cfg.is_cluster() { 3 } else { 1 };
    let mut builder = Builder::from_config(config);
    builder
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(2);
            c.internal_command_timeout = Duration::from_secs(2);
            c.max_command_attempts = attempts;
            c.unresponsive = UnresponsiveConfig {
                max_timeout: Some(Duration::from_secs(2)),
                interval: Duration::from_millis(500),
            };
        })
        .with_performance_config(|p| {
            p.default_command_timeout = command_timeout.max(Duration::from_millis(1));
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
    Ok(builder)
}

/// A rustls connector (ring, as everywhere in this workspace) whose only roots
/// are the bundle's certificates.
fn private_ca_connector(ca: &TlsCaBundle) -> Result<TlsConnector, CacheError> {
    let tls_error = |e: &dyn std::fmt::Display| {
        CacheError::Config(format!("REDIS_TLS_CA_FILE={}: {e}", ca.path.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in ca.certs.iter() {
        roots.add(cert.clone()).map_err(|e| tls_error(&e))?;
    }
    // An explicit provider: `ClientConfig::builder()` would panic if another
    // crypto provider ever entered the tree.
    let provider = Arc::new(fred::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config.into())
}

/// [`builder`] for a client whose connection tracks the keys it reads (Redis
/// client-side caching, which the near cache needs): RESP3, and room for bursts of
/// invalidation pushes between two reads of the push stream.
pub fn tracking_builder(cfg: &RedisConfig) -> Result<Builder, CacheError> {
    let mut builder = builder(cfg)?;
    builder
        .with_config(|c| c.version = fred::types::RespVersion::RESP3)
        .with_performance_config(|p| p.broadcast_channel_capacity = 4096);
    Ok(builder)
}

/// Builds the client and starts its connection task. Waits up to
/// [`FIRST_CONNECT_WAIT`] for Redis, then returns either way: a client that is not
/// connected yet keeps reconnecting in the background.
pub async fn connect(cfg: &RedisConfig) -> Result<Client, CacheError> {
    start(builder(cfg)?.build()?, cfg).await
}

/// [`connect`] with a [`tracking_builder`] client.
pub async fn connect_tracking(cfg: &RedisConfig) -> Result<Client, CacheError> {
    start(tracking_builder(cfg)?.build()?, cfg).await
}

async fn start(client: Client, cfg: &RedisConfig) -> Result<Client, CacheError> {
    let _task = client.connect();
    match tokio::time::timeout(FIRST_CONNECT_WAIT, client.wait_for_connect()).await {
        Ok(Ok(())) => tracing::info!(url = %cfg.url, "connected to redis"),
        Ok(Err(e)) => {
            tracing::warn!(url = %cfg.url, error = %e, "redis unavailable at start; running degraded")
        }
        Err(_) => {
            tracing::warn!(url = %cfg.url, "redis not reachable yet; running degraded and retrying")
        }
    }
    Ok(client)
}

/// Like [`connect`] but fails when Redis cannot be reached within
/// [`FIRST_CONNECT_WAIT`]: for tools that have nothing to do without it.
pub async fn connect_now(cfg: &RedisConfig) -> Result<Client, CacheError> {
    let client = builder(cfg)?.build()?;
    let _task = client.connect();
    match tokio::time::timeout(FIRST_CONNECT_WAIT, client.wait_for_connect()).await {
        Ok(Ok(())) => Ok(client),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            let _ = client.quit().await;
            Err(CacheError::NotConnected)
        }
    }
}
