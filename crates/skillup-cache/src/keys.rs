//! Key and channel names (after `REDIS_KEY_PREFIX`), as the spec fixes them:
//! `course:{id}`, `courses:published:{page}:{per_page}` (and, for a search or a
//! filter, `courses:published:{page}:{per_page}:{digest}`), `user:{id}`,
//! `session:revoked:{sid}`, channels `events:progress` and `events:course`.
//!
//! Keys are built only from typed ids, numbers and hex digests, so no request text
//! can put a pattern character into a `SCAN` or `DEL`.
//!
//! Each cached key also has a *guard* key holding its generation (see
//! [`crate::Cache::invalidate`]): `gen:{<key>}` for a single entry. The braces make
//! the guard hash to the same cluster slot as the entry, so a script may name both.
//! So does its *lease* `lease:{<key>}`, which the one process loading a cold key
//! holds meanwhile (see [`crate::Cache::get_or_load`]).
//!
//! Listing pages, which are invalidated together, depend on where they live:
//! - on a single Redis they share one guard `gen:courses:published` and are
//!   registered, when filled, in one set `index:courses:published`, so invalidating
//!   them costs the number of pages cached, not a `SCAN` of the whole keyspace;
//! - on a Redis Cluster that shared guard and set would sit in other slots than the
//!   pages (whose names the spec fixes), and no script may name keys of several
//!   slots. Each page there has its own guard `gen:{<page key>}`, which its loader
//!   creates before reading the database, and invalidation finds the guards with a
//!   `SCAN` of every primary (see [`crate::Cache::invalidate_course_pages`]).

use skillup_common::{CourseId, UserId};

/// A full Redis key (prefix included). Its guard and index names are derived on
/// demand: a read answered from L1 or Redis never needs them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    key: String,
    /// How many leading bytes of `key` are the prefix.
    prefix_len: usize,
    guard: Guard,
}

/// Which generation key guards the fills of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Guard {
    /// `gen:{<key>}`, created by the first invalidation of the key.
    Own,
    /// `gen:{<key>}`, created by every loader before it reads the database, so that
    /// an invalidation of the whole family can find it with `SCAN` (listing pages
    /// on a cluster).
    OwnFoundByScan,
    /// The family's shared guard and index set (listing pages on a single Redis).
    Shared(Family),
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
    /// family's shared one (listing pages on a single Redis).
    pub fn guard(&self) -> String {
        let prefix = &self.key[..self.prefix_len];
        match self.guard {
            Guard::Own | Guard::OwnFoundByScan => own_guard(prefix, &self.key),
            Guard::Shared(Family::CoursePages) => courses_pages_guard(prefix),
        }
    }

    /// The set a fill of this key registers it in (listing pages on a single
    /// Redis), if any.
    pub fn index(&self) -> Option<String> {
        let prefix = &self.key[..self.prefix_len];
        match self.guard {
            Guard::Shared(Family::CoursePages) => Some(courses_pages_index(prefix)),
            Guard::Own | Guard::OwnFoundByScan => None,
        }
    }

    /// The lease a loader takes before it reads the database for this key:
    /// `lease:{<key>}`, in the key's cluster slot.
    pub fn lease(&self) -> String {
        let prefix = &self.key[..self.prefix_len];
        format!("{prefix}lease:{{{}}}", self.key)
    }

    /// Whether a loader must create the guard before it reads the database,
    /// because invalidations find this key through its guard (listing pages on a
    /// cluster).
    pub fn guard_must_exist(&self) -> bool {
        self.guard == Guard::OwnFoundByScan
    }
}

fn own_guard(prefix: &str, key: &str) -> String {
    format!("{prefix}gen:{{{key}}}")
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

/// Builds every name under one prefix, for a single Redis or a cluster.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    /// Whether the keys live on a Redis Cluster: listing pages then get guards of
    /// their own instead of the shared guard and index set.
    clustered: bool,
}

impl Keys {
    /// The names on a single Redis. `prefix` must not contain pattern characters;
    /// `RedisConfig` refuses them.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            clustered: false,
        }
    }

    /// The names on a Redis Cluster (`true`) or a single Redis (`false`); only the
    /// guards of listing pages differ.
    #[must_use]
    pub fn on_cluster(mut self, clustered: bool) -> Self {
        self.clustered = clustered;
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether these are the names on a Redis Cluster.
    pub fn is_clustered(&self) -> bool {
        self.clustered
    }

    fn key(&self, rest: std::fmt::Arguments<'_>, guard: Guard) -> CacheKey {
        use std::fmt::Write;
        let mut key = self.prefix.clone();
        key.write_fmt(rest)
            .expect("writing to a String cannot fail");
        CacheKey {
            key,
            prefix_len: self.prefix.len(),
            guard,
        }
    }

    /// `course:{id}`: the course detail.
    pub fn course(&self, id: CourseId) -> CacheKey {
        self.key(format_args!("course:{id}"), Guard::Own)
    }

    /// `user:{id}`: the `/api/me` snapshot.
    pub fn user(&self, id: UserId) -> CacheKey {
        self.key(format_args!("user:{id}"), Guard::Own)
    }

    /// `courses:published:{page}:{per_page}`: one listing page.
    pub fn courses_page(&self, page: u32, per_page: u32) -> CacheKey {
        self.key(
            format_args!("courses:published:{page}:{per_page}"),
            self.pages_guard(),
        )
    }

    /// `courses:published:{page}:{per_page}:{digest}`: one page of a searched,
    /// filtered or reordered listing. `filter` is the listing's canonical filter
    /// (one spelling per meaning); the key holds the first 64 bits of its SHA-256
    /// in hex, so any search names a short key of hex digits only, and the page
    /// belongs to the listing family: invalidated with it, in its slot rules.
    pub fn courses_filtered_page(&self, page: u32, per_page: u32, filter: &str) -> CacheKey {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(filter.as_bytes());
        let digest = hex::encode(&digest[..8]);
        self.key(
            format_args!("courses:published:{page}:{per_page}:{digest}"),
            self.pages_guard(),
        )
    }

    fn pages_guard(&self) -> Guard {
        if self.clustered {
            Guard::OwnFoundByScan
        } else {
            Guard::Shared(Family::CoursePages)
        }
    }

    /// The `SCAN` pattern matching every listing page.
    pub fn courses_pages_pattern(&self) -> String {
        format!("{}courses:published:*", self.prefix)
    }

    /// `course:*`: every course detail (a flush of the family).
    pub fn courses_pattern(&self) -> String {
        format!("{}course:*", self.prefix)
    }

    /// `user:*`: every `/api/me` snapshot.
    pub fn users_pattern(&self) -> String {
        format!("{}user:*", self.prefix)
    }

    /// `session:revoked:*`: every revocation.
    pub fn revocations_pattern(&self) -> String {
        format!("{}session:revoked:*", self.prefix)
    }

    /// The listing page whose own guard is `guard` (`None` for any other name).
    pub(crate) fn courses_page_of_guard<'a>(&self, guard: &'a str) -> Option<&'a str> {
        let page = guard
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix("gen:{")?
            .strip_suffix('}')?;
        page.strip_prefix(self.prefix.as_str())?
            .starts_with("courses:published:")
            .then_some(page)
    }

    /// The own guard of the key named `key` (under this prefix): `gen:{<key>}`.
    pub(crate) fn own_guard(&self, key: &str) -> String {
        own_guard(&self.prefix, key)
    }

    /// The one generation key shared by all listing pages on a single Redis.
    pub fn courses_pages_guard(&self) -> String {
        courses_pages_guard(&self.prefix)
    }

    /// The set of the listing pages filled since their last invalidation (single
    /// Redis).
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

    /// The pub/sub channel of messages between the services about the stream
    /// (rights, revoked sessions, heartbeats; `skillup_events::Control`).
    pub fn control_channel(&self) -> String {
        format!("{}events:control", self.prefix)
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
        assert!(k.courses_page(2, 20).index().is_some());
        assert!(!k.courses_page(2, 20).guard_must_exist());
        assert_eq!(k.courses_pages_pattern(), "skillup:courses:published:*");
        assert_eq!(k.courses_pattern(), "skillup:course:*");
        assert_eq!(k.users_pattern(), "skillup:user:*");
        assert_eq!(k.revocations_pattern(), "skillup:session:revoked:*");
        assert_eq!(k.progress_channel(), "skillup:events:progress");
        assert_eq!(k.course_channel(), "skillup:events:course");
        assert_eq!(k.control_channel(), "skillup:events:control");
        assert_eq!(k.scoped_pattern(""), "skillup:*");
        assert_eq!(k.scoped_pattern("course:*"), "skillup:course:*");
    }

    #[test]
    fn a_filtered_page_is_a_listing_page_named_by_a_digest() {
        for k in [
            Keys::new("skillup:"),
            Keys::new("skillup:").on_cluster(true),
        ] {
            let page = k.courses_filtered_page(2, 20, "q=bread\nsort=relevance\n");
            let name = page.as_str();
            let digest = name
                .strip_prefix("skillup:courses:published:2:20:")
                .expect("a listing page");
            assert_eq!(digest.len(), 16);
            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
            assert_eq!(
                page.guard(),
                k.courses_page(2, 20)
                    .guard()
                    .replace(":2:20}", &format!(":2:20:{digest}}}"))
            );
            assert_eq!(
                page.index().is_some(),
                k.courses_page(2, 20).index().is_some()
            );
            assert_ne!(
                name,
                k.courses_filtered_page(2, 20, "q=bread\nsort=newest\n")
                    .as_str()
            );
            assert_eq!(
                name,
                k.courses_filtered_page(2, 20, "q=bread\nsort=relevance\n")
                    .as_str()
            );
        }
    }

    #[test]
    fn on_a_cluster_each_listing_page_has_its_own_guard_in_its_slot() {
        let k = Keys::new("skillup:").on_cluster(true);
        let page = k.courses_page(2, 20);
        assert_eq!(page.as_str(), "skillup:courses:published:2:20");
        assert_eq!(page.guard(), "skillup:gen:{skillup:courses:published:2:20}");
        assert_eq!(page.index(), None);
        assert!(page.guard_must_exist());
        assert_eq!(
            page.lease(),
            "skillup:lease:{skillup:courses:published:2:20}"
        );
        let slot = fred::util::redis_keyslot(page.as_str().as_bytes());
        assert_eq!(fred::util::redis_keyslot(page.guard().as_bytes()), slot);
        assert_eq!(fred::util::redis_keyslot(page.lease().as_bytes()), slot);
        let id: CourseId = "0123b6d1-fe4b-4cec-84e3-08312f2a32e5".parse().unwrap();
        assert_eq!(
            k.course(id).guard(),
            Keys::new("skillup:").course(id).guard()
        );
        assert!(!k.course(id).guard_must_exist());
        assert_eq!(
            k.courses_page_of_guard(&page.guard()),
            Some("skillup:courses:published:2:20")
        );
        for other in [
            "skillup:gen:{skillup:course:1}",
            "skillup:gen:{other:courses:published:1:2}",
            "skillup:courses:published:1:2",
            "other:gen:{skillup:courses:published:1:2}",
        ] {
            assert_eq!(k.courses_page_of_guard(other), None, "{other}");
        }
    }
}
