//! Rights changes from the stream, and the revocation sweeps.

use super::*;

impl HubTask {
    pub(super) fn apply_access(&mut self, access: &Access) {
        let sids: Vec<Sid> = self.registry.of_user(access.user_id).collect();
        for sid in sids {
            let Some(conn) = self.registry.get(sid) else {
                continue;
            };
            let courses: Vec<(CourseId, Level)> = conn.courses.to_vec();
            for (course, was) in courses {
                match access.level(course) {
                    Some(level) if level == was => {}
                    Some(level) => {
                        self.registry.follow(sid, course, level);
                    }
                    None => self.unsubscribe(sid, course, access.reason.as_str()),
                }
            }
        }
    }

    pub(super) fn remove_course(&mut self, course: CourseId) {
        let sids: Vec<Sid> = self.registry.of_course(course).collect();
        for sid in sids {
            self.unsubscribe(sid, course, "course_deleted");
        }
    }

    /// The socket loses `course`: `course:unsubscribed`, and no event of it after.
    pub(super) fn unsubscribe(&mut self, sid: Sid, course: CourseId, reason: &'static str) {
        if self.registry.unfollow(sid, course)
            && let Some(conn) = self.registry.get(sid)
        {
            let _ = conn.socket.emit(
                names::COURSE_UNSUBSCRIBED,
                &CourseUnsubscribed { course_id: course },
            );
            metrics::counter!("realtime_unsubscribed_total", "reason" => reason).increment(1);
        }
    }

    /// A table the rights come from was truncated: every subscription is
    /// checked again in one query, and delivery waits for the answer.
    pub(super) fn reset_rights(&mut self) {
        let subscriptions = self.registry.subscriptions();
        if subscriptions.is_empty() {
            return;
        }
        self.paused = true;
        let db = self.db.clone();
        self.spawn(async move {
            let pairs: Vec<(UserId, CourseId)> =
                subscriptions.iter().map(|(_, u, c)| (*u, *c)).collect();
            let levels = skillup_db::access::levels(&db, &pairs).await;
            Internal::Rechecked(subscriptions, levels)
        });
    }

    pub(super) fn rechecked(
        &mut self,
        subscriptions: Vec<(Sid, UserId, CourseId)>,
        levels: Result<Vec<(UserId, CourseId, Level)>, DbError>,
    ) {
        // Unreadable rights fail closed: nobody keeps a course unchecked.
        let levels = levels.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot check rights after a reset; unsubscribing");
            Vec::new()
        });
        for (sid, user, course) in subscriptions {
            match levels.iter().find(|(u, c, _)| *u == user && *c == course) {
                Some((.., level)) => {
                    self.registry.follow(sid, course, *level);
                }
                None => self.unsubscribe(sid, course, "reset"),
            }
        }
        self.paused = false;
        self.drain();
    }

    pub(super) fn housekeeping(&mut self) {
        let now = Instant::now();
        // Admitted but never connected (its CONNECT packet could not be sent):
        // no disconnect will tell us.
        let stale: Vec<Sid> = self
            .registry
            .conns()
            .filter(|c| {
                c.pending
                    .as_ref()
                    .is_some_and(|p| now.duration_since(p.since) > ADMISSION_WAIT)
                    && !c.socket.connected()
            })
            .map(|c| c.socket.id)
            .collect();
        for sid in stale {
            if let Some(conn) = self.registry.remove(sid) {
                self.timers.try_remove(&conn.timer);
                metrics::gauge!("realtime_connections").decrement(1.0);
            }
        }
        self.window.prune(now);
        self.revoked
            .retain(|_, at| now.duration_since(*at) < REVOKED_MEMORY);
        if self.registry.conns().any(|c| c.unverified) {
            self.start_sweep();
        }
    }

    /// Checks in Redis whether the sessions whose revocation is unknown here were
    /// revoked: those whose handshake could not check (Redis was down), and
    /// every one after the subscription came back. Retried on the next tick
    /// until Redis answers.
    pub(super) fn start_sweep(&mut self) {
        if self.sweeping || !self.cache.is_connected() {
            return;
        }
        let mut sessions: Vec<SessionKey> = self
            .registry
            .conns()
            .filter(|c| c.unverified)
            .map(|c| c.session)
            .collect();
        sessions.sort_unstable_by_key(SessionKey::revocation_id);
        sessions.dedup();
        if sessions.is_empty() {
            return;
        }
        self.sweeping = true;
        for conn in self.registry.conns_mut() {
            conn.unverified = false;
        }
        let cache = self.cache.clone();
        self.spawn(async move {
            let ids: Vec<String> = sessions.iter().map(SessionKey::revocation_id).collect();
            match cache.revoked_among(&ids).await {
                Ok(flags) => Internal::Swept(Ok(sessions
                    .into_iter()
                    .zip(flags)
                    .filter_map(|(s, revoked)| revoked.then_some(s))
                    .collect())),
                Err(e) => {
                    tracing::debug!(error = %e, "revocation sweep failed; retrying");
                    Internal::Swept(Err(sessions))
                }
            }
        });
    }
}
