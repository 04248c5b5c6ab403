//! The `LISTEN skillup_invalidations` connection, turned into wake-ups.
//!
//! A notification is only a hint that the outbox has work; the table is the
//! truth. Notifications sent while the connection is down are lost, so every
//! (re)connection also wakes the worker to drain, and the worker polls anyway.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use crate::worker::Backoff;

/// The channel the outbox triggers notify.
pub const CHANNEL: &str = "skillup_invalidations";

/// A wake-up channel that coalesces: while one wake is pending, more are dropped.
pub fn wake_channel() -> (mpsc::Sender<()>, mpsc::Receiver<()>) {
    mpsc::channel(1)
}

/// Listens forever (until the task is aborted), reconnecting with capped backoff
/// and sending a wake on every notification and every (re)connection.
pub async fn listen(url: String, wake: mpsc::Sender<()>, max_backoff: Duration) {
    let mut backoff = Backoff::new(Duration::from_millis(100), max_backoff);
    loop {
        let mut listener = match connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                let wait = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?wait, "cannot LISTEN; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        backoff.reset();
        tracing::info!(channel = CHANNEL, "listening for invalidations");
        // Anything notified while we were not listening is in the outbox: drain it.
        let _ = wake.try_send(());
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => {
                    let _ = wake.try_send(());
                }
                Ok(None) => {
                    tracing::warn!("LISTEN connection lost; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
