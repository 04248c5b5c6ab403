//! A TCP proxy a test can cut: between one process and a shared service (Redis,
//! Postgres), so that process sees an outage while everything else keeps the
//! service — the shared servers themselves are never stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards `127.0.0.1:port` to a target until dropped. [`TcpProxy::cut`]
/// closes every connection through it and refuses new ones until
/// [`TcpProxy::restore`].
pub struct TcpProxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a proxy port");
        let port = listener.local_addr().expect("local addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let target = target.to_owned();
        let task = tokio::spawn({
            let up = up.clone();
            let generation = generation.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused in effect
                    }
                    let target = target.clone();
                    let mut cut = generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Self {
            port,
            up,
            generation,
            task,
        }
    }

    /// A proxy to the server a URL (`postgres://…`, `redis://…`) names.
    pub async fn start_for_url(url: &str) -> Self {
        let parsed = url::Url::parse(url).expect("a service URL");
        let host = parsed.host_str().unwrap_or("127.0.0.1");
        let port = parsed.port().unwrap_or(match parsed.scheme() {
            "redis" | "rediss" => 6379,
            _ => 5432,
        });
        Self::start(&format!("{host}:{port}")).await
    }

    /// `url` with its host and port replaced by this proxy's.
    pub fn through(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("a service URL");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }

    /// The proxied address as `host:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}
