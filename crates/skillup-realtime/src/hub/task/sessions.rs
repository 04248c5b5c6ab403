//! Sockets coming and going, replay of what they missed, live delivery, and
//! ending sessions.

use super::*;

impl HubTask {
    /// Sends a progress or course event to the sockets of its audience here:
    /// progress to the learner's own sockets and the course's staff, a course
    /// update to every subscriber. Sockets whose replay covered `seq` are skipped.
    pub(super) fn deliver(&self, seq: Option<u64>, event: &Event) {
        let Some((name, json)) = event.emitted() else {
            return;
        };
        if let Some(at) = event.at {
            let lag = (Utc::now() - at).to_std().unwrap_or_default();
            metrics::histogram!("realtime_delivery_lag_seconds").record(lag.as_secs_f64());
        }
        let span = match &event.traceparent {
            Some(parent) => {
                let span = tracing::info_span!(
                    "socketio.deliver",
                    otel.kind = "consumer",
                    event = name,
                    messaging.system = "redis",
                    sockets = tracing::field::Empty
                );
                skillup_common::telemetry::set_remote_parent(&span, parent);
                span
            }
            None => tracing::Span::none(),
        };
        let _entered = span.enter();
        let mut targets: smallvec::SmallVec<[Sid; 8]> = smallvec::SmallVec::new();
        match &event.body {
            Body::Progress { user, course, .. } => {
                targets.extend(self.registry.of_user(*user));
                for sid in self.registry.staff_of(*course) {
                    if !targets.contains(&sid) {
                        targets.push(sid);
                    }
                }
            }
            Body::Course { course, .. } => targets.extend(self.registry.of_course(*course)),
            _ => return,
        }
        let mut delivered = 0u64;
        for sid in targets {
            let Some(conn) = self.registry.get(sid) else {
                continue;
            };
            if seq.is_some_and(|seq| seq <= conn.covered) {
                continue;
            }
            if conn.socket.emit(name, json).is_ok() {
                delivered += 1;
            } else {
                metrics::counter!("realtime_events_dropped_total", "reason" => "slow_client")
                    .increment(1);
            }
        }
        span.record("sockets", delivered);
        metrics::counter!("realtime_deliveries_total").increment(delivered);
    }

    /// A socket the handshake admitted, before the client learns it is connected
    /// (the middleware sends it): registered at once, so no revocation or event
    /// can slip between the handshake and the connect handler, and activated when
    /// the socket is connected (see [`HubTask::activate`]).
    pub(super) fn admit(&mut self, admission: Admission) {
        if matches!(self.stream, Stream::Loading { .. }) {
            self.parked.push(admission);
            return;
        }
        let Admission {
            socket,
            user,
            session,
            expires_at,
            offset,
            unverified,
        } = admission;
        let sid = socket.id;
        let left = (expires_at - Utc::now()).to_std().unwrap_or_default();
        let timer = self.timers.insert(sid, left);
        self.registry.insert(Conn {
            socket,
            user,
            session,
            timer,
            // Nothing is delivered live until it is activated.
            covered: u64::MAX,
            courses: smallvec::SmallVec::new(),
            resynced: false,
            unverified,
            pending: Some(Box::new(Pending {
                offset,
                from: self.window.last(),
                since: Instant::now(),
            })),
        });
        metrics::gauge!("realtime_connections").increment(1.0);
        if self.registry.get(sid).is_some_and(|c| c.socket.connected()) {
            self.activate(sid);
        }
    }

    /// The socket is connected: it may receive. A session revoked or expired
    /// meanwhile ends now; otherwise it gets what it missed after `auth.offset`
    /// or, without one, what came since it was admitted, then live events.
    pub(super) fn activate(&mut self, sid: Sid) {
        let Some(conn) = self.registry.get_mut(sid) else {
            return;
        };
        let Some(pending) = conn.pending.take() else {
            return;
        };
        let ended = if self.revoked.contains_key(&conn.session) {
            Some(EndReason::Revoked)
        } else if self.timers.deadline(&conn.timer) <= tokio::time::Instant::now() {
            Some(EndReason::Expired)
        } else {
            None
        };
        if let Some(reason) = ended {
            self.end(sid, reason);
            return;
        }
        conn.covered = pending.from;
        match pending.offset {
            Some(offset) => {
                self.replay(sid, &offset, None);
            }
            None => {
                let user = conn.user;
                let since = self.window.user_events(user, pending.from);
                if let Some(conn) = self.registry.get_mut(sid) {
                    for (_, event) in &since {
                        if let Some((name, json)) = event.emitted() {
                            let _ = conn.socket.emit(name, json);
                        }
                    }
                    conn.covered = self.window.last();
                }
            }
        }
    }

    pub(super) fn subscribe(&mut self, s: Subscription) {
        // A client subscribes once it got its CONNECT packet; the connect
        // handler's own notice may still be on its way.
        if self
            .registry
            .get(s.sid)
            .is_some_and(|c| c.pending.is_some() && c.socket.connected())
        {
            self.activate(s.sid);
        }
        let stale = !matches!(self.stream, Stream::Live)
            || self.registry.get(s.sid).is_none_or(|c| c.pending.is_some())
            || self
                .window
                .rights_changed_since(s.user, s.course, s.checked_after);
        if stale {
            let _ = s.reply.send(Subscribed::Retry);
            return;
        }
        self.registry.follow(s.sid, s.course, s.level);
        let recovered = match s.offset {
            Some(offset) => self.replay(s.sid, &offset, Some((s.course, s.level))),
            None => false,
        };
        let _ = s.reply.send(Subscribed::Ok { recovered });
    }

    /// Sends `sid` what it missed after `offset`: its own progress (`course`
    /// `None`), or one course's events at its level. Returns whether the replay
    /// was exact (else a `resync` went out, or will once the offset is known).
    pub(super) fn replay(
        &mut self,
        sid: Sid,
        offset: &str,
        course: Option<(CourseId, Level)>,
    ) -> bool {
        let room = if course.is_some() { "course" } else { "user" };
        let Some(conn) = self.registry.get(sid) else {
            return false;
        };
        let user = conn.user;
        let parsed = offset.parse::<Offset>();
        let outcome = parsed
            .map_err(|_| Gap::OtherEpoch)
            .and_then(|o| self.window.check(o.epoch, o.seq).map(|()| o.seq));
        let events = match outcome {
            Ok(after) => match course {
                None => self.window.user_events(user, after),
                Some((course, level)) => {
                    let audience = match level {
                        Level::Student => Audience::Student,
                        Level::Staff => Audience::Staff { own: user },
                    };
                    self.window.course_events(course, after, audience)
                }
            },
            Err(Gap::Ahead) => {
                // The client saw more than this node has received: the events up
                // to its offset are on their way (or its offset is not ours,
                // which the next read of Postgres tells).
                let seq = parsed.map(|o| o.seq).unwrap_or_default();
                if let Some(conn) = self.registry.get_mut(sid) {
                    conn.covered = conn.covered.max(seq);
                }
                self.ahead.push((sid, seq, Instant::now()));
                self.start_fill();
                metrics::counter!("realtime_replays_total", "room" => room, "outcome" => "ahead")
                    .increment(1);
                return true;
            }
            Err(gap) => {
                let reason = match gap {
                    Gap::TooOld => ResyncReason::TooOld,
                    _ => ResyncReason::UnknownOffset,
                };
                self.resync_socket(sid, reason, room);
                return false;
            }
        };
        if events.len() > self.settings.max_replay {
            self.resync_socket(sid, ResyncReason::TooMany, room);
            return false;
        }
        let Some(conn) = self.registry.get_mut(sid) else {
            return false;
        };
        for (_, event) in &events {
            if let Some((name, json)) = event.emitted()
                && conn.socket.emit(name, json).is_err()
            {
                metrics::counter!("realtime_events_dropped_total", "reason" => "slow_client")
                    .increment(1);
            }
        }
        if course.is_none() {
            conn.covered = conn.covered.max(self.window.last());
        }
        metrics::counter!("realtime_replays_total", "room" => room, "outcome" => "recovered")
            .increment(1);
        metrics::counter!("realtime_replayed_events_total").increment(events.len() as u64);
        true
    }

    pub(super) fn resync_socket(&mut self, sid: Sid, reason: ResyncReason, room: &'static str) {
        let last = self.window.last();
        if let Some(conn) = self.registry.get_mut(sid) {
            conn.covered = conn.covered.max(last);
            resync_once(conn, reason);
        }
        let outcome = match reason {
            ResyncReason::TooOld => "too_old",
            ResyncReason::TooMany => "too_many",
            ResyncReason::UnknownOffset => "unknown",
            ResyncReason::Lost => "lost",
        };
        metrics::counter!("realtime_replays_total", "room" => room, "outcome" => outcome)
            .increment(1);
    }

    pub(super) fn resync_all(&mut self, reason: ResyncReason) {
        metrics::counter!("realtime_resyncs_total").increment(1);
        for conn in self.registry.conns() {
            let _ = conn.socket.emit(names::RESYNC, &Resync { reason });
        }
    }

    /// Ends `sid`'s session: `session:ended`, then the server disconnects it.
    pub(super) fn end(&mut self, sid: Sid, reason: EndReason) {
        if let Some(conn) = self.registry.remove(sid) {
            self.timers.try_remove(&conn.timer);
            metrics::gauge!("realtime_connections").decrement(1.0);
            end_socket(&conn.socket, reason);
        }
    }

    pub(super) fn revoke(&mut self, session: SessionKey) {
        self.revoked.insert(session, Instant::now());
        let sids: Vec<Sid> = self.registry.of_session(session).collect();
        for sid in sids {
            self.end(sid, EndReason::Revoked);
        }
    }
}

pub(super) fn resync_once(conn: &mut Conn, reason: ResyncReason) {
    if !conn.resynced {
        conn.resynced = true;
        metrics::counter!("realtime_resyncs_total").increment(1);
        let _ = conn.socket.emit(names::RESYNC, &Resync { reason });
    }
}

pub(super) fn end_socket(socket: &socketioxide::extract::SocketRef, reason: EndReason) {
    let _ = socket.emit(names::SESSION_ENDED, &SessionEnded { reason });
    let _ = socket.clone().disconnect();
    metrics::counter!("realtime_sessions_ended_total", "reason" => reason.as_str()).increment(1);
}
