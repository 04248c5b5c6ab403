//! Key and channel names (after `REDIS_KEY_PREFIX`), as the spec fixes them:
//! `course:{id}`, `courses:published:{page}:{per_page}`, `user:{id}`,
//! `session:revoked:{sid}`, channels `events:progress` and `events:course`.
//!
//! Keys are built only from typed ids and numbers, so no request text can put a
//! pattern character into a `SCAN` or `DEL`.
//!
//! Each cached key also has a *guard* key holding its generation (see
//! [`crate::Cache::invalidate`]): `gen:{<key>}` for a single entry, and one shared
//! `gen:courses:published` for all listing pages, which are invalidated together.
//! The braces make a single entry's guard hash to the same cluster slot as the entry.
//!
//! Listing pages are also registered, when filled, in one set
//! `index:courses:published`, so invalidating them costs the number of pages
//! cached, not a `SCAN` of the whole keyspace.

use skillup_common::{CourseId, UserId};

/// A full Redis key (prefix included) and the generation key that guards its fills.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    key: String,
    guard: String,
    /// The set a fill registers the key in, for the families invalidated together.
    index: Option<String>,
}

impl CacheKey {
    /// The key as stored in Redis.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The generation key checked when this key is filled.
    pub fn guard(&self) -> &str {
        &self.guard
    }

    /// The set a fill of this key registers it in (listing pages), if any.
    pub fn index(&self) -> Option<&str> {
        self.index.as_deref()
    }
}

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key)
    }
}

/// Builds every name under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// `prefix` must not contain pattern characters; `RedisConfig` refuses them.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn single(&self, rest: &str) -> CacheKey {
        let key = format!("{}{rest}", self.prefix);
        let guard = format!("{}gen:{{{key}}}", self.prefix);
        CacheKey {
            key,
            guard,
            index: None,
        }
    }

    /// `course:{id}`: the course detail.
    pub fn course(&self, id: CourseId) -> CacheKey {
        self.single(&format!("course:{id}"))
    }

    /// `user:{id}`: the `/api/me` snapshot.
    pub fn user(&self, id: UserId) -> CacheKey {
        self.single(&format!("user:{id}"))
    }

    /// `courses:published:{page}:{per_page}`: one listing page.
    pub fn courses_page(&self, page: u32, per_page: u32) -> CacheKey {
        CacheKey {
            key: format!("{}courses:published:{page}:{per_page}", self.prefix),
            guard: self.courses_pages_guard(),
            index: Some(self.courses_pages_index()),
        }
    }

    /// The `SCAN` pattern matching every listing page.
    pub fn courses_pages_pattern(&self) -> String {
        format!("{}courses:published:*", self.prefix)
    }

    /// The one generation key shared by all listing pages.
    pub fn courses_pages_guard(&self) -> String {
        format!("{}gen:courses:published", self.prefix)
    }

    /// The set of the listing pages filled since their last invalidation.
    pub fn courses_pages_index(&self) -> String {
        format!("{}index:courses:published", self.prefix)
    }

    /// `session:revoked:{sid}`. `sid` must be a uuid or a hex digest (the caller
    /// hashes anything else).
    pub fn session_revoked(&self, sid: &str) -> String {
        debug_assert!(sid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
        format!("{}session:revoked:{sid}", self.prefix)
    }

    /// The pub/sub channel of `progress:updated` events.
    pub fn progress_channel(&self) -> String {
        format!("{}events:progress", self.prefix)
    }

    /// The pub/sub channel of `course:updated` events.
    pub fn course_channel(&self) -> String {
        format!("{}events:course", self.prefix)
    }

    /// A `SCAN` pattern confined to the prefix: `pattern` is appended to the
    /// prefix, which holds no pattern characters, so the match can never reach a
    /// key outside it. An empty pattern means every key under the prefix.
    pub fn scoped_pattern(&self, pattern: &str) -> String {
        let pattern = if pattern.is_empty() { "*" } else { pattern };
        format!("{}{pattern}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec() {
        let k = Keys::new("skillup:");
        let id: CourseId = "0123b6d1-fe4b-4cec-84e3-08312f2a32e5".parse().unwrap();
        assert_eq!(
            k.course(id).as_str(),
            "skillup:course:0123b6d1-fe4b-4cec-84e3-08312f2a32e5"
        );
        assert_eq!(
            k.course(id).guard(),
            "skillup:gen:{skillup:course:0123b6d1-fe4b-4cec-84e3-08312f2a32e5}"
        );
        assert_eq!(
            k.courses_page(2, 20).as_str(),
            "skillup:courses:published:2:20"
        );
        assert_eq!(
            k.courses_page(2, 20).guard(),
            "skillup:gen:courses:published"
        );
        assert_eq!(k.courses_pages_pattern(), "skillup:courses:published:*");
        assert_eq!(k.progress_channel(), "skillup:events:progress");
        assert_eq!(k.course_channel(), "skillup:events:course");
        assert_eq!(k.scoped_pattern(""), "skillup:*");
        assert_eq!(k.scoped_pattern("course:*"), "skillup:course:*");
    }
}
