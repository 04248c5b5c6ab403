//! Session revocation: the marks logout leaves for tokens still unexpired.

use std::time::Duration;

use fred::prelude::*;

use super::Cache;
use crate::{CacheError, scripts};

impl Cache {
    /// Whether logout revoked the session `revocation_id` (see
    /// `skillup_common::auth::Claims::revocation_id`). An error means Redis could not
    /// answer; the caller decides whether to fail open or closed.
    pub async fn is_revoked(&self, revocation_id: &str) -> Result<bool, CacheError> {
        let key = self.inner.keys.session_revoked(revocation_id);
        let n: u64 = self.call(self.inner.client.exists(key)).await?;
        Ok(n > 0)
    }

    /// For each of `revocation_ids`, whether it is revoked: pipelined `EXISTS`,
    /// a thousand per round trip (a realtime node checking its sessions after
    /// its subscription was down).
    pub async fn revoked_among(&self, revocation_ids: &[String]) -> Result<Vec<bool>, CacheError> {
        let mut flags = Vec::with_capacity(revocation_ids.len());
        for chunk in revocation_ids.chunks(1000) {
            let found: Vec<u64> = self
                .call(async {
                    let pipeline = self.inner.client.pipeline();
                    for id in chunk {
                        let () = pipeline.exists(self.inner.keys.session_revoked(id)).await?;
                    }
                    pipeline.all().await
                })
                .await?;
            flags.extend(found.into_iter().map(|n| n > 0));
        }
        Ok(flags)
    }

    /// Marks the session `revocation_id` revoked for `ttl` (the token's remaining
    /// life), or for good with `None`, and announces it on the control channel in
    /// the same script, so every realtime node ends the session's sockets.
    pub async fn revoke_session(
        &self,
        revocation_id: &str,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let key = self.inner.keys.session_revoked(revocation_id);
        let ttl = ttl.map_or_else(String::new, |t| t.as_secs().max(1).to_string());
        let message = serde_json::to_string(&skillup_events::Control::SessionRevoked {
            revocation_id: revocation_id.to_owned(),
        })
        .expect("control messages serialize");
        self.call(scripts::REVOKE.evalsha_with_reload::<i64, _, _>(
            &self.inner.client,
            vec![key],
            vec![ttl, self.inner.keys.control_channel(), message],
        ))
        .await
        .map(drop)
    }
}
