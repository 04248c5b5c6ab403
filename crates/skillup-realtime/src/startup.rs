//! Building and running the realtime node.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use skillup_cache::Cache;
use skillup_common::auth::JwtKeys;
use socketioxide::SocketIo;
use socketioxide::handler::ConnectHandler;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

use crate::config::RealtimeConfig;
use crate::http::{self, HttpState};
use crate::hub::{Hub, HubSettings};
use crate::relay::Relay;
use crate::sockets;
use crate::state::AppState;

pub struct Application {
    port: u16,
    listener: tokio::net::TcpListener,
    router: Router,
    io: SocketIo,
    relay: Relay,
    state: AppState,
    hub_task: tokio::task::JoinHandle<()>,
    grace: Duration,
}

/// Packets kept free in a socket's buffer when a replay is sent to it.
const REPLAY_MARGIN: usize = 16;

impl Application {
    /// Connects to Postgres (lazily) and Redis, and binds `HOST:PORT` (0 = any free port).
    pub async fn build(config: RealtimeConfig) -> anyhow::Result<Self> {
        // The recorder first: queries run from here on (migrations, the first
        // loads) are counted too.
        let prometheus = skillup_common::telemetry::prometheus();
        let db = skillup_db::connect_lazy(&config.database).context("DATABASE_URL")?;
        let cache = Cache::connect(&config.redis).await.context("REDIS_URL")?;
        let (hub, hub_task) = Hub::start(
            db.clone(),
            cache.clone(),
            HubSettings {
                replay: config.replay,
                max_replay: config
                    .sockets
                    .max_buffer
                    .saturating_sub(REPLAY_MARGIN)
                    .max(1),
            },
        );
        let state = AppState {
            db,
            cache,
            jwt: JwtKeys::new(&config.jwt),
            hub,
        };
        let (layer, io) = SocketIo::builder()
            .with_state(state.clone())
            .max_buffer_size(config.sockets.max_buffer)
            // Inbound frames are tiny (subscribe/unsubscribe, pongs); tungstenite
            // grows the buffer for a larger one. 256 B instead of its 4 KiB saves
            // ~3.7 KiB per connection (docs/benchmarks.md, the memory profile).
            .ws_read_buffer_size(256)
            .ping_interval(config.sockets.ping_interval)
            .ping_timeout(config.sockets.ping_timeout)
            .build_layer();
        io.ns("/", sockets::on_connect.with(sockets::authenticate));
        let relay = Relay::new(&config.redis).context("REDIS_URL")?;
        if !relay.start(skillup_cache::client::FIRST_CONNECT_WAIT).await {
            tracing::warn!("redis pub/sub not reachable yet; events will flow once it is");
        }

        let http_state = HttpState {
            app: state.clone(),
            io: io.clone(),
            relay: relay.clone(),
            metrics: prometheus.clone(),
        };
        let router = Router::new()
            .route("/health", get(http::health))
            .route("/livez", get(http::livez))
            .route("/readyz", get(http::readyz))
            .route("/metrics", get(http::metrics_text))
            .route("/demo/me", get(http::demo_me))
            .route(
                "/favicon.ico",
                get(async || axum::http::StatusCode::NO_CONTENT),
            )
            .merge(crate::web::routes(config.web_dir.as_deref()))
            .with_state(http_state)
            .layer(
                ServiceBuilder::new()
                    .layer(TraceLayer::new_for_http())
                    .layer(tower::util::MapRequestLayer::new(
                        crate::compact::compact::<axum::body::Body>,
                    ))
                    .layer(layer),
            );

        let listener = tokio::net::TcpListener::bind((config.http.host, config.http.port))
            .await
            .with_context(|| format!("binding {}:{}", config.http.host, config.http.port))?;
        let port = listener.local_addr()?.port();
        tracing::info!(port, "skillup-realtime listening");
        Ok(Self {
            port,
            listener,
            router,
            io,
            relay,
            state,
            hub_task,
            grace: config.http.shutdown_grace,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves; then disconnects every socket, stops
    /// accepting, lets in-flight requests finish, and closes Redis and Postgres.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let relaying = self.relay.clone().spawn(self.state.hub.clone());
        let io = self.io.clone();
        let grace = self.grace;
        let serve = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            shutdown.await;
            // Open sockets hold the graceful shutdown (a long-polling client keeps a
            // request pending for up to a ping interval): close them first.
            if tokio::time::timeout(grace, io.close()).await.is_err() {
                tracing::warn!("sockets did not all close within {grace:?}");
            }
        });
        serve.await.context("serving")?;
        relaying.abort();
        self.hub_task.abort();
        self.relay.quit().await;
        self.state.cache.quit(self.grace).await;
        self.state.db.close().await;
        tracing::info!("skillup-realtime stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// The workspace patches engineioxide-core (vendor/engineioxide-core/SKILLUP.md):
    /// one packet inline in each socket's channel slot instead of two.
    #[test]
    fn the_patched_packet_buffer_is_in_use() {
        let slot = std::mem::size_of::<engineioxide_core::PacketBuf>();
        let packet = std::mem::size_of::<engineioxide_core::Packet>();
        assert!(
            slot < 2 * packet,
            "PacketBuf is {slot} bytes, Packet {packet}"
        );
    }
}
