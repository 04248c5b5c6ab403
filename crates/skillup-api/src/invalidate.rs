//! Read-your-writes: after a write commits, the API deletes the cache entries it
//! made stale before it answers, so the writer's next read is fresh.
//!
//! Writes never depend on Redis: when invalidation fails (Redis down or slow), the
//! write still succeeds and the failure is logged; the durable outbox the write's
//! own transaction filled lets the invalidator apply it later.

use skillup_cache::{Cache, CacheKey};
use skillup_common::{CourseId, UserId};

/// Invalidates `keys` and, with `pages`, every listing page.
pub async fn after_write(cache: &Cache, keys: &[CacheKey], pages: bool) {
    if let Err(e) = cache.invalidate(keys).await {
        tracing::warn!(error = %e, keys = keys.len(), "cache invalidation failed; the outbox will catch up");
    }
    if pages && let Err(e) = cache.invalidate_course_pages().await {
        tracing::warn!(error = %e, "listing invalidation failed; the outbox will catch up");
    }
}

/// `course:{id}` and the `user:{id}` snapshot of each of `users` (the people
/// enrolled in the course, whose `/api/me` shows its title and lesson count).
pub fn course_and_users(cache: &Cache, course: CourseId, users: &[UserId]) -> Vec<CacheKey> {
    let keys = cache.keys();
    std::iter::once(keys.course(course))
        .chain(users.iter().map(|u| keys.user(*u)))
        .collect()
}
