//! What a cached entry holds besides its body: when it stops being fresh, its
//! `ETag`, and whether it records an absence (a cached 404).
//!
//! An entry lives in Redis for its TTL plus the stale window
//! (`CACHE_STALE_SECS`): past `fresh_until` it is no longer answered as a hit,
//! but it is still there to be answered as STALE while the database fails. The
//! freshness is written into the value because Redis' own expiry must be later
//! than it.
//!
//! Layout (binary, so a hit parses it without copying the body):
//!
//! ```text
//! 0xE1 | kind (b'V' value, b'A' absent) | fresh_until: u64 BE, unix ms | etag length: u8 | etag | body
//! ```
//!
//! `0xE1` is never the first byte of JSON, so a value stored without an envelope
//! (by [`crate::Cache::set`], by another tool, or by a version before envelopes)
//! is told apart: [`Envelope::read`] takes it as a value that stays fresh until
//! Redis expires it, tagged when read, and never served stale.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use sha2::{Digest, Sha256};

const MAGIC: u8 = 0xE1;
const VALUE: u8 = b'V';
const ABSENT: u8 = b'A';
/// magic, kind, fresh_until, etag length.
const FIXED: usize = 1 + 1 + 8 + 1;

/// A decoded entry; `etag` and `body` share the stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Unix milliseconds after which the entry is no longer fresh.
    pub fresh_until: u64,
    /// The strong entity tag of `body`, quotes included (`"…"`); empty for an absence.
    pub etag: Bytes,
    /// The response body; `None` records that the loader found nothing.
    pub body: Option<Bytes>,
}

impl Envelope {
    /// Wraps a loader's answer, fresh for `ttl` from now.
    pub fn new(body: Option<Bytes>, ttl: Duration) -> Self {
        let etag = body.as_ref().map(|b| etag_of(b)).unwrap_or_default();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Self {
            fresh_until: now_ms().saturating_add(ttl_ms),
            etag,
            body,
        }
    }

    /// The stored form.
    pub fn encode(&self) -> Bytes {
        let body = self.body.as_deref().unwrap_or_default();
        let mut out = BytesMut::with_capacity(FIXED + self.etag.len() + body.len());
        out.put_u8(MAGIC);
        out.put_u8(if self.body.is_some() { VALUE } else { ABSENT });
        out.put_u64(self.fresh_until);
        // Tags are made by `etag_of`: 26 bytes.
        out.put_u8(u8::try_from(self.etag.len()).unwrap_or(0));
        out.put_slice(&self.etag);
        out.put_slice(body);
        out.freeze()
    }

    /// The entry in `stored`: its envelope, or `stored` itself as a raw value.
    pub fn read(stored: Bytes) -> Self {
        Self::decode(&stored).unwrap_or_else(|| Self {
            fresh_until: u64::MAX,
            etag: etag_of(&stored),
            body: Some(stored),
        })
    }

    /// Whether this entry came without an envelope (see [`Envelope::read`]).
    pub fn is_raw(&self) -> bool {
        self.fresh_until == u64::MAX
    }

    /// The entry in `stored`, `None` if it is not an envelope.
    pub fn decode(stored: &Bytes) -> Option<Self> {
        let header = stored.get(..FIXED)?;
        if header[0] != MAGIC {
            return None;
        }
        let fresh_until = u64::from_be_bytes(header[2..10].try_into().ok()?);
        let body_at = FIXED + usize::from(header[10]);
        if stored.len() < body_at {
            return None;
        }
        let body = match header[1] {
            VALUE => Some(stored.slice(body_at..)),
            ABSENT => None,
            _ => return None,
        };
        Some(Self {
            fresh_until,
            etag: stored.slice(FIXED..body_at),
            body,
        })
    }

    pub fn is_fresh(&self) -> bool {
        now_ms() < self.fresh_until
    }

    /// The bytes that identify this entry in Redis: the header, which holds its
    /// fill time and tag. A refill or an invalidation changes or removes them.
    pub fn header_len(&self) -> usize {
        FIXED + self.etag.len()
    }
}

/// The strong `ETag` of a body: a quoted hex digest of its first 96 bits of
/// SHA-256 — unique enough for one resource's versions, and computed once per fill.
pub fn etag_of(body: &[u8]) -> Bytes {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(26);
    tag.push('"');
    tag.push_str(&hex::encode(&digest[..12]));
    tag.push('"');
    Bytes::from(tag)
}

/// `ttl` shortened by a random part of up to a tenth, so that entries filled
/// together (after a restart, a deploy, a warm-up) do not expire together.
pub fn spread(ttl: Duration) -> Duration {
    ttl.mul_f64(rand::random_range(0.9..=1.0))
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_without_copying_its_body() {
        let entry = Envelope::new(
            Some(Bytes::from_static(b"{\"a\":1}")),
            Duration::from_secs(60),
        );
        let stored = entry.encode();
        let decoded = Envelope::decode(&stored).unwrap();
        assert_eq!(decoded, entry);
        assert!(decoded.is_fresh());
        assert_eq!(decoded.etag.len(), 26);
        assert_eq!(decoded.header_len() + 7, stored.len());
    }

    #[test]
    fn an_absence_round_trips() {
        let entry = Envelope::new(None, Duration::from_secs(60));
        let decoded = Envelope::decode(&entry.encode()).unwrap();
        assert_eq!(decoded.body, None);
        assert!(decoded.etag.is_empty());
    }

    #[test]
    fn raw_json_and_truncated_entries_are_not_envelopes() {
        assert_eq!(Envelope::decode(&Bytes::from_static(b"{\"a\":1}")), None);
        let stored = Envelope::new(Some(Bytes::from_static(b"x")), Duration::ZERO).encode();
        assert_eq!(Envelope::decode(&stored.slice(..12)), None);
    }

    #[test]
    fn a_raw_value_reads_as_a_fresh_tagged_value() {
        let raw = Bytes::from_static(b"{\"a\":1}");
        let entry = Envelope::read(raw.clone());
        assert!(entry.is_fresh() && entry.is_raw());
        assert_eq!(entry.body, Some(raw));
        assert_eq!(entry.etag, etag_of(b"{\"a\":1}"));
    }

    #[test]
    fn tags_differ_with_the_body_and_are_strong() {
        let (a, b) = (etag_of(b"one"), etag_of(b"two"));
        assert_ne!(a, b);
        assert!(a.starts_with(b"\"") && a.ends_with(b"\"") && !a.starts_with(b"W/"));
    }

    #[test]
    fn spread_ttls_lie_within_the_last_tenth() {
        let ttl = Duration::from_secs(3600);
        for _ in 0..1000 {
            let t = spread(ttl);
            assert!(t >= ttl.mul_f64(0.9) && t <= ttl, "{t:?}");
        }
    }
}
