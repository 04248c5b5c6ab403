//! Invalidation and deletes: entries with their generations bumped, listing
//! pages (single Redis and cluster paths), single keys and patterns. Each also
//! evicts the near cache (L1) and detaches loads in flight.

use std::future::Future;

use fred::prelude::*;
use fred::types::scan::Scanner;
use futures_util::StreamExt;

use super::{Cache, GUARD_TTL_SECS, sum_in_chunks};
use crate::CacheError;
use crate::keys::CacheKey;
use crate::scripts;

impl Cache {
    /// Deletes `keys` and bumps their generations, so no load that started before
    /// this call can store an old value afterwards. Loads in flight in this process
    /// are detached: later callers start fresh ones (read-your-writes).
    pub async fn invalidate(&self, keys: &[CacheKey]) -> Result<u64, CacheError> {
        for key in keys {
            self.inner.flights.detach(key.as_str());
        }
        if keys.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = keys.iter().map(CacheKey::as_str).collect();
        self.evicting(&names, self.invalidate_in_redis(keys)).await
    }

    fn evict_near<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        if let Some(near) = &self.inner.near {
            near.evict(keys);
        }
    }

    /// Runs `delete`, a Redis call removing `keys`, with `keys` evicted from L1
    /// before it and again once Redis confirmed: an answer read just before the
    /// delete may have entered L1 while it ran (its push is applied then too).
    async fn evicting<T>(&self, keys: &[&str], delete: impl Future<Output = T>) -> T {
        self.evict_near(keys.iter().copied());
        let result = delete.await;
        self.evict_near(keys.iter().copied());
        result
    }

    async fn invalidate_in_redis(&self, keys: &[CacheKey]) -> Result<u64, CacheError> {
        if self.inner.client.is_clustered() {
            // A script's keys must share a slot: one call per entry and its guard.
            return self
                .invalidate_each(keys.iter().map(|k| (k.as_str().to_owned(), k.guard())))
                .await;
        }
        let ttl = GUARD_TTL_SECS.to_string();
        let names: Vec<String> = keys
            .iter()
            .flat_map(|k| [k.as_str().to_owned(), k.guard()])
            .collect();
        self.call(scripts::INVALIDATE.evalsha_with_reload::<u64, _, _>(
            &self.inner.client,
            names,
            vec![ttl],
        ))
        .await
    }

    /// Runs the `INVALIDATE` script once per `(entry, guard)` pair, several at a
    /// time: on a cluster each pair is one slot, and different pairs may not share
    /// a script. Returns the number of entries deleted.
    async fn invalidate_each(
        &self,
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<u64, CacheError> {
        let ttl = GUARD_TTL_SECS.to_string();
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        sum_in_chunks(&pairs, |(entry, guard)| {
            self.call(scripts::INVALIDATE.evalsha_with_reload::<u64, _, _>(
                &self.inner.client,
                vec![entry.as_str(), guard.as_str()],
                vec![ttl.as_str()],
            ))
        })
        .await
    }

    /// Invalidates every listing page, so no load that read the database before
    /// this call can store its old page afterwards. Returns how many pages were
    /// deleted.
    ///
    /// On a single Redis: one script bumps the pages' shared generation and
    /// deletes the pages registered in their index set.
    ///
    /// On a cluster, where no script may name keys of several slots, each page has
    /// its own guard (see [`crate::keys`]), created by its loader before the
    /// loader reads the database. One `SCAN` of every primary finds the pages and
    /// their guards, and each page is invalidated with its guard in one script.
    /// A loader that read the database before the write this call follows made
    /// its guard before that read, with a 24 h TTL, so the guard exists for the
    /// whole scan, which `SCAN` guarantees to return: it is bumped and the
    /// loader's fill refused. The cost is a scan of the whole keyspace of every
    /// primary per call (the index set's cost on a single Redis is the number of
    /// pages); a resharding during the scan may hide keys from it.
    pub async fn invalidate_course_pages(&self) -> Result<u64, CacheError> {
        let keys = &self.inner.keys;
        self.inner
            .flights
            .detach_prefix(&keys.courses_pages_pattern().replace('*', ""));
        if self.inner.client.is_clustered() {
            return self.invalidate_course_pages_on_cluster().await;
        }
        let guard = keys.courses_pages_guard();
        let deleted: Vec<String> = self
            .call(scripts::INVALIDATE_FAMILY.evalsha_with_reload(
                &self.inner.client,
                vec![guard, keys.courses_pages_index()],
                vec![GUARD_TTL_SECS.to_string()],
            ))
            .await?;
        // Pages this process read were tracked: their pushes are applied here too.
        self.evict_near(deleted.iter().map(String::as_str));
        Ok(deleted.len() as u64)
    }

    /// The cluster path of [`Cache::invalidate_course_pages`].
    async fn invalidate_course_pages_on_cluster(&self) -> Result<u64, CacheError> {
        let keys = &self.inner.keys;
        let page_prefix = keys.courses_pages_pattern().replace('*', "");
        // One scan for pages and guards alike. The glob also matches names under
        // a longer prefix (`<prefix>x:courses:published:…`): only exact page
        // names and page guards are kept below, so another prefix is never touched.
        let pattern = format!("{}*courses:published:*", keys.prefix());
        let mut seen = std::collections::HashSet::new();
        let mut deleted = 0;
        let mut pages = self.scan_pages(&pattern);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(|e| {
                self.inner.counters.error();
                CacheError::Redis(e)
            })?;
            let found = page.take_results().unwrap_or_default();
            let fresh: Vec<String> = found
                .iter()
                .filter_map(|name| {
                    let name = name.as_str()?;
                    if name.starts_with(&page_prefix) {
                        Some(name)
                    } else {
                        keys.courses_page_of_guard(name)
                    }
                })
                .filter(|page| seen.insert((*page).to_owned()))
                .map(str::to_owned)
                .collect();
            deleted += self
                .invalidate_each(fresh.into_iter().map(|page| {
                    let guard = keys.own_guard(&page);
                    (page, guard)
                }))
                .await?;
            page.next();
        }
        Ok(deleted)
    }

    /// Deletes one key (no generation bump). Returns whether it existed.
    pub async fn delete(&self, key: &CacheKey) -> Result<bool, CacheError> {
        self.inner.flights.detach(key.as_str());
        let n: u64 = self
            .evicting(
                &[key.as_str()],
                self.call(self.inner.client.unlink(key.as_str())),
            )
            .await?;
        Ok(n > 0)
    }

    /// Deletes every key matching `pattern` with `SCAN` + `UNLINK` in batches
    /// (never `KEYS`), on every primary of a cluster. Returns how many were deleted.
    ///
    /// `pattern` is a full pattern; build it with [`Keys::scoped_pattern`] or the
    /// `*_pattern` methods so it cannot leave the prefix.
    pub async fn delete_pattern(&self, pattern: &str) -> Result<u64, CacheError> {
        let mut deleted = 0;
        let mut pages = self.scan_pages(pattern);
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(|e| {
                self.inner.counters.error();
                CacheError::Redis(e)
            })?;
            if let Some(keys) = page.take_results().filter(|k| !k.is_empty()) {
                let names: Vec<String> =
                    keys.iter().map(|k| k.as_str_lossy().into_owned()).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                deleted += self.evicting(&names, self.unlink_all(keys)).await?;
            }
            page.next();
        }
        Ok(deleted)
    }

    /// `UNLINK`s `keys`: in one call on a single Redis; on a cluster in one call per
    /// hash slot (a multi-key command must stay in one slot, and the keys of one
    /// primary's `SCAN` page spread over its slots).
    async fn unlink_all(&self, keys: Vec<fred::types::Key>) -> Result<u64, CacheError> {
        let client = &self.inner.client;
        if !client.is_clustered() {
            return self.call(client.unlink::<u64, _>(keys)).await;
        }
        let by_slot: Vec<Vec<fred::types::Key>> = fred::util::group_by_hash_slot(keys)
            .map_err(CacheError::Redis)?
            .into_values()
            .map(Vec::from)
            .collect();
        sum_in_chunks(&by_slot, |slot_keys| {
            self.call(client.unlink::<u64, _>(slot_keys.clone()))
        })
        .await
    }
}
