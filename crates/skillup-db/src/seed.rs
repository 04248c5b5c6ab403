//! Deterministic demo data: the same ids and rows on every run and every machine,
//! so demo tokens, benchmarks and tests can name them.
//!
//! 1 admin, 20 instructors, 100 students; N courses × 5 modules × 8 lessons (every
//! tenth course an unpublished draft); 3 enrollments per student with 0–11 completed
//! lessons each. Re-running inserts nothing new (`ON CONFLICT DO NOTHING`), and a
//! larger N adds only the missing courses.

use chrono::{DateTime, Duration, TimeZone, Utc};
use skillup_common::{CourseId, UserId};
use sqlx::PgPool;
use uuid::Uuid;

use crate::DbError;

pub const MODULES_PER_COURSE: u32 = 5;
pub const LESSONS_PER_MODULE: u32 = 8;
pub const INSTRUCTORS: u32 = 20;
pub const STUDENTS: u32 = 100;
const ENROLLMENTS_PER_STUDENT: u32 = 3;
/// Courses written per transaction (and per progress callback).
const CHUNK: u32 = 100;

const TOPICS: [&str; 12] = [
    "Rust",
    "Postgres",
    "Redis",
    "TypeScript",
    "Distributed Systems",
    "Go",
    "React",
    "Kubernetes",
    "Data Engineering",
    "Security",
    "Machine Learning",
    "Linux",
];
const LEVELS: [&str; 5] = [
    "Foundations",
    "in Practice",
    "Deep Dive",
    "for Teams",
    "Performance",
];

/// The namespace of every seeded id (uuid v5 of a readable name).
const NAMESPACE: Uuid = Uuid::from_u128(0x5c1b_a11d_5eed_4d00_8000_0000_0000_0000);

/// The stable id of a seeded entity, e.g. `uuid_for("course-1")`.
pub fn uuid_for(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

pub fn admin_id() -> UserId {
    UserId(uuid_for("admin"))
}

/// Instructor `n` (1-based).
pub fn instructor_id(n: u32) -> UserId {
    UserId(uuid_for(&format!("instructor-{n}")))
}

/// Student `n` (1-based).
pub fn student_id(n: u32) -> UserId {
    UserId(uuid_for(&format!("student-{n}")))
}

/// Course `n` (1-based). Course 1 is always published; every tenth is a draft.
pub fn course_id(n: u32) -> CourseId {
    CourseId(uuid_for(&format!("course-{n}")))
}

pub fn is_published(n: u32) -> bool {
    !n.is_multiple_of(10)
}

fn module_id(course: u32, module: u32) -> Uuid {
    uuid_for(&format!("course-{course}/module-{module}"))
}

fn lesson_id(course: u32, module: u32, lesson: u32) -> Uuid {
    uuid_for(&format!("course-{course}/module-{module}/lesson-{lesson}"))
}

fn at(minutes: i64) -> DateTime<Utc> {
    let epoch = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    epoch + Duration::minutes(minutes)
}

/// What a seed run wrote (rows that already existed are not counted).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub profiles: u64,
    pub courses: u64,
    pub modules: u64,
    pub lessons: u64,
    pub enrollments: u64,
    pub progress: u64,
}

/// Seeds `courses` courses and the fixed people; calls `progress(done)` after each
/// chunk of courses so a CLI can draw a bar.
pub async fn seed(
    pool: &PgPool,
    courses: u32,
    progress: &(dyn Fn(u32) + Sync),
) -> Result<SeedReport, DbError> {
    let mut report = SeedReport {
        profiles: seed_profiles(pool).await?,
        ..SeedReport::default()
    };
    let mut start = 1;
    while start <= courses {
        let end = (start + CHUNK - 1).min(courses);
        let r = seed_courses(pool, start, end).await?;
        report.courses += r.courses;
        report.modules += r.modules;
        report.lessons += r.lessons;
        progress(end);
        start = end + 1;
    }
    let (enrollments, done) = seed_enrollments(pool, courses).await?;
    report.enrollments = enrollments;
    report.progress = done;
    // Fresh planner statistics: right after a bulk insert the planner still sees
    // the empty tables and picks sequential scans for the outline query (5 ms
    // instead of 0.6 ms per course detail until autovacuum gets to it).
    sqlx::query("ANALYZE profiles, courses, modules, lessons, enrollments, lesson_progress")
        .execute(pool)
        .await?;
    Ok(report)
}

async fn seed_profiles(pool: &PgPool) -> Result<u64, DbError> {
    let mut ids = vec![admin_id().0];
    let mut emails = vec!["admin@skillup.dev".to_owned()];
    let mut names = vec!["Ada Admin".to_owned()];
    let mut roles = vec!["admin".to_owned()];
    let mut created = vec![at(0)];
    for i in 1..=INSTRUCTORS {
        ids.push(instructor_id(i).0);
        emails.push(format!("instructor{i}@skillup.dev"));
        names.push(format!("Instructor {i}"));
        roles.push("instructor".to_owned());
        created.push(at(i64::from(i)));
    }
    for s in 1..=STUDENTS {
        ids.push(student_id(s).0);
        emails.push(format!("student{s}@skillup.dev"));
        names.push(format!("Student {s}"));
        roles.push("student".to_owned());
        created.push(at(100 + i64::from(s)));
    }
    let done = sqlx::query(
        "INSERT INTO profiles (id, email, display_name, role, created_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&emails)
    .bind(&names)
    .bind(&roles)
    .bind(&created)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

async fn seed_courses(pool: &PgPool, first: u32, last: u32) -> Result<SeedReport, DbError> {
    #[derive(Default)]
    struct Cols {
        id: Vec<Uuid>,
        slug: Vec<String>,
        title: Vec<String>,
        description: Vec<String>,
        instructor: Vec<Uuid>,
        published: Vec<bool>,
        price: Vec<i32>,
        created: Vec<DateTime<Utc>>,
    }
    let mut c = Cols::default();
    let (mut m_id, mut m_course, mut m_pos, mut m_title) = (vec![], vec![], vec![], vec![]);
    let (mut l_id, mut l_module, mut l_pos, mut l_title, mut l_dur) =
        (vec![], vec![], vec![], vec![], vec![]);
    for n in first..=last {
        let topic = TOPICS[(n as usize) % TOPICS.len()];
        let id = course_id(n).0;
        c.id.push(id);
        c.slug.push(format!("course-{n}"));
        c.title.push(format!(
            "{topic} {} #{n}",
            LEVELS[(n as usize) % LEVELS.len()]
        ));
        c.description.push(format!(
            "A hands-on course on {topic}: {MODULES_PER_COURSE} modules, {} lessons, exercises and a final project.",
            MODULES_PER_COURSE * LESSONS_PER_MODULE
        ));
        c.instructor
            .push(instructor_id((n - 1) % INSTRUCTORS + 1).0);
        c.published.push(is_published(n));
        c.price.push([0, 1999, 2999, 4999, 9999][(n as usize) % 5]);
        c.created.push(at(1000 + i64::from(n) * 60));
        for m in 1..=MODULES_PER_COURSE {
            let mid = module_id(n, m);
            m_id.push(mid);
            m_course.push(id);
            m_pos.push(i32::try_from(m).unwrap_or(i32::MAX));
            m_title.push(format!("Module {m}: {topic} part {m}"));
            for l in 1..=LESSONS_PER_MODULE {
                l_id.push(lesson_id(n, m, l));
                l_module.push(mid);
                l_pos.push(i32::try_from(l).unwrap_or(i32::MAX));
                l_title.push(format!("Lesson {m}.{l}"));
                l_dur.push(i32::try_from(120 + (n * 7 + m * 13 + l * 29) % 900).unwrap_or(0));
            }
        }
    }
    let mut tx = pool.begin().await?;
    let courses = sqlx::query(
        "INSERT INTO courses (id, slug, title, description, instructor_id, published, price_cents, created_at, updated_at) \
         SELECT id, slug, title, description, instructor, published, price, created, created \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::bool[], $7::int[], $8::timestamptz[]) \
              AS t(id, slug, title, description, instructor, published, price, created) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&c.id)
    .bind(&c.slug)
    .bind(&c.title)
    .bind(&c.description)
    .bind(&c.instructor)
    .bind(&c.published)
    .bind(&c.price)
    .bind(&c.created)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let modules = sqlx::query(
        "INSERT INTO modules (id, course_id, position, title) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[]) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&m_id)
    .bind(&m_course)
    .bind(&m_pos)
    .bind(&m_title)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let lessons = sqlx::query(
        "INSERT INTO lessons (id, module_id, position, title, duration_seconds) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[]) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&l_id)
    .bind(&l_module)
    .bind(&l_pos)
    .bind(&l_title)
    .bind(&l_dur)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(SeedReport {
        courses,
        modules,
        lessons,
        ..SeedReport::default()
    })
}

/// Enrollments are drawn from the first this-many courses, so seeding more
/// courses later adds courses but never changes who is enrolled where.
const ENROLLMENT_POOL: u32 = 30;

/// The seeded course numbers student `s` is enrolled in (published ones only).
pub fn enrollments_of(student: u32, courses: u32) -> Vec<u32> {
    let published: Vec<u32> = (1..=courses.min(ENROLLMENT_POOL))
        .filter(|n| is_published(*n))
        .collect();
    if published.is_empty() {
        return Vec::new();
    }
    let mut picked = Vec::new();
    for k in 0..ENROLLMENTS_PER_STUDENT {
        let idx = ((student - 1) * 7 + k * 3) as usize % published.len();
        let n = published[idx];
        if !picked.contains(&n) {
            picked.push(n);
        }
    }
    picked
}

async fn seed_enrollments(pool: &PgPool, courses: u32) -> Result<(u64, u64), DbError> {
    let (mut e_user, mut e_course, mut e_at) = (vec![], vec![], vec![]);
    let (mut p_user, mut p_lesson, mut p_at) = (vec![], vec![], vec![]);
    for s in 1..=STUDENTS {
        for (k, n) in enrollments_of(s, courses).into_iter().enumerate() {
            let when = 100_000 + i64::from(s) * 10 + k as i64;
            e_user.push(student_id(s).0);
            e_course.push(course_id(n).0);
            e_at.push(at(when));
            let completed = (s + n) % 12;
            for i in 0..completed {
                let (m, l) = (i / LESSONS_PER_MODULE + 1, i % LESSONS_PER_MODULE + 1);
                p_user.push(student_id(s).0);
                p_lesson.push(lesson_id(n, m, l));
                p_at.push(at(when + 60 + i64::from(i)));
            }
        }
    }
    let mut tx = pool.begin().await?;
    let enrollments = sqlx::query(
        "INSERT INTO enrollments (user_id, course_id, enrolled_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[]) ON CONFLICT DO NOTHING",
    )
    .bind(&e_user)
    .bind(&e_course)
    .bind(&e_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let progress = sqlx::query(
        "INSERT INTO lesson_progress (user_id, lesson_id, completed_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[]) ON CONFLICT DO NOTHING",
    )
    .bind(&p_user)
    .bind(&p_lesson)
    .bind(&p_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((enrollments, progress))
}
