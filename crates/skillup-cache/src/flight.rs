//! Single flight: concurrent misses for one key in one process share one load.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::{BoxFuture, FutureExt, Shared};

/// A load in progress, shared by every caller that missed the same key meanwhile.
pub(crate) type Flight<T> = Shared<BoxFuture<'static, T>>;

struct Entry {
    id: u64,
    /// A `Flight<T>`; the key's loader fixes `T`.
    flight: Box<dyn Any + Send + Sync>,
}

#[derive(Default)]
pub(crate) struct Flights {
    entries: Mutex<HashMap<String, Entry>>,
    next_id: AtomicU64,
}

impl Flights {
    /// The flight in progress for `key`, or a new one made from `start(id)`, where
    /// `id` is what the new flight passes to [`Flights::land`] when it ends.
    pub fn join_or_start<T, F>(&self, key: &str, start: F) -> Flight<T>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce(u64) -> BoxFuture<'static, T>,
    {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(flight) = entries
            .get(key)
            .and_then(|e| e.flight.downcast_ref::<Flight<T>>())
        {
            return flight.clone();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let flight = start(id).shared();
        entries.insert(
            key.to_owned(),
            Entry {
                id,
                flight: Box::new(flight.clone()),
            },
        );
        flight
    }

    /// Removes flight `id` of `key` once it has its result (a newer flight for the
    /// same key, started after an invalidation, is left alone).
    pub fn land(&self, key: &str, id: u64) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.get(key).is_some_and(|e| e.id == id) {
            entries.remove(key);
        }
    }

    /// Detaches the flights of keys starting with `prefix`: callers arriving after an
    /// invalidation start a fresh load instead of joining one that may have read
    /// the database before the write.
    pub fn detach_prefix(&self, prefix: &str) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|k, _| !k.starts_with(prefix));
    }

    /// Detaches the flight of exactly `key`.
    pub fn detach(&self, key: &str) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.remove(key);
    }
}
