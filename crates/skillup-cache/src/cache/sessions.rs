//! Session revocation: the marks logout leaves for tokens still unexpired.

use std::time::Duration;

use fred::prelude::*;

use super::Cache;
use crate::CacheError;

impl Cache {
    /// Whether logout revoked the session `revocation_id` (see
    /// `skillup_common::auth::Claims::revocation_id`). An error means Redis could not
    /// answer; the caller decides whether to fail open or closed.
    pub async fn is_revoked(&self, revocation_id: &str) -> Result<bool, CacheError> {
        let key = self.inner.keys.session_revoked(revocation_id);
        let n: u64 = self.call(self.inner.client.exists(key)).await?;
        Ok(n > 0)
    }

    /// Marks the session `revocation_id` revoked for `ttl` (the token's remaining
    /// life), or for good with `None`.
    pub async fn revoke_session(
        &self,
        revocation_id: &str,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let key = self.inner.keys.session_revoked(revocation_id);
        let expire =
            ttl.map(|t| Expiration::EX(i64::try_from(t.as_secs().max(1)).unwrap_or(i64::MAX)));
        self.call(
            self.inner
                .client
                .set::<(), _, _>(key, "1", expire, None, false),
        )
        .await
    }
}
