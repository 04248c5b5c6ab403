//! One load of a cold key across every process, and its generation-checked fill.
//!
//! Before it reads the database, the loader reads the key's guard generation and
//! tries to take the key's lease (`lease:{<key>}`, one script: no round trip
//! more than the generation read alone). The process that takes it loads and
//! fills; the fill script gives the lease back. A process that finds the lease
//! taken waits for the fill instead, polling the entry every few milliseconds —
//! memcache's leases make their clients "wait a little and retry" the same way.
//!
//! The wait is bounded twice:
//! - the lease expires after `CACHE_LEASE_MS` (default 1 s), so if its holder
//!   dies or stalls, a waiter takes it over and loads;
//! - a waiter that still has no value after [`WAIT_AT_MOST`] loads by itself.
//!
//! Neither bound can let a stale value in: every fill, leased or not, is
//! checked against the generation read before its load.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::read::{ABSENCE_TTL, Fill};
use super::{Cache, CacheStatus, GUARD_TTL_SECS, Lookup, millis};
use crate::CacheError;
use crate::envelope::{self, Envelope};
use crate::keys::CacheKey;
use crate::scripts;

/// The longest a process waits for another's fill before loading by itself.
const WAIT_AT_MOST: Duration = Duration::from_secs(3);
/// The first and the longest pause between two looks at a leased key.
const POLL_FIRST: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(50);

/// What the loader knows before it reads the database.
struct Ticket {
    /// The guard generation, read before the load ("" = none yet).
    generation: String,
    /// The lease token, if this process holds the key's lease.
    lease: Option<String>,
    /// Whether a fresh entry was found: another process filled the key since
    /// this one missed it (no lease was taken).
    filled: bool,
}

/// What a process does about a missed key: load it, or take another's fill.
enum Waited {
    /// Its entry arrived.
    Filled(Envelope),
    /// This process may load now, with this ticket.
    Load(Ticket),
}

impl Cache {
    /// Loads `key` (unless another process's fill arrives first) and stores the
    /// answer under its generation check. Runs once per key per process: the
    /// callers of one flight share its result.
    pub(super) async fn load_and_fill<Fut, E>(
        &self,
        key: &CacheKey,
        fill: Fill,
        redis_up: bool,
        loading: Fut,
    ) -> Result<Lookup, Arc<E>>
    where
        Fut: Future<Output = Result<Option<Bytes>, E>>,
    {
        // The generation must be read before the database is.
        let ticket = match redis_up {
            false => None,
            true => match self.before_load(key).await {
                Ok(Waited::Filled(entry)) => return Ok(Lookup::of(entry, CacheStatus::Hit)),
                Ok(Waited::Load(ticket)) => Some(ticket),
                Err(_) => None,
            },
        };
        metrics::counter!("cache_loads_total").increment(1);
        let value = match loading.await {
            Ok(value) => value,
            Err(error) => {
                self.release(key, ticket.as_ref()).await;
                return Err(Arc::new(error));
            }
        };
        let Some(ticket) = ticket else {
            return Ok(Lookup::loaded(value, CacheStatus::Bypass));
        };
        if value.is_none() && !fill.absence {
            self.release(key, Some(&ticket)).await;
            return Ok(Lookup::loaded(None, CacheStatus::Miss));
        }
        // A recorded absence is never served stale, so it needs no window.
        let (ttl, window) = match value {
            Some(_) => (envelope::spread(fill.ttl), self.inner.stale_window),
            None => (envelope::spread(fill.ttl.min(ABSENCE_TTL)), Duration::ZERO),
        };
        let entry = Envelope::new(value, ttl);
        let status = match self.store(key, &entry, ttl + window, &ticket).await {
            Ok(true) => CacheStatus::Miss,
            Ok(false) => {
                metrics::counter!("cache_fills_refused_total").increment(1);
                CacheStatus::Miss
            }
            Err(_) => CacheStatus::Bypass,
        };
        Ok(Lookup::of(entry, status))
    }

    /// Stores `entry` for `lifetime` (its TTL and stale window) if the guard still
    /// holds `ticket`'s generation, and gives the lease back either way.
    /// `Ok(false)`: refused, a write raced the load.
    async fn store(
        &self,
        key: &CacheKey,
        entry: &Envelope,
        lifetime: Duration,
        ticket: &Ticket,
    ) -> Result<bool, CacheError> {
        if !self.inner.guard_fills {
            self.release(key, Some(ticket)).await;
            return self.set(key, entry.encode(), lifetime).await.map(|()| true);
        }
        let (guard, lease, index) = (key.guard(), key.lease(), key.index());
        let names: Vec<&str> = [key.as_str(), guard.as_str(), lease.as_str()]
            .into_iter()
            .chain(index.as_deref())
            .collect();
        let stored = self
            .call(scripts::FILL.evalsha_with_reload::<i64, _, _>(
                &self.inner.client,
                names,
                vec![
                    Bytes::from(ticket.generation.clone()),
                    entry.encode(),
                    Bytes::from(millis(lifetime).to_string()),
                    Bytes::from(ticket.lease.clone().unwrap_or_default()),
                ],
            ))
            .await?;
        Ok(stored == 1)
    }

    /// The ticket to load with: the lease taken, or waited for; or the entry
    /// another process filled meanwhile.
    async fn before_load(&self, key: &CacheKey) -> Result<Waited, CacheError> {
        match self.acquire_or_read(key).await? {
            Err(entry) => Ok(Waited::Filled(entry)),
            Ok(ticket)
                if ticket.lease.is_some()
                    || self.inner.lease.is_zero()
                    || !self.inner.guard_fills =>
            {
                Ok(Waited::Load(ticket))
            }
            Ok(_) => self.wait_for_fill(key).await,
        }
    }

    /// [`Cache::acquire`], or the entry another process filled meanwhile.
    async fn acquire_or_read(
        &self,
        key: &CacheKey,
    ) -> Result<Result<Ticket, Envelope>, CacheError> {
        let ticket = self.acquire(key).await?;
        if ticket.filled
            && let Some(entry) = self
                .get(key)
                .await?
                .map(Envelope::read)
                .filter(Envelope::is_fresh)
        {
            return Ok(Err(entry));
        }
        Ok(Ok(ticket))
    }

    /// Reads the generation and tries to take the lease, in one script (with
    /// leases off, only reads the generation), unless a fresh entry is there.
    async fn acquire(&self, key: &CacheKey) -> Result<Ticket, CacheError> {
        let token = format!("{:016x}", rand::random::<u64>());
        let (generation, won, filled): (String, i64, i64) = self
            .call(scripts::ACQUIRE.evalsha_with_reload(
                &self.inner.client,
                vec![key.guard(), key.lease(), key.as_str().to_owned()],
                vec![
                    GUARD_TTL_SECS.to_string(),
                    token.clone(),
                    self.inner.lease.as_millis().to_string(),
                    if key.guard_must_exist() { "1" } else { "0" }.to_owned(),
                ],
            ))
            .await?;
        Ok(Ticket {
            generation,
            lease: (won == 1).then_some(token),
            filled: filled == 1,
        })
    }

    /// Waits for the lease holder's fill; takes the lease over if it lapses, or
    /// loads without it after [`WAIT_AT_MOST`].
    async fn wait_for_fill(&self, key: &CacheKey) -> Result<Waited, CacheError> {
        metrics::counter!("cache_lease_waits_total").increment(1);
        let deadline = Instant::now() + WAIT_AT_MOST;
        let mut pause = POLL_FIRST;
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_MAX);
            let fresh = self
                .get(key)
                .await?
                .map(Envelope::read)
                .filter(Envelope::is_fresh);
            if let Some(entry) = fresh {
                return Ok(Waited::Filled(entry));
            }
            match self.acquire_or_read(key).await? {
                Err(entry) => return Ok(Waited::Filled(entry)),
                Ok(ticket) if ticket.lease.is_some() || Instant::now() >= deadline => {
                    return Ok(Waited::Load(ticket));
                }
                Ok(_) => {}
            }
        }
    }

    /// Gives the lease back, if held, so that a waiter loads at once.
    async fn release(&self, key: &CacheKey, ticket: Option<&Ticket>) {
        let Some(token) = ticket.and_then(|t| t.lease.clone()) else {
            return;
        };
        let _ = self
            .call(scripts::RELEASE.evalsha_with_reload::<i64, _, _>(
                &self.inner.client,
                vec![key.lease()],
                vec![token],
            ))
            .await;
    }
}

impl Lookup {
    /// A loader's answer that was not stored.
    fn loaded(value: Option<Bytes>, status: CacheStatus) -> Self {
        Self::of(Envelope::new(value, Duration::ZERO), status)
    }
}
