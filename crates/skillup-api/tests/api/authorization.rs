//! Who may do what: every route of the spec × every kind of caller, as one table
//! of expected statuses. Each cell runs against fresh courses of its own, so a
//! DELETE, an enrollment or a logout in one cell cannot change another's answer.
//! A failure prints every cell that differs, then the whole table as it was seen.

use std::fmt::Write as _;

use reqwest::Method;
use serde_json::{Value, json};
use skillup_common::UserId;
use skillup_db::seed;
use uuid::Uuid;

use crate::helpers::{TestApp, in_one_hour, spawn_app, token_with};

/// The callers, in table order.
const ROLES: [&str; 7] = [
    "anonymous",
    "revoked",
    "student",
    "enrolled",
    "other instr.",
    "owner",
    "admin",
];

/// The fixtures of one cell: a published course and a draft, both of the owner
/// (instructor 1), each with one module holding one lesson; the enrolled student
/// is enrolled in the published one.
struct World {
    course: Uuid,
    module: Uuid,
    lesson: Uuid,
    draft: Uuid,
    draft_module: Uuid,
    draft_lesson: Uuid,
}

fn owner() -> UserId {
    seed::instructor_id(1)
}

fn enrolled_student() -> UserId {
    seed::student_id(50)
}

async fn world(app: &TestApp) -> World {
    let w = World {
        course: Uuid::new_v4(),
        module: Uuid::new_v4(),
        lesson: Uuid::new_v4(),
        draft: Uuid::new_v4(),
        draft_module: Uuid::new_v4(),
        draft_lesson: Uuid::new_v4(),
    };
    let pool = &app.db.pool;
    sqlx::query(
        "INSERT INTO courses (id, slug, title, instructor_id, published) \
         VALUES ($1, 'p-' || $1::text, 'Published', $3, true), \
                ($2, 'd-' || $2::text, 'Draft', $3, false)",
    )
    .bind(w.course)
    .bind(w.draft)
    .bind(owner().0)
    .execute(pool)
    .await
    .expect("courses");
    sqlx::query(
        "INSERT INTO modules (id, course_id, position, title) VALUES ($1, $2, 0, 'M'), ($3, $4, 0, 'M')",
    )
    .bind(w.module)
    .bind(w.course)
    .bind(w.draft_module)
    .bind(w.draft)
    .execute(pool)
    .await
    .expect("modules");
    sqlx::query(
        "INSERT INTO lessons (id, module_id, position, title) VALUES ($1, $2, 0, 'L'), ($3, $4, 0, 'L')",
    )
    .bind(w.lesson)
    .bind(w.module)
    .bind(w.draft_lesson)
    .bind(w.draft_module)
    .execute(pool)
    .await
    .expect("lessons");
    sqlx::query("INSERT INTO enrollments (user_id, course_id) VALUES ($1, $2)")
        .bind(enrolled_student().0)
        .bind(w.course)
        .execute(pool)
        .await
        .expect("enrollment");
    w
}

/// A fresh session of `user` (its own `session_id`, so a logout in one cell
/// revokes nothing elsewhere).
fn session_of(user: UserId) -> String {
    token_with(&json!({"sub": user.0, "exp": in_one_hour(), "session_id": Uuid::new_v4()}))
}

/// The token of `role` for one cell; `None` for anonymous. The revoked caller is
/// a student whose session was signed out just before.
async fn caller(app: &TestApp, role: &str) -> Option<String> {
    let user = match role {
        "anonymous" => return None,
        "revoked" => {
            let t = session_of(seed::student_id(51));
            let res = app.post_empty("/api/auth/logout", &t).await;
            assert_eq!(res.status(), 204, "logout before the revoked cell");
            return Some(t);
        }
        "student" => seed::student_id(51),
        "enrolled" => enrolled_student(),
        "other instr." => seed::instructor_id(2),
        "owner" => owner(),
        "admin" => seed::admin_id(),
        other => unreachable!("{other}"),
    };
    Some(session_of(user))
}

struct Route {
    method: Method,
    /// The path with `{…}` names as in the spec (the table's row label).
    label: &'static str,
    path: fn(&World) -> String,
    body: Option<Value>,
    /// One status per role of [`ROLES`].
    want: [u16; 7],
}

#[rustfmt::skip] // one line per route keeps the table readable
fn routes() -> Vec<Route> {
    let title = || Some(json!({"title": "T"}));
    let r = |method: Method,
             label: &'static str,
             path: fn(&World) -> String,
             body: Option<Value>,
             want: [u16; 7]| Route {
        method,
        label,
        path,
        body,
        want,
    };
    use Method as M;
    vec![
        //                                                                 anon revk stud enrl othr ownr admn
        r(M::GET, "/api/courses", |_| "/api/courses".into(), None, [200, 401, 200, 200, 200, 200, 200]),
        r(M::GET, "/api/courses/{published}", |w| format!("/api/courses/{}", w.course), None, [200, 401, 200, 200, 200, 200, 200]),
        r(M::GET, "/api/courses/{draft}", |w| format!("/api/courses/{}", w.draft), None, [404, 401, 404, 404, 404, 200, 200]),
        r(M::POST, "/api/courses", |_| "/api/courses".into(), title(), [401, 401, 403, 403, 201, 201, 201]),
        r(M::PATCH, "/api/courses/{published}", |w| format!("/api/courses/{}", w.course), title(), [401, 401, 403, 403, 403, 200, 200]),
        r(M::PATCH, "/api/courses/{draft}", |w| format!("/api/courses/{}", w.draft), title(), [401, 401, 404, 404, 404, 200, 200]),
        r(M::DELETE, "/api/courses/{published}", |w| format!("/api/courses/{}", w.course), None, [401, 401, 403, 403, 403, 204, 204]),
        r(M::DELETE, "/api/courses/{draft}", |w| format!("/api/courses/{}", w.draft), None, [401, 401, 404, 404, 404, 204, 204]),
        r(M::POST, "/api/courses/{published}/modules", |w| format!("/api/courses/{}/modules", w.course), title(), [401, 401, 403, 403, 403, 201, 201]),
        r(M::POST, "/api/courses/{draft}/modules", |w| format!("/api/courses/{}/modules", w.draft), title(), [401, 401, 404, 404, 404, 201, 201]),
        r(M::PATCH, "/api/modules/{published's}", |w| format!("/api/modules/{}", w.module), title(), [401, 401, 403, 403, 403, 200, 200]),
        r(M::PATCH, "/api/modules/{draft's}", |w| format!("/api/modules/{}", w.draft_module), title(), [401, 401, 404, 404, 404, 200, 200]),
        r(M::DELETE, "/api/modules/{published's}", |w| format!("/api/modules/{}", w.module), None, [401, 401, 403, 403, 403, 204, 204]),
        r(M::POST, "/api/modules/{published's}/lessons", |w| format!("/api/modules/{}/lessons", w.module), title(), [401, 401, 403, 403, 403, 201, 201]),
        r(M::POST, "/api/modules/{draft's}/lessons", |w| format!("/api/modules/{}/lessons", w.draft_module), title(), [401, 401, 404, 404, 404, 201, 201]),
        r(M::PATCH, "/api/lessons/{published's}", |w| format!("/api/lessons/{}", w.lesson), title(), [401, 401, 403, 403, 403, 200, 200]),
        r(M::PATCH, "/api/lessons/{draft's}", |w| format!("/api/lessons/{}", w.draft_lesson), title(), [401, 401, 404, 404, 404, 200, 200]),
        r(M::DELETE, "/api/lessons/{published's}", |w| format!("/api/lessons/{}", w.lesson), None, [401, 401, 403, 403, 403, 204, 204]),
        r(M::POST, "/api/courses/{published}/enroll", |w| format!("/api/courses/{}/enroll", w.course), None, [401, 401, 201, 409, 201, 201, 201]),
        r(M::POST, "/api/courses/{draft}/enroll", |w| format!("/api/courses/{}/enroll", w.draft), None, [401, 401, 404, 404, 404, 404, 404]),
        r(M::DELETE, "/api/courses/{published}/enroll", |w| format!("/api/courses/{}/enroll", w.course), None, [401, 401, 404, 204, 404, 404, 404]),
        r(M::PUT, "/api/courses/{published}/lessons/{lesson}/progress", |w| format!("/api/courses/{}/lessons/{}/progress", w.course, w.lesson), Some(json!({"completed": true})), [401, 401, 403, 200, 403, 403, 403]),
        r(M::PUT, "/api/courses/{draft}/lessons/{lesson}/progress", |w| format!("/api/courses/{}/lessons/{}/progress", w.draft, w.draft_lesson), Some(json!({"completed": true})), [401, 401, 404, 404, 404, 404, 404]),
        r(M::GET, "/api/courses/{published}/progress", |w| format!("/api/courses/{}/progress", w.course), None, [401, 401, 403, 200, 403, 403, 403]),
        r(M::GET, "/api/courses/{draft}/progress", |w| format!("/api/courses/{}/progress", w.draft), None, [401, 401, 404, 404, 404, 404, 404]),
        r(M::GET, "/api/me", |_| "/api/me".into(), None, [401, 401, 200, 200, 200, 200, 200]),
        r(M::POST, "/api/auth/logout", |_| "/api/auth/logout".into(), None, [401, 401, 204, 204, 204, 204, 204]),
    ]
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says() {
    let app = spawn_app().await;
    let routes = routes();
    let mut seen = vec![[0u16; 7]; routes.len()];
    let mut diffs = Vec::new();
    for (row, route) in routes.iter().enumerate() {
        for (col, role) in ROLES.iter().enumerate() {
            let world = world(&app).await;
            let token = caller(&app, role).await;
            let res = app
                .call(
                    route.method.clone(),
                    &(route.path)(&world),
                    token.as_deref(),
                    route.body.as_ref(),
                )
                .await;
            let status = res.status().as_u16();
            seen[row][col] = status;
            if status != route.want[col] {
                let body = res.text().await.unwrap_or_default();
                diffs.push(format!(
                    "  {} {} as {role}: want {}, got {status} {body:.120}",
                    route.method, route.label, route.want[col]
                ));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} cells differ:\n{}\n\nseen (want in brackets where different):\n{}",
        diffs.len(),
        routes.len() * ROLES.len(),
        diffs.join("\n"),
        table(&routes, &seen)
    );
}

fn table(routes: &[Route], seen: &[[u16; 7]]) -> String {
    let label = |r: &Route| format!("{} {}", r.method, r.label);
    let width = routes.iter().map(|r| label(r).len()).max().unwrap_or(0);
    let mut out = format!("{:width$}", "");
    for role in ROLES {
        let _ = write!(out, " | {role:^12}");
    }
    for (route, row) in routes.iter().zip(seen) {
        let _ = write!(out, "\n{:width$}", label(route));
        for (got, want) in row.iter().zip(route.want) {
            let cell = if *got == want {
                got.to_string()
            } else {
                format!("{got} [{want}]")
            };
            let _ = write!(out, " | {cell:^12}");
        }
    }
    out
}
