//! Migrations, triggers and seed against a fresh database per test.

use skillup_db::{catalogue, courses, seed};
use skillup_testkit::fresh_database;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, PartialEq, Eq, sqlx::FromRow)]
struct Record {
    entity: String,
    op: String,
    entity_id: Option<Uuid>,
    course_id: Option<Uuid>,
    old_course_id: Option<Uuid>,
    user_id: Option<Uuid>,
}

async fn records_after(pool: &PgPool, after: i64) -> Vec<Record> {
    sqlx::query_as(
        "SELECT entity, op, entity_id, course_id, old_course_id, user_id FROM invalidation_outbox WHERE id > $1 ORDER BY id",
    )
    .bind(after)
    .fetch_all(pool)
    .await
    .expect("outbox readable")
}

async fn last_id(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM invalidation_outbox")
        .fetch_one(pool)
        .await
        .expect("outbox readable")
}

fn rec(
    entity: &str,
    op: &str,
    entity_id: Option<Uuid>,
    course: Option<Uuid>,
    old: Option<Uuid>,
    user: Option<Uuid>,
) -> Record {
    Record {
        entity: entity.into(),
        op: op.into(),
        entity_id,
        course_id: course,
        old_course_id: old,
        user_id: user,
    }
}

#[tokio::test]
async fn every_table_writes_an_outbox_record_for_hand_written_sql() {
    let db = fresh_database().await;
    let pool = &db.pool;
    seed::seed(pool, 2, &|_| {}).await.unwrap();
    let c1 = seed::course_id(1).0;
    let c2 = seed::course_id(2).0;
    let student = seed::student_id(1).0;
    let instructor = seed::instructor_id(1).0;

    // A person in psql, inserting only the spec's columns.
    let start = last_id(pool).await;
    let profile: Uuid =
        sqlx::query_scalar("INSERT INTO profiles (email) VALUES ('psql@example.com') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("UPDATE courses SET title = 'Renamed' WHERE id = $1")
        .bind(c1)
        .execute(pool)
        .await
        .unwrap();
    let module: Uuid = sqlx::query_scalar(
        "INSERT INTO modules (course_id, position, title) VALUES ($1, 9, 'New') RETURNING id",
    )
    .bind(c1)
    .fetch_one(pool)
    .await
    .unwrap();
    let lesson: Uuid = sqlx::query_scalar(
        "INSERT INTO lessons (module_id, position, title) VALUES ($1, 1, 'L') RETURNING id",
    )
    .bind(module)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE modules SET course_id = $2 WHERE id = $1")
        .bind(module)
        .bind(c2)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO enrollments (user_id, course_id) VALUES ($1, $2)")
        .bind(profile)
        .bind(c2)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO lesson_progress (user_id, lesson_id) VALUES ($1, $2)")
        .bind(profile)
        .bind(lesson)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM lesson_progress WHERE user_id = $1")
        .bind(profile)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE profiles SET display_name = 'Prof' WHERE id = $1")
        .bind(instructor)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM enrollments WHERE user_id = $1 AND course_id = $2")
        .bind(student)
        .bind(seed::course_id(seed::enrollments_of(1, 2)[0]).0)
        .execute(pool)
        .await
        .unwrap();

    let got = records_after(pool, start).await;
    let first_course = seed::course_id(seed::enrollments_of(1, 2)[0]).0;
    assert_eq!(
        got,
        vec![
            rec(
                "profile",
                "INSERT",
                Some(profile),
                None,
                None,
                Some(profile)
            ),
            // A course's record names its instructor (who may follow it).
            rec(
                "course",
                "UPDATE",
                Some(c1),
                Some(c1),
                None,
                Some(seed::instructor_id(1).0)
            ),
            rec("module", "INSERT", Some(module), Some(c1), None, None),
            rec("lesson", "INSERT", Some(lesson), Some(c1), None, None),
            rec("module", "UPDATE", Some(module), Some(c2), Some(c1), None),
            rec("enrollment", "INSERT", None, Some(c2), None, Some(profile)),
            // The course of a progress record is looked up when it is drained.
            rec(
                "lesson_progress",
                "INSERT",
                Some(lesson),
                None,
                None,
                Some(profile)
            ),
            rec(
                "lesson_progress",
                "DELETE",
                Some(lesson),
                None,
                None,
                Some(profile)
            ),
            rec(
                "profile",
                "UPDATE",
                Some(instructor),
                None,
                None,
                Some(instructor)
            ),
            rec(
                "enrollment",
                "DELETE",
                None,
                Some(first_course),
                None,
                Some(student)
            ),
        ]
    );
}

#[tokio::test]
async fn deleting_a_course_records_the_cascade() {
    let db = fresh_database().await;
    let pool = &db.pool;
    seed::seed(pool, 1, &|_| {}).await.unwrap();
    let c1 = seed::course_id(1).0;
    let start = last_id(pool).await;
    sqlx::query("DELETE FROM courses WHERE id = $1")
        .bind(c1)
        .execute(pool)
        .await
        .unwrap();
    let got = records_after(pool, start).await;
    assert!(got.contains(&rec(
        "course",
        "DELETE",
        Some(c1),
        Some(c1),
        None,
        Some(seed::instructor_id(1).0)
    )));
    assert!(
        got.iter()
            .filter(|r| r.entity == "module")
            .all(|r| r.course_id == Some(c1))
    );
    assert!(
        got.iter().any(|r| r.entity == "enrollment"),
        "enrollments cascade and are recorded with their users"
    );
    assert!(
        got.iter()
            .filter(|r| r.entity == "enrollment")
            .all(|r| r.user_id.is_some())
    );
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_record() {
    let db = fresh_database().await;
    let pool = &db.pool;
    seed::seed(pool, 1, &|_| {}).await.unwrap();
    let start = last_id(pool).await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE courses SET title = 'x'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(records_after(pool, start).await.is_empty());
}

/// Claiming takes records out of the outbox in the claimer's transaction: oldest
/// first, still visible to others until it commits (the backlog counts them), skipped
/// by a concurrent claim, put back by a rollback, gone after a commit.
#[tokio::test]
async fn a_claim_takes_records_out_until_its_transaction_ends() {
    use skillup_db::outbox;
    let db = fresh_database().await;
    let pool = &db.pool;
    seed::seed(pool, 1, &|_| {}).await.unwrap();
    sqlx::query("DELETE FROM invalidation_outbox")
        .execute(pool)
        .await
        .unwrap();
    for price in 1..=4 {
        sqlx::query("UPDATE courses SET price_cents = $1")
            .bind(price)
            .execute(pool)
            .await
            .unwrap();
    }
    let all: Vec<i64> = sqlx::query_scalar("SELECT id FROM invalidation_outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let ids = |records: &[outbox::OutboxRecord]| records.iter().map(|r| r.id).collect::<Vec<_>>();

    let mut first = pool.begin().await.unwrap();
    let taken = outbox::claim(&mut first, 2).await.unwrap();
    assert_eq!(ids(&taken), all[..2], "the oldest, in id order");
    assert_eq!(
        outbox::backlog(pool).await.unwrap().pending,
        4,
        "still pending until commit"
    );
    let mut second = pool.begin().await.unwrap();
    assert_eq!(
        ids(&outbox::claim(&mut second, 10).await.unwrap()),
        all[2..],
        "a concurrent claim skips the records the first holds"
    );
    second.rollback().await.unwrap();
    first.rollback().await.unwrap();
    assert_eq!(
        outbox::backlog(pool).await.unwrap().pending,
        4,
        "a rollback puts them back"
    );

    let mut again = pool.begin().await.unwrap();
    assert_eq!(ids(&outbox::claim(&mut again, 10).await.unwrap()), all);
    again.commit().await.unwrap();
    assert_eq!(
        outbox::backlog(pool).await.unwrap().pending,
        0,
        "gone after the commit"
    );
}

#[tokio::test]
async fn committed_changes_notify_the_invalidation_channel() {
    let db = fresh_database().await;
    seed::seed(&db.pool, 1, &|_| {}).await.unwrap();
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener.listen("skillup_invalidations").await.unwrap();
    sqlx::query("UPDATE courses SET price_cents = 5")
        .execute(&db.pool)
        .await
        .unwrap();
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification arrives")
        .unwrap();
    assert_eq!(note.channel(), "skillup_invalidations");
}

#[tokio::test]
async fn updated_at_follows_changes_and_truncate_is_recorded() {
    let db = fresh_database().await;
    let pool = &db.pool;
    seed::seed(pool, 1, &|_| {}).await.unwrap();
    let before = courses::detail(pool, seed::course_id(1))
        .await
        .unwrap()
        .unwrap();
    sqlx::query("UPDATE courses SET title = 'New'")
        .execute(pool)
        .await
        .unwrap();
    let after = courses::detail(pool, seed::course_id(1))
        .await
        .unwrap()
        .unwrap();
    assert!(after.updated_at > before.updated_at);
    let start = last_id(pool).await;
    sqlx::query("TRUNCATE lesson_progress")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        records_after(pool, start).await,
        vec![rec("lesson_progress", "DELETE", None, None, None, None)]
    );
}

#[tokio::test]
async fn seeding_is_deterministic_and_idempotent() {
    let db = fresh_database().await;
    let first = seed::seed(&db.pool, 30, &|_| {}).await.unwrap();
    assert_eq!(first.courses, 30);
    assert_eq!(first.modules, 30 * 5);
    assert_eq!(first.lessons, 30 * 40);
    assert_eq!(first.profiles, 121);
    assert!(first.enrollments > 0 && first.progress > 0);
    let again = seed::seed(&db.pool, 30, &|_| {}).await.unwrap();
    assert_eq!(
        again,
        seed::SeedReport::default(),
        "nothing new on a second run"
    );
    let more = seed::seed(&db.pool, 35, &|_| {}).await.unwrap();
    assert_eq!(more.courses, 5, "a larger N adds only the missing courses");
    assert_eq!(
        (more.enrollments, more.progress),
        (0, 0),
        "and never moves enrollments"
    );
    let slug: String = sqlx::query_scalar("SELECT slug FROM courses WHERE id = $1")
        .bind(seed::course_id(7).0)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(slug, "course-7");
}

#[tokio::test]
async fn listing_and_detail_queries_follow_the_spec_order() {
    let db = fresh_database().await;
    seed::seed(&db.pool, 25, &|_| {}).await.unwrap();
    let page = catalogue::page(&db.pool, &catalogue::Filter::default(), 2, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 23);
    let slugs: Vec<_> = page.items.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(
        slugs,
        [
            "course-14",
            "course-13",
            "course-12",
            "course-11",
            "course-9",
            "course-8",
            "course-7",
            "course-6",
            "course-5",
            "course-4"
        ]
    );
    assert!(
        courses::detail(&db.pool, skillup_common::CourseId::new_random())
            .await
            .unwrap()
            .is_none()
    );
    let draft = courses::detail(&db.pool, seed::course_id(20))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !draft.published,
        "detail returns drafts; callers decide who sees them"
    );
}
