//! The node's sockets: who each one is, which session it belongs to, which
//! courses it follows and how far, with the indexes delivery needs (by user,
//! session and course). Owned by the hub task alone, so it needs no locks.
//!
//! These maps replace socketioxide rooms: a room is a `String` key stored twice
//! per member (in the room map and the socket's room set), where an id of 16
//! bytes will do, and delivery here must skip per socket what a replay already
//! covered.

use std::collections::HashMap;

use skillup_common::{CourseId, UserId};
use skillup_events::Level;
use smallvec::SmallVec;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio_util::time::delay_queue;

/// A session's revocation id (`Claims::revocation_id`) in 17–33 bytes instead of
/// a 36–64 byte string: a uuid, or the sha256 of anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKey {
    Uuid(u128),
    Sha256([u8; 32]),
}

impl SessionKey {
    /// Reads a revocation id (a hyphenated uuid, or 64 hex digits).
    pub fn parse(revocation_id: &str) -> Option<Self> {
        if let Ok(uuid) = uuid::Uuid::try_parse(revocation_id) {
            return Some(Self::Uuid(uuid.as_u128()));
        }
        let mut bytes = [0; 32];
        hex::decode_to_slice(revocation_id, &mut bytes).ok()?;
        Some(Self::Sha256(bytes))
    }

    /// The revocation id again, as `session:revoked:{sid}` spells it.
    pub fn revocation_id(&self) -> String {
        match self {
            Self::Uuid(n) => uuid::Uuid::from_u128(*n).hyphenated().to_string(),
            Self::Sha256(bytes) => hex::encode(bytes),
        }
    }
}

/// One connected socket.
pub struct Conn {
    pub socket: SocketRef,
    pub user: UserId,
    pub session: SessionKey,
    pub timer: delay_queue::Key,
    /// Live events numbered at or below this are not sent: a replay covered
    /// them, or the client said it has them.
    pub covered: u64,
    /// The courses it follows, and how far.
    pub courses: SmallVec<[(CourseId, Level); 3]>,
    /// Whether it was told to `resync` for an offset already (once is enough).
    pub resynced: bool,
    /// Its handshake could not check the revocation (Redis down): the hub
    /// checks it once Redis answers.
    pub unverified: bool,
    /// Admitted, not yet connected: where its replay starts.
    pub pending: Option<Box<Pending>>,
}

/// Where an admitted socket's stream starts once it is connected.
pub struct Pending {
    /// `auth.offset`, as the client sent it.
    pub offset: Option<String>,
    /// The hub's last offset at admission.
    pub from: u64,
    pub since: std::time::Instant,
}

impl Conn {
    pub fn level(&self, course: CourseId) -> Option<Level> {
        self.courses
            .iter()
            .find(|(c, _)| *c == course)
            .map(|(_, l)| *l)
    }
}

#[derive(Default)]
pub struct Registry {
    conns: HashMap<Sid, Conn>,
    by_user: HashMap<UserId, SmallVec<[Sid; 2]>>,
    by_session: HashMap<SessionKey, SmallVec<[Sid; 1]>>,
    by_course: HashMap<CourseId, CourseSubs>,
}

/// A course's subscribers here, staff apart (progress goes to them only).
#[derive(Default)]
struct CourseSubs {
    students: Vec<Sid>,
    staff: Vec<Sid>,
}

impl CourseSubs {
    fn list(&mut self, level: Level) -> &mut Vec<Sid> {
        match level {
            Level::Student => &mut self.students,
            Level::Staff => &mut self.staff,
        }
    }

    fn remove(&mut self, sid: Sid) {
        self.students.retain(|s| *s != sid);
        self.staff.retain(|s| *s != sid);
    }

    fn is_empty(&self) -> bool {
        self.students.is_empty() && self.staff.is_empty()
    }
}

fn remove_from<K: std::hash::Hash + Eq, A: smallvec::Array<Item = Sid>>(
    map: &mut HashMap<K, SmallVec<A>>,
    key: K,
    sid: Sid,
) {
    if let Some(list) = map.get_mut(&key) {
        list.retain(|s| *s != sid);
        if list.is_empty() {
            map.remove(&key);
        }
    }
}

impl Registry {
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Users, sessions and courses with sockets here (for `/health`).
    pub fn room_count(&self) -> usize {
        self.by_user.len() + self.by_course.len()
    }

    pub fn insert(&mut self, conn: Conn) {
        let sid = conn.socket.id;
        self.remove(sid);
        self.by_user.entry(conn.user).or_default().push(sid);
        self.by_session.entry(conn.session).or_default().push(sid);
        self.conns.insert(sid, conn);
    }

    pub fn remove(&mut self, sid: Sid) -> Option<Conn> {
        let conn = self.conns.remove(&sid)?;
        remove_from(&mut self.by_user, conn.user, sid);
        remove_from(&mut self.by_session, conn.session, sid);
        for (course, _) in &conn.courses {
            self.unindex_course(*course, sid);
        }
        Some(conn)
    }

    fn unindex_course(&mut self, course: CourseId, sid: Sid) {
        if let Some(subs) = self.by_course.get_mut(&course) {
            subs.remove(sid);
            if subs.is_empty() {
                self.by_course.remove(&course);
            }
        }
    }

    pub fn get(&self, sid: Sid) -> Option<&Conn> {
        self.conns.get(&sid)
    }

    pub fn get_mut(&mut self, sid: Sid) -> Option<&mut Conn> {
        self.conns.get_mut(&sid)
    }

    /// Follows `course` at `level` (or changes the level it follows it at).
    pub fn follow(&mut self, sid: Sid, course: CourseId, level: Level) -> bool {
        let Some(conn) = self.conns.get_mut(&sid) else {
            return false;
        };
        match conn.courses.iter_mut().find(|(c, _)| *c == course) {
            Some(entry) if entry.1 == level => return true,
            Some(entry) => entry.1 = level,
            None => conn.courses.push((course, level)),
        }
        let subs = self.by_course.entry(course).or_default();
        subs.remove(sid);
        subs.list(level).push(sid);
        true
    }

    /// Stops following `course`; returns whether it was followed.
    pub fn unfollow(&mut self, sid: Sid, course: CourseId) -> bool {
        let Some(conn) = self.conns.get_mut(&sid) else {
            return false;
        };
        let before = conn.courses.len();
        conn.courses.retain(|(c, _)| *c != course);
        let was = conn.courses.len() < before;
        if was {
            self.unindex_course(course, sid);
        }
        was
    }

    pub fn of_user(&self, user: UserId) -> impl Iterator<Item = Sid> + '_ {
        self.by_user.get(&user).into_iter().flatten().copied()
    }

    pub fn of_session(&self, session: SessionKey) -> impl Iterator<Item = Sid> + '_ {
        self.by_session.get(&session).into_iter().flatten().copied()
    }

    /// Every subscriber of `course`, staff and students.
    pub fn of_course(&self, course: CourseId) -> impl Iterator<Item = Sid> + '_ {
        self.by_course
            .get(&course)
            .into_iter()
            .flat_map(|s| s.students.iter().chain(&s.staff))
            .copied()
    }

    /// The staff subscribers of `course` (its instructor, admins).
    pub fn staff_of(&self, course: CourseId) -> impl Iterator<Item = Sid> + '_ {
        self.by_course
            .get(&course)
            .into_iter()
            .flat_map(|s| s.staff.iter())
            .copied()
    }

    pub fn sessions(&self) -> impl Iterator<Item = SessionKey> + '_ {
        self.by_session.keys().copied()
    }

    pub fn conns(&self) -> impl Iterator<Item = &Conn> + '_ {
        self.conns.values()
    }

    pub fn conns_mut(&mut self) -> impl Iterator<Item = &mut Conn> + '_ {
        self.conns.values_mut()
    }

    /// Every `(socket, user, course)` subscription.
    pub fn subscriptions(&self) -> Vec<(Sid, UserId, CourseId)> {
        self.conns
            .values()
            .flat_map(|c| {
                c.courses
                    .iter()
                    .map(|(course, _)| (c.socket.id, c.user, *course))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_read_back_both_forms() {
        let uuid = "0123b6d1-fe4b-4cec-84e3-08312f2a32e5";
        assert_eq!(
            SessionKey::parse(uuid).map(|k| k.revocation_id()),
            Some(uuid.to_owned())
        );
        let sha = "a".repeat(64);
        assert_eq!(
            SessionKey::parse(&sha).map(|k| k.revocation_id()),
            Some(sha.clone())
        );
        for bad in ["", "xyz", &sha[..63]] {
            assert_eq!(SessionKey::parse(bad), None, "{bad}");
        }
    }
}
