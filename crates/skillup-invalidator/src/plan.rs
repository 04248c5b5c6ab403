//! What a batch of outbox records means for the cache: which keys to invalidate,
//! whether the listing pages change, and which whole families to flush. Pure: no
//! I/O, so it is tested exhaustively.
//!
//! | record | invalidates |
//! |---|---|
//! | course | `course:{id}`, listing pages, `user:{id}` of its enrolled users |
//! | module, lesson | `course:{id}` of the old and new course; for lessons added, removed or moved and modules removed or moved, `user:{id}` of the enrolled users (their snapshot counts lessons) |
//! | enrollment | `course:{id}` (enrollment_count), `user:{id}` |
//! | lesson_progress | `user:{id}` (the course detail holds no progress) |
//! | profile | `user:{id}`, and `course:{id}` + listing pages of every course it teaches |
//! | `TRUNCATE`, unknown entity | every key of the families the table feeds |
//!
//! The realtime events the same records make are planned in [`crate::events`].

use std::collections::BTreeSet;

use skillup_cache::{CacheKey, Keys};
use skillup_common::{CourseId, UserId};
use skillup_db::outbox::{Entity, OutboxRecord};

/// A whole family of keys, flushed with `SCAN` + `UNLINK` after a table-wide change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// `course:*` (and the listing pages)
    Courses,
    /// `user:*`
    Users,
}

/// The cache work a batch of records calls for, deduplicated.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub courses: BTreeSet<CourseId>,
    pub users: BTreeSet<UserId>,
    /// The listing pages (`courses:published:*`) must go.
    pub listing: bool,
    /// Profiles whose taught courses must be looked up and added to `courses`.
    pub instructors: BTreeSet<UserId>,
    /// Courses whose enrolled users' `user:{id}` snapshots (course titles, lesson
    /// counts) must be looked up and added to `users`.
    pub enrolled_in: BTreeSet<CourseId>,
    pub flush: BTreeSet<Family>,
    /// The records this plan covers.
    pub record_ids: Vec<i64>,
}

/// What applying a [`Plan`] sends to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheWork {
    /// `course:{id}` and `user:{id}` entries, invalidated with their guards.
    pub entries: Vec<CacheKey>,
    /// Whether the listing pages (`courses:published:*`) are invalidated.
    pub listing: bool,
    /// `SCAN` + `UNLINK` patterns of the families flushed.
    pub patterns: Vec<String>,
}

impl Plan {
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Self {
        let mut plan = Self::default();
        for r in records {
            plan.add(r);
        }
        plan
    }

    pub fn add(&mut self, r: &OutboxRecord) {
        self.record_ids.push(r.id);
        let Some(entity) = r.entity.filter(|_| !r.is_table_wide()) else {
            self.flush_for(r.entity);
            return;
        };
        let courses = r.course_id.into_iter().chain(r.old_course_id);
        match entity {
            Entity::Course => {
                self.courses.extend(courses.clone());
                self.enrolled_in.extend(courses);
                self.listing = true;
            }
            Entity::Module | Entity::Lesson => {
                self.courses.extend(courses.clone());
                // Lesson counts change when lessons come or go, or move between courses.
                let counts_change = r.op != "UPDATE" || r.old_course_id.is_some();
                let removes_lessons =
                    entity == Entity::Lesson || r.op == "DELETE" || r.old_course_id.is_some();
                if counts_change && removes_lessons {
                    self.enrolled_in.extend(courses);
                }
            }
            Entity::Enrollment => {
                self.courses.extend(courses);
                self.users.extend(r.user_id);
            }
            Entity::LessonProgress => self.users.extend(r.user_id),
            Entity::Profile => {
                self.users.extend(r.user_id);
                self.instructors.extend(r.user_id);
            }
        }
    }

    fn flush_for(&mut self, entity: Option<Entity>) {
        match entity {
            Some(Entity::LessonProgress) => {
                self.flush.insert(Family::Users);
            }
            Some(Entity::Course | Entity::Module | Entity::Lesson) => {
                self.flush.insert(Family::Courses);
                self.listing = true;
            }
            Some(Entity::Enrollment | Entity::Profile) | None => {
                self.flush.insert(Family::Courses);
                self.flush.insert(Family::Users);
                self.listing = true;
            }
        }
    }

    /// The Redis names this plan touches under `keys`' prefix, built only from
    /// typed ids and fixed patterns, so no record content can widen a `SCAN` or
    /// reach outside the prefix.
    pub fn cache_work(&self, keys: &Keys) -> CacheWork {
        let mut entries: Vec<CacheKey> = self.courses.iter().map(|c| keys.course(*c)).collect();
        entries.extend(self.users.iter().map(|u| keys.user(*u)));
        CacheWork {
            entries,
            listing: self.listing,
            patterns: self
                .flush
                .iter()
                .map(|family| match family {
                    Family::Courses => keys.courses_pattern(),
                    Family::Users => keys.users_pattern(),
                })
                .collect(),
        }
    }

    /// Adds the users enrolled in [`Plan::enrolled_in`], looked up by the caller.
    pub fn add_enrolled_users(&mut self, users: impl IntoIterator<Item = UserId>) {
        self.users.extend(users);
    }

    /// Adds the courses taught by [`Plan::instructors`], looked up by the caller.
    pub fn add_taught_courses(&mut self, courses: impl IntoIterator<Item = CourseId>) {
        let before = self.courses.len();
        self.courses.extend(courses);
        if self.courses.len() > before {
            self.listing = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn record(
        entity: Option<Entity>,
        course: Option<CourseId>,
        old: Option<CourseId>,
        user: Option<UserId>,
    ) -> OutboxRecord {
        OutboxRecord {
            id: 1,
            entity,
            op: "UPDATE".into(),
            entity_id: Some(Uuid::new_v4()),
            course_id: course,
            old_course_id: old,
            user_id: user,
            old_user_id: None,
            payload: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_course_change_drops_its_detail_and_the_listing() {
        let c = CourseId::new_random();
        let plan = Plan::from_records(&[record(Some(Entity::Course), Some(c), None, None)]);
        assert_eq!(plan.courses, [c].into());
        assert!(plan.listing);
        assert!(plan.users.is_empty() && plan.flush.is_empty());
    }

    #[test]
    fn a_module_moved_between_courses_touches_both() {
        let (a, b) = (CourseId::new_random(), CourseId::new_random());
        let plan = Plan::from_records(&[record(Some(Entity::Module), Some(b), Some(a), None)]);
        assert_eq!(plan.courses, [a, b].into());
        assert!(!plan.listing, "outlines are not in the listing");
    }

    #[test]
    fn lesson_counts_and_course_titles_reach_the_enrolled_users() {
        let c = CourseId::new_random();
        let mut added = record(Some(Entity::Lesson), Some(c), None, None);
        added.op = "INSERT".into();
        assert_eq!(Plan::from_records(&[added.clone()]).enrolled_in, [c].into());
        added.op = "UPDATE".into();
        assert!(
            Plan::from_records(&[added]).enrolled_in.is_empty(),
            "a retitled lesson changes no count"
        );
        let mut module = record(Some(Entity::Module), Some(c), None, None);
        module.op = "INSERT".into();
        assert!(
            Plan::from_records(&[module.clone()]).enrolled_in.is_empty(),
            "a new module is empty"
        );
        module.op = "DELETE".into();
        assert_eq!(
            Plan::from_records(&[module]).enrolled_in,
            [c].into(),
            "its lessons went with it"
        );
        let course = record(Some(Entity::Course), Some(c), None, None);
        assert_eq!(
            Plan::from_records(&[course]).enrolled_in,
            [c].into(),
            "titles are in the snapshot"
        );
    }

    #[test]
    fn enrollments_touch_the_count_and_the_user_progress_only_the_user() {
        let (c, u) = (CourseId::new_random(), UserId::new_random());
        let plan = Plan::from_records(&[record(Some(Entity::Enrollment), Some(c), None, Some(u))]);
        assert_eq!(
            (plan.courses.clone(), plan.users.clone()),
            ([c].into(), [u].into())
        );
        let plan =
            Plan::from_records(&[record(Some(Entity::LessonProgress), Some(c), None, Some(u))]);
        assert!(plan.courses.is_empty());
        assert_eq!(plan.users, [u].into());
    }

    #[test]
    fn a_profile_change_expands_to_the_courses_it_teaches() {
        let u = UserId::new_random();
        let mut plan = Plan::from_records(&[record(Some(Entity::Profile), None, None, Some(u))]);
        assert_eq!(plan.users, [u].into());
        assert_eq!(plan.instructors, [u].into());
        assert!(!plan.listing);
        plan.add_taught_courses([]);
        assert!(
            !plan.listing,
            "a student's profile leaves the listing alone"
        );
        let c = CourseId::new_random();
        plan.add_taught_courses([c]);
        assert!(plan.listing && plan.courses.contains(&c));
    }

    #[test]
    fn truncates_and_unknown_entities_flush_whole_families() {
        let mut truncate = record(Some(Entity::LessonProgress), None, None, None);
        truncate.entity_id = None;
        assert_eq!(
            Plan::from_records(&[truncate.clone()]).flush,
            [Family::Users].into()
        );
        truncate.entity = Some(Entity::Lesson);
        let plan = Plan::from_records(&[truncate.clone()]);
        assert_eq!(plan.flush, [Family::Courses].into());
        assert!(plan.listing);
        let unknown = record(None, Some(CourseId::new_random()), None, None);
        assert_eq!(
            Plan::from_records(&[unknown]).flush,
            [Family::Courses, Family::Users].into()
        );
    }

    #[test]
    fn duplicates_collapse() {
        let c = CourseId::new_random();
        let records: Vec<_> = (0..50)
            .map(|_| record(Some(Entity::Lesson), Some(c), None, None))
            .collect();
        let plan = Plan::from_records(&records);
        assert_eq!(plan.courses.len(), 1);
        assert_eq!(plan.record_ids.len(), 50);
    }

    /// Property tests (`PROPTEST_CASES`, default 256): any batch of records, from
    /// any writer, under any prefix `RedisConfig` accepts, plans only keys of the
    /// spec's shapes inside the prefix and never a pattern beyond the two
    /// family flushes.
    mod properties {
        use std::collections::HashMap;

        use proptest::prelude::*;
        use skillup_common::config::RedisConfig;

        use super::*;

        fn uuid() -> impl Strategy<Value = Uuid> {
            any::<u128>().prop_map(Uuid::from_u128)
        }

        fn record() -> impl Strategy<Value = OutboxRecord> {
            let entity = prop_oneof![
                Just(Some(Entity::Profile)),
                Just(Some(Entity::Course)),
                Just(Some(Entity::Module)),
                Just(Some(Entity::Lesson)),
                Just(Some(Entity::Enrollment)),
                Just(Some(Entity::LessonProgress)),
                Just(None),
            ];
            let op = prop_oneof![
                Just("INSERT".to_owned()),
                Just("UPDATE".to_owned()),
                Just("DELETE".to_owned()),
                Just("TRUNCATE".to_owned()),
                any::<String>(),
            ];
            (
                any::<i64>(),
                entity,
                op,
                proptest::option::of(uuid()),
                proptest::option::of(uuid().prop_map(CourseId)),
                proptest::option::of(uuid().prop_map(CourseId)),
                proptest::option::of(uuid().prop_map(UserId)),
            )
                .prop_map(
                    |(id, entity, op, entity_id, course_id, old_course_id, user_id)| OutboxRecord {
                        id,
                        entity,
                        op,
                        entity_id,
                        course_id,
                        old_course_id,
                        user_id,
                        old_user_id: None,
                        payload: None,
                        created_at: Utc::now(),
                    },
                )
        }

        fn is_uuid(s: &str) -> bool {
            s.parse::<Uuid>()
                .is_ok_and(|u| u.hyphenated().to_string() == s)
        }

        const GLOB: [char; 5] = ['*', '?', '[', ']', '\\'];

        proptest! {
            #[test]
            fn plans_stay_inside_the_prefix_with_typed_keys_only(
                prefix in "[^*?\\[\\]\\\\ ]{1,16}",
                records in proptest::collection::vec(record(), 0..40),
                taught in proptest::collection::vec(uuid().prop_map(CourseId), 0..4),
                enrolled in proptest::collection::vec(uuid().prop_map(UserId), 0..4),
            ) {
                let env: HashMap<&str, &str> = [("REDIS_KEY_PREFIX", prefix.as_str())].into_iter().collect();
                let accepted = RedisConfig::from_env(&env);
                prop_assume!(accepted.as_ref().is_ok_and(|c| c.key_prefix == prefix));
                let keys = Keys::new(prefix.clone());

                let mut plan = Plan::from_records(&records);
                plan.add_taught_courses(taught);
                plan.add_enrolled_users(enrolled);
                let work = plan.cache_work(&keys);

                prop_assert_eq!(work.entries.len(), plan.courses.len() + plan.users.len());
                for entry in &work.entries {
                    let key = entry.as_str();
                    let rest = key.strip_prefix(prefix.as_str()).expect("inside the prefix");
                    let typed = rest
                        .strip_prefix("course:")
                        .or_else(|| rest.strip_prefix("user:"))
                        .is_some_and(is_uuid);
                    prop_assert!(typed, "{}", key);
                    prop_assert!(!key.contains(GLOB), "{}", key);
                    prop_assert_eq!(entry.guard(), format!("{prefix}gen:{{{key}}}"));
                }
                for pattern in &work.patterns {
                    let rest = pattern.strip_prefix(prefix.as_str()).expect("inside the prefix");
                    prop_assert!(rest == "course:*" || rest == "user:*", "{}", pattern);
                }
                prop_assert_eq!(plan.record_ids.len(), records.len());
            }
        }
    }
}
