//! Redis keys come only from typed ids: hostile text in paths, queries and token
//! claims creates no key, and every key under the prefix fits the spec's grammar,
//! so no pattern character can reach a `SCAN` or a `DEL`.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;
use skillup_common::UserId;
use uuid::Uuid;

use crate::helpers::{TestApp, in_one_hour, instructor, spawn_app, token_with};

/// Every key under the test's prefix.
async fn keys(app: &TestApp) -> BTreeSet<String> {
    app.keys().await
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.parse::<Uuid>()
            .is_ok_and(|u| u.hyphenated().to_string() == s)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The spec's keys (after the prefix) and their generation guards.
fn fits_the_grammar(prefix: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(prefix) else {
        return false;
    };
    let entry = |rest: &str| {
        if let Some(id) = rest.strip_prefix("course:") {
            return is_uuid(id);
        }
        if let Some(id) = rest.strip_prefix("user:") {
            return is_uuid(id);
        }
        if let Some(sid) = rest.strip_prefix("session:revoked:") {
            return is_uuid(sid) || (sid.len() == 64 && sid.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        if let Some(page) = rest.strip_prefix("courses:published:") {
            return page
                .split_once(':')
                .is_some_and(|(p, n)| is_number(p) && is_number(n));
        }
        false
    };
    if rest == "gen:courses:published" || rest == "index:courses:published" {
        return true;
    }
    if let Some(guarded) = rest.strip_prefix("gen:{").and_then(|g| g.strip_suffix('}')) {
        return guarded.strip_prefix(prefix).is_some_and(entry);
    }
    entry(rest)
}

#[test]
fn the_grammar_check_refuses_pattern_characters() {
    let p = "t:";
    let id = Uuid::new_v4();
    for good in [
        format!("t:course:{id}"),
        format!("t:gen:{{t:course:{id}}}"),
        "t:courses:published:1:20".to_owned(),
        "t:gen:courses:published".to_owned(),
        format!("t:session:revoked:{}", "a".repeat(64)),
    ] {
        assert!(fits_the_grammar(p, &good), "{good}");
    }
    for bad in [
        "t:course:*",
        "t:courses:published:*:20",
        "t:session:revoked:x*",
        "t:user:[a]",
        "t:course:\\",
        "course:x",
    ] {
        assert!(!fits_the_grammar(p, bad), "{bad}");
    }
}

/// Path segments and query values an attacker would try on a key-building route.
const HOSTILE: [&str; 14] = [
    "*",
    "?",
    "[a-z]",
    "\\",
    "%2A",
    "%3F",
    "%5B",
    "%5C",
    "course:*",
    "*%00",
    "..%2F*",
    "%252A",
    "0123b6d1-fe4b-4cec-84e3-08312f2a32e*",
    "{0123b6d1-fe4b-4cec-84e3-08312f2a32e5}",
];

#[tokio::test]
async fn hostile_paths_queries_and_claims_create_no_key() {
    let app = spawn_app().await;
    let user = UserId::new_random();
    let me = token_with(&json!({"sub": user.0, "exp": in_one_hour()}));

    // Legitimate traffic first, so every kind of key exists (the write bumps the
    // generation guards of what it invalidates).
    let patched = app
        .patch(
            &TestApp::course_path(1),
            &instructor(1),
            &json!({"title": "Renamed"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(
        app.get("/api/courses?page=2&per_page=5").await.status(),
        200
    );
    assert_eq!(app.get(&TestApp::course_path(1)).await.status(), 200);
    assert_eq!(app.get_as("/api/me", &me).await.status(), 200);
    let odd_session = token_with(
        &json!({"sub": user.0, "exp": in_one_hour(), "session_id": "*?[]\\ x", "email": "*@x"}),
    );
    assert_eq!(
        app.post_empty("/api/auth/logout", &odd_session)
            .await
            .status(),
        204
    );
    let before = keys(&app).await;
    for kind in [
        "course:",
        "courses:published:",
        "user:",
        "session:revoked:",
        "gen:{",
        "gen:courses:published",
    ] {
        assert!(
            before
                .iter()
                .any(|k| k[app.prefix.len()..].starts_with(kind)),
            "no {kind} key: {before:?}"
        );
    }

    let course = TestApp::course_path(1);
    let mut statuses = BTreeSet::new();
    for bad in HOSTILE {
        for (method, path) in [
            (Method::GET, format!("/api/courses/{bad}")),
            (Method::GET, format!("/api/courses?page={bad}")),
            (Method::GET, format!("/api/courses?page=1&per_page={bad}")),
            (Method::GET, format!("/api/courses/{bad}/progress")),
            (Method::PATCH, format!("/api/courses/{bad}")),
            (Method::DELETE, format!("/api/modules/{bad}")),
            (Method::POST, format!("/api/courses/{bad}/enroll")),
            (Method::PUT, format!("{course}/lessons/{bad}/progress")),
        ] {
            let res = app
                .call(
                    method.clone(),
                    &path,
                    Some(&instructor(1)),
                    Some(&json!({"title": "x", "completed": true})),
                )
                .await;
            assert!(
                res.status().is_client_error(),
                "{method} {path}: {}",
                res.status()
            );
            statuses.insert(res.status().as_u16());
        }
    }
    assert!(statuses.contains(&400), "{statuses:?}");

    let after = keys(&app).await;
    assert_eq!(before, after, "hostile requests created or removed keys");
    let odd: Vec<_> = after
        .iter()
        .filter(|k| !fits_the_grammar(&app.prefix, k))
        .collect();
    assert!(odd.is_empty(), "keys outside the grammar: {odd:?}");
    assert!(
        after
            .iter()
            .all(|k| !k[app.prefix.len()..].contains(['*', '?', '[', ']', '\\'])),
        "{after:?}"
    );
}
