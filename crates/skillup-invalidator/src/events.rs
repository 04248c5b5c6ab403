//! What a batch of outbox records tells the realtime service, in stream order.
//!
//! | record | event |
//! |---|---|
//! | lesson_progress | `progress:updated`: the API's stored answer, or (SQL) one built from the row and the counts at drain time |
//! | course, module, lesson | `course:updated` of the course (and of the course it moved from), once per batch |
//! | enrollment | `access` of the user |
//! | course `UPDATE` to another instructor | `access` of the old and the new instructor |
//! | course `DELETE` | `course_removed` |
//! | profile `UPDATE`/`DELETE` | `access` of the user (its role may have changed) |
//! | `TRUNCATE` of enrollments, courses or profiles, unknown entity | `rights_reset` |
//!
//! Rights come first in a batch: a change of rights is applied by the nodes
//! before any event of the same batch, so a subscriber who lost a course never
//! receives an event committed after the loss (at worst it misses one committed
//! just before, in the same batch). [`EventPlan::from_records`] is pure;
//! [`resolve`] reads the counts and rights it needs in the batch's transaction.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use skillup_cache::Keys;
use skillup_common::{CourseId, UserId};
use skillup_db::DbError;
use skillup_db::events::Kind;
use skillup_db::outbox::{Entity, OutboxRecord};
use skillup_events::{
    Access, AccessReason, Control, CourseUpdated, Offset, ProgressEvent, ProgressUpdate,
};
use sqlx::PgConnection;

/// An event before the counts and rights it needs are read.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// An API write's stored answer, published as is.
    Progress(Box<ProgressEvent>),
    /// A change made in SQL: the counts are read at drain time.
    SqlProgress {
        user: UserId,
        course: CourseId,
        lesson: uuid::Uuid,
        completed: bool,
        at: DateTime<Utc>,
    },
    Course(CourseId),
    Access {
        user: UserId,
        reason: AccessReason,
    },
    CourseRemoved(CourseId),
    RightsReset,
}

/// The events of one batch, in the order they are numbered.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventPlan {
    pub events: Vec<Pending>,
}

impl EventPlan {
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Self {
        let mut reset = false;
        let mut removed = Vec::new();
        let mut access: Vec<(UserId, AccessReason)> = Vec::new();
        let mut items = Vec::new();
        let mut announced = HashSet::new();
        let mut add_access = |user: Option<UserId>, reason| {
            if let Some(user) = user
                && !access.iter().any(|(u, _)| *u == user)
            {
                access.push((user, reason));
            }
        };
        for r in records {
            let Some(entity) = r.entity.filter(|_| !r.is_table_wide()) else {
                reset |= matches!(
                    r.entity,
                    None | Some(Entity::Enrollment | Entity::Course | Entity::Profile)
                );
                continue;
            };
            match entity {
                Entity::LessonProgress => {
                    if let Some(event) = progress_of(r) {
                        items.push(event);
                    }
                }
                Entity::Course | Entity::Module | Entity::Lesson => {
                    for course in r.course_id.into_iter().chain(r.old_course_id) {
                        if announced.insert(course) {
                            items.push(Pending::Course(course));
                        }
                    }
                    if entity == Entity::Course {
                        if r.op == "DELETE" {
                            removed.extend(r.course_id.filter(|c| !removed.contains(c)));
                        } else if r.old_user_id.is_some() {
                            add_access(r.old_user_id, AccessReason::Reassigned);
                            add_access(r.user_id, AccessReason::Reassigned);
                        }
                    }
                }
                Entity::Enrollment => add_access(r.user_id, AccessReason::Enrollment),
                Entity::Profile if r.op != "INSERT" => add_access(r.user_id, AccessReason::Role),
                Entity::Profile => {}
            }
        }
        let mut events = Vec::new();
        if reset {
            events.push(Pending::RightsReset);
        }
        events.extend(removed.into_iter().map(Pending::CourseRemoved));
        events.extend(
            access
                .into_iter()
                .map(|(user, reason)| Pending::Access { user, reason }),
        );
        events.extend(items);
        Self { events }
    }

    fn progress_pairs(&self) -> Vec<(UserId, CourseId)> {
        let mut pairs: Vec<_> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Pending::SqlProgress { user, course, .. } => Some((*user, *course)),
                _ => None,
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    fn access_users(&self) -> Vec<UserId> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Pending::Access { user, .. } => Some(*user),
                _ => None,
            })
            .collect()
    }
}

/// The progress event of a `lesson_progress` record: the stored API answer, or
/// what the row says (a `DELETE` un-completes the lesson). Records whose lesson
/// is gone (no course) announce nothing.
fn progress_of(r: &OutboxRecord) -> Option<Pending> {
    if let Some(payload) = &r.payload {
        match serde_json::from_value::<ProgressEvent>(payload.clone()) {
            Ok(event) => return Some(Pending::Progress(Box::new(event))),
            Err(e) => {
                tracing::warn!(record = r.id, error = %e, "unreadable stored progress event; rebuilding it")
            }
        }
    }
    Some(Pending::SqlProgress {
        user: r.user_id?,
        course: r.course_id?,
        lesson: r.entity_id?,
        completed: r.op != "DELETE",
        at: r.created_at,
    })
}

/// One event ready to be numbered, stored and published.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub kind: Kind,
    pub user: Option<uuid::Uuid>,
    pub course: Option<uuid::Uuid>,
    pub message: Message,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Progress(Box<ProgressEvent>),
    Course(CourseUpdated),
    Control(Control),
}

impl Outgoing {
    fn progress(event: ProgressEvent) -> Self {
        Self {
            kind: Kind::Progress,
            user: Some(event.user_id),
            course: Some(event.update.course_id),
            message: Message::Progress(Box::new(event)),
        }
    }

    pub fn set_offset(&mut self, offset: Offset) {
        match &mut self.message {
            Message::Progress(e) => e.offset = Some(offset),
            Message::Course(e) => e.offset = Some(offset),
            Message::Control(
                Control::Access(Access { offset: o, .. })
                | Control::CourseRemoved { offset: o, .. }
                | Control::RightsReset { offset: o },
            ) => *o = offset,
            Message::Control(Control::SessionRevoked { .. } | Control::Heartbeat { .. }) => {}
        }
    }

    /// The stored message: what a node replays. Trace context is not stored (it
    /// belongs to one publish).
    pub fn body(&self) -> String {
        let json = match &self.message {
            Message::Progress(e) if e.traceparent.is_some() => {
                let mut e = (**e).clone();
                e.traceparent = None;
                serde_json::to_string(&e)
            }
            Message::Progress(e) => serde_json::to_string(e),
            Message::Course(e) => serde_json::to_string(e),
            Message::Control(c) => serde_json::to_string(c),
        };
        json.expect("events serialize")
    }

    pub fn channel(&self, keys: &Keys) -> String {
        match self.kind {
            Kind::Progress => keys.progress_channel(),
            Kind::Course => keys.course_channel(),
            Kind::Access | Kind::CourseRemoved | Kind::RightsReset => keys.control_channel(),
        }
    }

    /// The trace context the API stored with its write, if any.
    pub fn traceparent(&self) -> Option<&str> {
        match &self.message {
            Message::Progress(e) => e.traceparent.as_deref(),
            _ => None,
        }
    }
}

/// Reads what `plan` needs (progress counts, rights) in the batch's transaction
/// and builds its events, offsets not yet set.
pub async fn resolve(
    conn: &mut PgConnection,
    plan: &EventPlan,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, DbError> {
    let pairs = plan.progress_pairs();
    let counts = if pairs.is_empty() {
        Vec::new()
    } else {
        skillup_db::progress::counts(conn, &pairs).await?
    };
    let users = plan.access_users();
    let rights = if users.is_empty() {
        Vec::new()
    } else {
        skillup_db::access::rights(conn, &users).await?
    };
    let placeholder = Offset::new(skillup_events::Epoch(0), 0);
    let mut out = Vec::with_capacity(plan.events.len());
    for pending in &plan.events {
        out.push(match pending {
            Pending::Progress(event) => Outgoing::progress((**event).clone()),
            Pending::SqlProgress {
                user,
                course,
                lesson,
                completed,
                at,
            } => {
                let (done, total) = counts
                    .iter()
                    .find(|(u, c, ..)| u == user && c == course)
                    .map_or((0, 0), |(_, _, done, total)| (*done, *total));
                Outgoing::progress(ProgressEvent {
                    update: ProgressUpdate {
                        course_id: course.0,
                        lesson_id: *lesson,
                        completed: *completed,
                        completed_lessons: done,
                        total_lessons: total,
                        percent: skillup_db::progress::percent(done, total),
                    },
                    user_id: user.0,
                    at: *at,
                    offset: None,
                    traceparent: None,
                })
            }
            Pending::Course(course) => Outgoing {
                kind: Kind::Course,
                user: None,
                course: Some(course.0),
                message: Message::Course(CourseUpdated {
                    course_id: course.0,
                    at: now,
                    offset: None,
                }),
            },
            Pending::Access { user, reason } => {
                let found = rights.iter().find(|r| r.user == *user);
                Outgoing {
                    kind: Kind::Access,
                    user: Some(user.0),
                    course: None,
                    message: Message::Control(Control::Access(Access {
                        user_id: *user,
                        admin: found.is_some_and(|r| r.admin),
                        teaches: found.map(|r| r.teaches.clone()).unwrap_or_default(),
                        enrolled: found.map(|r| r.enrolled.clone()).unwrap_or_default(),
                        reason: *reason,
                        offset: placeholder,
                    })),
                }
            }
            Pending::CourseRemoved(course) => Outgoing {
                kind: Kind::CourseRemoved,
                user: None,
                course: Some(course.0),
                message: Message::Control(Control::CourseRemoved {
                    course_id: *course,
                    offset: placeholder,
                }),
            },
            Pending::RightsReset => Outgoing {
                kind: Kind::RightsReset,
                user: None,
                course: None,
                message: Message::Control(Control::RightsReset {
                    offset: placeholder,
                }),
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn record(entity: Entity, op: &str) -> OutboxRecord {
        OutboxRecord {
            id: 1,
            entity: Some(entity),
            op: op.into(),
            entity_id: Some(Uuid::new_v4()),
            course_id: Some(CourseId::new_random()),
            old_course_id: None,
            user_id: Some(UserId::new_random()),
            old_user_id: None,
            payload: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn rights_come_before_the_events_of_their_batch() {
        let progress = record(Entity::LessonProgress, "INSERT");
        let unenroll = record(Entity::Enrollment, "DELETE");
        let mut deleted = record(Entity::Course, "DELETE");
        deleted.user_id = None;
        let plan = EventPlan::from_records(&[progress.clone(), unenroll.clone(), deleted.clone()]);
        let course = deleted.course_id.unwrap();
        assert_eq!(
            plan.events[..3],
            [
                Pending::CourseRemoved(course),
                Pending::Access {
                    user: unenroll.user_id.unwrap(),
                    reason: AccessReason::Enrollment
                },
                Pending::SqlProgress {
                    user: progress.user_id.unwrap(),
                    course: progress.course_id.unwrap(),
                    lesson: progress.entity_id.unwrap(),
                    completed: true,
                    at: progress.created_at,
                },
            ]
        );
        assert_eq!(
            plan.events[3],
            Pending::Course(course),
            "and it is announced"
        );
    }

    #[test]
    fn a_stored_answer_is_published_as_is_and_a_delete_uncompletes() {
        let mut api = record(Entity::LessonProgress, "INSERT");
        let event = ProgressEvent {
            update: ProgressUpdate {
                course_id: api.course_id.unwrap().0,
                lesson_id: api.entity_id.unwrap(),
                completed: true,
                completed_lessons: 3,
                total_lessons: 40,
                percent: 7.5,
            },
            user_id: api.user_id.unwrap().0,
            at: Utc::now(),
            offset: None,
            traceparent: None,
        };
        api.payload = Some(serde_json::to_value(&event).unwrap());
        let sql = record(Entity::LessonProgress, "DELETE");
        let plan = EventPlan::from_records(&[api, sql]);
        assert_eq!(plan.events[0], Pending::Progress(Box::new(event)));
        assert!(matches!(
            plan.events[1],
            Pending::SqlProgress {
                completed: false,
                ..
            }
        ));
    }

    #[test]
    fn only_a_change_of_instructor_touches_instructors_rights() {
        let mut retitled = record(Entity::Course, "UPDATE");
        assert_eq!(
            EventPlan::from_records(&[retitled.clone()]).access_users(),
            []
        );
        let old = UserId::new_random();
        retitled.old_user_id = Some(old);
        assert_eq!(
            EventPlan::from_records(&[retitled.clone()]).access_users(),
            [old, retitled.user_id.unwrap()]
        );
    }

    #[test]
    fn a_course_is_announced_once_per_batch_and_truncates_reset_rights() {
        let mut a = record(Entity::Lesson, "UPDATE");
        let mut b = record(Entity::Module, "INSERT");
        b.course_id = a.course_id;
        let plan = EventPlan::from_records(&[a.clone(), b]);
        assert_eq!(plan.events, [Pending::Course(a.course_id.unwrap())]);
        a.entity = Some(Entity::Enrollment);
        a.entity_id = None;
        a.course_id = None;
        a.user_id = None;
        assert_eq!(EventPlan::from_records(&[a]).events, [Pending::RightsReset]);
    }
}
