//! The replay window: the node's recent events, in order, indexed by the user
//! and the course they concern, so one socket's replay reads only its own
//! events (never a scan of the whole window, the flaw of a single global
//! stream per reconnect).
//!
//! Invariant: the window holds every event numbered `floor + 1 ..= last` of its
//! epoch, and no other. An offset at or above `floor` can be replayed exactly;
//! one below it is too old. Events leave from the front, by age
//! (`REALTIME_REPLAY_SECS`) and count (`REALTIME_REPLAY_MAX_EVENTS`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skillup_common::{CourseId, UserId};
use skillup_events::Epoch;

use crate::event::{Body, Event};

/// What the index files an event under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    User(UserId),
    Course(CourseId),
}

/// A course's event as a course replay sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Course updates only.
    Student,
    /// Course updates and every learner's progress but `own`'s (their own
    /// progress reaches them through their user room).
    Staff { own: UserId },
}

/// Why an offset cannot be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// Older than the window.
    TooOld,
    /// Beyond what this node has received (it may be behind).
    Ahead,
    /// Another epoch: another database's numbering.
    OtherEpoch,
}

struct Entry {
    seq: u64,
    at: Instant,
    event: Arc<Event>,
}

/// See the module doc.
pub struct Window {
    epoch: Option<Epoch>,
    floor: u64,
    last: u64,
    entries: VecDeque<Entry>,
    index: HashMap<Key, VecDeque<u64>>,
    max_age: Duration,
    max_events: usize,
}

impl Window {
    pub fn new(max_age: Duration, max_events: usize) -> Self {
        Self {
            epoch: None,
            floor: 0,
            last: 0,
            entries: VecDeque::new(),
            index: HashMap::new(),
            max_age,
            max_events: max_events.max(1),
        }
    }

    pub fn epoch(&self) -> Option<Epoch> {
        self.epoch
    }

    /// The last number held (everything up to it was received).
    pub fn last(&self) -> u64 {
        self.last
    }

    pub fn floor(&self) -> u64 {
        self.floor
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Starts over in `epoch` with nothing held and `last` as the last number
    /// (a fresh node before its load, or a new epoch).
    pub fn reset(&mut self, epoch: Epoch, last: u64) {
        self.epoch = Some(epoch);
        self.floor = last;
        self.last = last;
        self.entries.clear();
        self.index.clear();
    }

    /// Appends the event numbered `last + 1`.
    ///
    /// # Panics
    /// If `seq` is not `last + 1`: the caller orders events first.
    pub fn push(&mut self, seq: u64, event: Arc<Event>, now: Instant) {
        assert_eq!(seq, self.last + 1, "the window takes events in order");
        for key in keys(&event) {
            self.index.entry(key).or_default().push_back(seq);
        }
        self.entries.push_back(Entry {
            seq,
            at: now,
            event,
        });
        self.last = seq;
        while self.entries.len() > self.max_events {
            self.pop_front();
        }
    }

    /// Drops events older than the window's age.
    pub fn prune(&mut self, now: Instant) {
        while self
            .entries
            .front()
            .is_some_and(|e| now.duration_since(e.at) > self.max_age)
        {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        let Some(entry) = self.entries.pop_front() else {
            return;
        };
        for key in keys(&entry.event) {
            if let Some(seqs) = self.index.get_mut(&key) {
                debug_assert_eq!(seqs.front(), Some(&entry.seq));
                seqs.pop_front();
                if seqs.is_empty() {
                    self.index.remove(&key);
                }
            }
        }
        self.floor = entry.seq;
    }

    /// Whether `seq` (of `epoch`) can be replayed from here: `Ok` when every
    /// event after it is held.
    pub fn check(&self, epoch: Epoch, seq: u64) -> Result<(), Gap> {
        match self.epoch {
            Some(mine) if mine != epoch => Err(Gap::OtherEpoch),
            _ if seq > self.last => Err(Gap::Ahead),
            _ if seq < self.floor => Err(Gap::TooOld),
            _ => Ok(()),
        }
    }

    fn get(&self, seq: u64) -> Option<&Arc<Event>> {
        let i = usize::try_from(seq.checked_sub(self.floor + 1)?).ok()?;
        self.entries.get(i).map(|e| &e.event)
    }

    fn seqs_after(&self, key: Key, after: u64) -> impl Iterator<Item = u64> + '_ {
        let seqs = self.index.get(&key);
        let start = seqs.map_or(0, |s| s.partition_point(|&n| n <= after));
        seqs.into_iter()
            .flat_map(move |s| s.range(start..))
            .copied()
    }

    /// `user`'s own progress events after `after`, oldest first.
    pub fn user_events(&self, user: UserId, after: u64) -> Vec<(u64, Arc<Event>)> {
        self.seqs_after(Key::User(user), after)
            .filter_map(|seq| Some((seq, self.get(seq)?.clone())))
            .filter(|(_, e)| matches!(e.body, Body::Progress { .. }))
            .collect()
    }

    /// `course`'s events after `after` that `audience` may see, oldest first.
    pub fn course_events(
        &self,
        course: CourseId,
        after: u64,
        audience: Audience,
    ) -> Vec<(u64, Arc<Event>)> {
        self.seqs_after(Key::Course(course), after)
            .filter_map(|seq| Some((seq, self.get(seq)?.clone())))
            .filter(|(_, e)| match (&e.body, audience) {
                (Body::Course { .. }, _) => true,
                (Body::Progress { user, .. }, Audience::Staff { own }) => *user != own,
                _ => false,
            })
            .collect()
    }

    /// Whether anything after `after` may have changed what `user` may see of
    /// `course`: a change of the user's rights, the course's removal, or a
    /// reset. `true` too when the window no longer reaches back to `after`.
    pub fn rights_changed_since(&self, user: UserId, course: CourseId, after: u64) -> bool {
        if after < self.floor {
            return true;
        }
        let changed = |key| {
            self.seqs_after(key, after).any(|seq| {
                self.get(seq).is_some_and(|e| {
                    matches!(
                        e.body,
                        Body::Access(_) | Body::CourseRemoved(_) | Body::RightsReset
                    )
                })
            })
        };
        changed(Key::User(user)) || changed(Key::Course(course)) || self.reset_since(after)
    }

    fn reset_since(&self, after: u64) -> bool {
        self.entries
            .iter()
            .rev()
            .take_while(|e| e.seq > after)
            .any(|e| matches!(e.event.body, Body::RightsReset))
    }
}

fn keys(event: &Event) -> impl Iterator<Item = Key> {
    let (user, course) = match &event.body {
        Body::Progress { user, course, .. } => (Some(*user), Some(*course)),
        Body::Course { course, .. } | Body::CourseRemoved(course) => (None, Some(*course)),
        Body::Access(access) => (Some(access.user_id), None),
        Body::RightsReset | Body::SessionRevoked(_) | Body::Heartbeat(_) => (None, None),
    };
    user.map(Key::User)
        .into_iter()
        .chain(course.map(Key::Course))
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    fn progress(user: UserId, course: CourseId) -> Arc<Event> {
        Arc::new(Event {
            offset: None,
            body: Body::Progress {
                user,
                course,
                json: crate::event::Json(RawValue::from_string("{}".into()).unwrap()),
            },
            traceparent: None,
            at: None,
        })
    }

    fn course_update(course: CourseId) -> Arc<Event> {
        Arc::new(Event {
            offset: None,
            body: Body::Course {
                course,
                json: crate::event::Json(RawValue::from_string("{}".into()).unwrap()),
            },
            traceparent: None,
            at: None,
        })
    }

    fn seqs(events: &[(u64, Arc<Event>)]) -> Vec<u64> {
        events.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn replays_read_only_their_own_events_in_order() {
        let (me, other, staff) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let (c, d) = (CourseId::new_random(), CourseId::new_random());
        let mut w = Window::new(Duration::from_secs(300), 100);
        w.reset(Epoch(1), 10);
        let now = Instant::now();
        w.push(11, progress(me, c), now);
        w.push(12, progress(other, c), now);
        w.push(13, course_update(c), now);
        w.push(14, progress(me, d), now);
        assert_eq!(seqs(&w.user_events(me, 10)), [11, 14]);
        assert_eq!(seqs(&w.user_events(me, 11)), [14]);
        assert_eq!(seqs(&w.course_events(c, 10, Audience::Student)), [13]);
        assert_eq!(
            seqs(&w.course_events(c, 10, Audience::Staff { own: staff })),
            [11, 12, 13]
        );
        assert_eq!(
            seqs(&w.course_events(c, 10, Audience::Staff { own: me })),
            [12, 13],
            "a staff member's own progress comes through their own room"
        );
        assert_eq!(w.check(Epoch(1), 10), Ok(()));
        assert_eq!(w.check(Epoch(1), 14), Ok(()));
        assert_eq!(w.check(Epoch(1), 15), Err(Gap::Ahead));
        assert_eq!(w.check(Epoch(1), 9), Err(Gap::TooOld));
        assert_eq!(w.check(Epoch(2), 12), Err(Gap::OtherEpoch));
    }

    #[test]
    fn events_leave_by_count_and_age_and_the_floor_follows() {
        let user = UserId::new_random();
        let course = CourseId::new_random();
        let mut w = Window::new(Duration::from_secs(60), 3);
        w.reset(Epoch(1), 0);
        let start = Instant::now();
        for seq in 1..=5 {
            w.push(seq, progress(user, course), start);
        }
        assert_eq!((w.floor(), w.last(), w.len()), (2, 5, 3));
        assert_eq!(seqs(&w.user_events(user, 0)), [3, 4, 5]);
        assert_eq!(w.check(Epoch(1), 1), Err(Gap::TooOld));
        w.push(6, course_update(course), start + Duration::from_secs(30));
        w.prune(start + Duration::from_secs(61));
        assert_eq!((w.floor(), w.last(), w.len()), (5, 6, 1));
        assert_eq!(seqs(&w.course_events(course, 5, Audience::Student)), [6]);
        w.prune(start + Duration::from_secs(100));
        assert!(w.is_empty());
        assert_eq!(
            w.check(Epoch(1), 6),
            Ok(()),
            "an empty window still knows nothing came after 6"
        );
        assert!(w.index.is_empty(), "the index empties with the window");
    }

    #[test]
    fn rights_changes_are_found_for_the_user_and_the_course() {
        let (user, other) = (UserId::new_random(), UserId::new_random());
        let course = CourseId::new_random();
        let mut w = Window::new(Duration::from_secs(60), 100);
        w.reset(Epoch(1), 0);
        let now = Instant::now();
        w.push(1, progress(user, course), now);
        assert!(!w.rights_changed_since(user, course, 0));
        let access = skillup_events::Access {
            user_id: other,
            admin: false,
            teaches: vec![],
            enrolled: vec![],
            reason: skillup_events::AccessReason::Enrollment,
            offset: skillup_events::Offset::new(Epoch(1), 2),
        };
        w.push(
            2,
            Arc::new(Event {
                offset: None,
                body: Body::Access(access),
                traceparent: None,
                at: None,
            }),
            now,
        );
        assert!(!w.rights_changed_since(user, course, 0));
        assert!(w.rights_changed_since(other, course, 1));
        assert!(!w.rights_changed_since(other, course, 2));
        w.push(
            3,
            Arc::new(Event {
                offset: None,
                body: Body::CourseRemoved(course),
                traceparent: None,
                at: None,
            }),
            now,
        );
        assert!(w.rights_changed_since(user, course, 2));
    }
}
