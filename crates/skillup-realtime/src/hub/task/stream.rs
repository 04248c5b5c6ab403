//! Ordering numbered events, filling gaps from Postgres, the window at start.

use super::sessions::resync_once;
use super::*;
use crate::event::decode_stored;

impl HubTask {
    pub(super) fn start_load(&self) {
        let db = self.db.clone();
        let replay = self.settings.replay;
        self.spawn(async move {
            Internal::Loaded(
                skillup_db::events::window(&db, replay.max_events, replay.max_age).await,
            )
        });
    }

    pub(super) fn loaded(&mut self, result: Result<(Head, Vec<StoredEvent>), DbError>) {
        let Stream::Loading { failures } = self.stream else {
            return;
        };
        match result {
            Ok((head, events)) => {
                let floor = events.first().map_or(head.last, |e| e.seq - 1);
                self.window.reset(head.epoch, floor);
                let now = Instant::now();
                for stored in &events {
                    match decode_stored(stored) {
                        // History: kept for replay, not applied (rights in it
                        // predate every socket here).
                        Ok(event) if stored.seq == self.window.last() + 1 => {
                            self.window.push(stored.seq, Arc::new(event), now);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(seq = stored.seq, error = %e, "unreadable stored event");
                            self.window.reset(head.epoch, stored.seq);
                        }
                    }
                }
                tracing::info!(events = self.window.len(), last = self.window.last(), %head.epoch,
                    "replay window loaded");
                self.stream = Stream::Live;
            }
            Err(e) if failures < 3 => {
                tracing::warn!(error = %e, "cannot load the replay window yet; retrying");
                self.stream = Stream::Loading {
                    failures: failures + 1,
                };
                self.later(Duration::from_secs(1), Internal::RetryLoad);
                return;
            }
            Err(e) => {
                // Sockets must not wait for Postgres: go on without history.
                // The first numbered event sets where the window starts;
                // replays from before it are `resync`s.
                tracing::warn!(error = %e, "no replay window from Postgres; starting from live events");
                let first = self.pending.values().next().and_then(|(_, e)| e.offset);
                if let Some(first) = first {
                    self.window.reset(first.epoch, first.seq - 1);
                }
                self.stream = Stream::Live;
            }
        }
        self.drain();
        for admission in std::mem::take(&mut self.parked) {
            self.admit(admission);
        }
    }

    pub(super) fn event(&mut self, event: Event) {
        metrics::counter!("realtime_events_in_total").increment(1);
        match &event.body {
            Body::SessionRevoked(id) => {
                match SessionKey::parse(id) {
                    Some(session) => self.revoke(session),
                    None => tracing::warn!("revocation of a malformed session id ignored"),
                }
                return;
            }
            Body::Heartbeat(head) => {
                self.heartbeat(*head);
                return;
            }
            _ => {}
        }
        let Some(offset) = event.offset else {
            // Another publisher's message: live only.
            self.deliver(None, &event);
            return;
        };
        if matches!(self.stream, Stream::Live) {
            match self.window.epoch() {
                // Started without Postgres: the stream begins here for this node.
                None => self
                    .window
                    .reset(offset.epoch, offset.seq.saturating_sub(1)),
                Some(epoch) if epoch != offset.epoch => self.new_epoch(offset),
                Some(_) => {}
            }
        }
        if offset.seq > self.window.last() {
            self.pending
                .insert(offset.seq, (Instant::now(), Arc::new(event)));
            self.drain();
        }
    }

    /// The database behind the stream changed (recreated): nothing before
    /// can be replayed.
    pub(super) fn new_epoch(&mut self, offset: Offset) {
        tracing::warn!(epoch = %offset.epoch, "the event stream changed epoch; every socket resyncs");
        self.window
            .reset(offset.epoch, offset.seq.saturating_sub(1));
        self.pending.clear();
        self.announced = 0;
        self.resync_all(ResyncReason::Lost);
    }

    pub(super) fn heartbeat(&mut self, head: Offset) {
        if !matches!(self.stream, Stream::Live) {
            return;
        }
        if self.window.epoch().is_some_and(|e| e != head.epoch) {
            self.new_epoch(Offset::new(head.epoch, head.seq + 1));
            return;
        }
        if head.seq > self.window.last() && self.pending.is_empty() {
            // The beat may overtake the live publish of the events it counts (both
            // leave the invalidator after the commit): wait for them as for a
            // reordered event before reading Postgres, so that the live copy, with
            // its trace context, is the one delivered.
            self.announced = self.announced.max(head.seq);
            self.gap_since.get_or_insert_with(Instant::now);
        }
    }

    /// Applies every pending event that is next in line.
    pub(super) fn drain(&mut self) {
        if !matches!(self.stream, Stream::Live) {
            return;
        }
        while !self.paused {
            let Some(entry) = self.pending.first_entry() else {
                break;
            };
            let seq = *entry.key();
            if seq <= self.window.last() {
                entry.remove();
            } else if seq == self.window.last() + 1 {
                let (_, event) = entry.remove();
                self.apply(seq, event);
            } else {
                break;
            }
        }
        if self.announced <= self.window.last() {
            self.announced = 0;
        }
        let gap = !self.paused && (!self.pending.is_empty() || self.announced != 0);
        self.gap_since = match (gap, self.gap_since) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(Instant::now()),
            (false, _) => None,
        };
        let last = self.window.last();
        self.ahead.retain(|(_, seq, _)| *seq > last);
    }

    /// The gap (events pending beyond a missing one, or a head a heartbeat
    /// announced) stayed open for [`super::REORDER_WAIT`]: read it from Postgres.
    pub(super) fn fill_gap(&mut self) {
        let cause = if self.pending.is_empty() {
            "heartbeat"
        } else {
            "reorder"
        };
        metrics::counter!("realtime_gap_fills_total", "cause" => cause).increment(1);
        self.start_fill();
    }

    pub(super) fn start_fill(&mut self) {
        if self.fill_started.is_some() || !matches!(self.stream, Stream::Live) {
            return;
        }
        self.fill_started = Some(Instant::now());
        let (db, after, limit) = (
            self.db.clone(),
            self.window.last(),
            self.settings.replay.max_events,
        );
        self.spawn(
            async move { Internal::Filled(skillup_db::events::after(&db, after, limit).await) },
        );
    }

    pub(super) fn filled(&mut self, result: Result<Vec<StoredEvent>, DbError>) {
        let Some(started) = self.fill_started.take() else {
            return;
        };
        let events = match result {
            Ok(events) => events,
            Err(e) => {
                self.fill_failures += 1;
                metrics::counter!("realtime_fill_failures_total").increment(1);
                if self.fill_failures >= MAX_FILL_FAILURES && !self.pending.is_empty() {
                    tracing::warn!(error = %e, "cannot read the missed events; sockets resync");
                    self.fill_failures = 0;
                    let first = self.pending.keys().next().copied().unwrap_or_default();
                    self.lose_until(first);
                } else {
                    tracing::debug!(error = %e, "reading missed events failed; retrying");
                    self.later(RETRY_WAIT, Internal::RetryFill);
                }
                return;
            }
        };
        self.fill_failures = 0;
        // The read saw every event committed before it started, the announced
        // head included.
        self.announced = 0;
        let full = events.len() as u64 >= self.settings.replay.max_events;
        if let Some(first) = events.first().map(|e| e.seq)
            && first > self.window.last() + 1
        {
            // Pruned from Postgres before this node read them.
            self.lose_until(first);
        }
        let mut head = self.window.last();
        for stored in events {
            head = head.max(stored.seq);
            if stored.seq <= self.window.last() {
                continue;
            }
            match decode_stored(&stored) {
                Ok(event) => {
                    self.pending.insert(stored.seq, (started, Arc::new(event)));
                }
                Err(e) => tracing::warn!(seq = stored.seq, error = %e, "unreadable stored event"),
            }
        }
        if !full {
            // Anything received before this read began and beyond what it found
            // never committed (an event is published only after its commit):
            // another publisher's invention, dropped. Offsets ahead of the
            // stream, given before the read, are not this stream's.
            let bogus: Vec<u64> = self
                .pending
                .iter()
                .filter(|(seq, (at, _))| **seq > head && *at < started)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in bogus {
                tracing::warn!(seq, "an event numbered beyond the stream was dropped");
                metrics::counter!("realtime_events_dropped_total", "reason" => "unknown_offset")
                    .increment(1);
                self.pending.remove(&seq);
            }
            for (sid, seq, at) in std::mem::take(&mut self.ahead) {
                if seq > head && at < started {
                    if let Some(conn) = self.registry.get_mut(sid) {
                        conn.covered = head;
                        resync_once(conn, ResyncReason::UnknownOffset);
                    }
                } else {
                    self.ahead.push((sid, seq, at));
                }
            }
        }
        self.drain();
        if full {
            self.start_fill();
        }
    }

    /// Events before `first` cannot be had: sockets are told to resync, and the
    /// stream goes on from `first`.
    pub(super) fn lose_until(&mut self, first: u64) {
        let epoch = self.window.epoch().unwrap_or(Epoch(0));
        tracing::warn!(
            from = self.window.last() + 1,
            to = first.saturating_sub(1),
            "events lost; sockets resync"
        );
        metrics::counter!("realtime_events_lost_total")
            .increment(first.saturating_sub(self.window.last() + 1));
        self.window.reset(epoch, first.saturating_sub(1));
        self.resync_all(ResyncReason::Lost);
    }

    pub(super) fn apply(&mut self, seq: u64, event: Arc<Event>) {
        self.window.push(seq, event.clone(), Instant::now());
        self.stats.last.store(seq, Ordering::Release);
        match &event.body {
            Body::Progress { .. } | Body::Course { .. } => self.deliver(Some(seq), &event),
            Body::Access(access) => self.apply_access(access),
            Body::CourseRemoved(course) => self.remove_course(*course),
            Body::RightsReset => self.reset_rights(),
            Body::SessionRevoked(_) | Body::Heartbeat(_) => {}
        }
    }
}
