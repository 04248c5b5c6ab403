//! The stream's heartbeat: every second the last offset committed, on the control
//! channel. A node that missed a publish (the invalidator died between its
//! commit and its publish, or the message was lost on the way) learns of the
//! gap within a second and reads it from `realtime_events`; without it such a
//! node would wait for the next event.

use std::time::Duration;

use skillup_cache::{Bytes, Cache};
use skillup_db::PgPool;
use skillup_events::{Control, Offset};

/// How often the heartbeat is published.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Publishes the head of the stream every [`INTERVAL`] until the task is
/// aborted. Failures (Postgres or Redis down) are skipped quietly: the next
/// beat tries again.
pub async fn run(pool: PgPool, cache: Cache) {
    let channel = cache.keys().control_channel();
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Ok(head) = skillup_db::events::head(&pool).await else {
            continue;
        };
        let beat = Control::Heartbeat {
            last: Offset::new(head.epoch, head.last),
        };
        let message = serde_json::to_string(&beat).expect("control messages serialize");
        if let Err(e) = cache.publish(&channel, Bytes::from(message)).await {
            tracing::debug!(error = %e, "heartbeat not published");
        }
    }
}
