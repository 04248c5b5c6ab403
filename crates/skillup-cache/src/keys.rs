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

/// A full Redis key (prefix included). Its guard and index names are derived on
/// demand: a read answered from L1 or Redis never needs them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    key: String,
    /// How many leading bytes of `key` are the prefix.
    prefix_len: usize,
    /// Set for keys invalidated together with their family (listing pages).
    family: Option<Family>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    CoursePages,
}

impl CacheKey {
    /// The key as stored in Redis.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The generation key checked when this key is filled: `gen:{<key>}`, or the
    /// family's shared one.
    pub fn guard(&self) -> String {
        let prefix = &self.key[..self.prefix_len];
        match self.family {
            None => format!("{prefix}gen:{{{}}}", self.key),
            Some(Family::CoursePages) => courses_pages_guard(prefix),
        }
    }

    /// The set a fill of this key registers it in (listing pages), if any.
    pub fn index(&self) -> Option<String> {
        let prefix = &self.key[..self.prefix_len];
        self.family
            .map(|Family::CoursePages| courses_pages_index(prefix))
    }
}

fn courses_pages_guard(prefix: &str) -> String {
    format!("{prefix}gen:courses:published")
}

fn courses_pages_index(prefix: &str) -> String {
    format!("{prefix}index:courses:published")
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

    fn key(&self, rest: std::fmt::Arguments<'_>, family: Option<Family>) -> CacheKey {
        use std::fmt::Write;
        let mut key = self.prefix.clone();
        key.write_fmt(rest)
            .expect("writing to a String cannot fail");
        CacheKey {
            key,
            prefix_len: self.prefix.len(),
            family,
        }
    }

    /// `course:{id}`: the course detail.
    pub fn course(&self, id: CourseId) -> CacheKey {
        self.key(format_args!("course:{id}"), None)
    }

    /// `user:{id}`: the `/api/me` snapshot.
    pub fn user(&self, id: UserId) -> CacheKey {
        self.key(format_args!("user:{id}"), None)
    }

    /// `courses:published:{page}:{per_page}`: one listing page.
    pub fn courses_page(&self, page: u32, per_page: u32) -> CacheKey {
        self.key(
            format_args!("courses:published:{page}:{per_page}"),
            Some(Family::CoursePages),
        )
    }

    /// The `SCAN` pattern matching every listing page.
    pub fn courses_pages_pattern(&self) -> String {
        format!("{}courses:published:*", self.prefix)
    }

    /// The one generation key shared by all listing pages.
    pub fn courses_pages_guard(&self) -> String {
        courses_pages_guard(&self.prefix)
    }

    /// The set of the listing pages filled since their last invalidation.
    pub fn courses_pages_index(&self) -> String {
        courses_pages_index(&self.prefix)
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
