//! HTTP validators and cache headers: strong `ETag`s, 304s answered from the
//! cache, `Cache-Control` per caller, cached 404s.

use serde_json::json;

use crate::helpers::{TestApp, error_code, instructor, new_user, spawn_app, x_cache};

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", res.headers()))
        .to_str()
        .expect("ascii")
        .to_owned()
}

async fn get_if_none_match(
    app: &TestApp,
    path: &str,
    tag: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .get(format!("{}{path}", app.address))
        .header("if-none-match", tag);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("request sent")
}

#[tokio::test]
async fn course_reads_carry_a_strong_tag_and_a_match_is_a_bodiless_304() {
    let app = spawn_app().await;
    for path in [
        TestApp::course_path(1),
        "/api/courses?page=1&per_page=5".to_owned(),
    ] {
        let first = app.get(&path).await;
        assert_eq!(first.status(), 200);
        let tag = header(&first, "etag");
        assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
        assert_eq!(header(&first, "cache-control"), "public, no-cache");
        let body = first.bytes().await.unwrap();

        let again = app.get(&path).await;
        assert_eq!(
            (x_cache(&again), header(&again, "etag")),
            ("HIT".to_owned(), tag.clone())
        );
        assert_eq!(again.bytes().await.unwrap(), body, "same body, same tag");

        let not_modified = get_if_none_match(&app, &path, &tag, None).await;
        assert_eq!(not_modified.status(), 304, "{path}");
        assert_eq!(header(&not_modified, "etag"), tag);
        assert_eq!(x_cache(&not_modified), "HIT");
        assert_eq!(header(&not_modified, "cache-control"), "public, no-cache");
        assert!(not_modified.bytes().await.unwrap().is_empty());

        for other in ["\"0000\"", "W/\"nope\", \"also-not\"", "garbage", ""] {
            let res = get_if_none_match(&app, &path, other, None).await;
            assert_eq!(res.status(), 200, "{other:?} does not match");
        }
        let listed = get_if_none_match(&app, &path, &format!("\"x\", W/{tag}"), None).await;
        assert_eq!(listed.status(), 304, "weak comparison over a list");
        assert_eq!(
            get_if_none_match(&app, &path, "*", None).await.status(),
            304
        );
    }
}

#[tokio::test]
async fn answers_to_a_token_are_private_and_me_revalidates_too() {
    let app = spawn_app().await;
    let (_, token) = new_user();
    let course = app.get_as(&TestApp::course_path(1), &token).await;
    assert_eq!(header(&course, "cache-control"), "private, no-cache");

    let me = app.get_as("/api/me", &token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(header(&me, "cache-control"), "private, no-cache");
    let tag = header(&me, "etag");
    let again = get_if_none_match(&app, "/api/me", &tag, Some(&token)).await;
    assert_eq!(again.status(), 304);
    assert_eq!(x_cache(&again), "HIT");
    assert_eq!(header(&again, "cache-control"), "private, no-cache");
}

#[tokio::test]
async fn a_write_changes_the_tag() {
    let app = spawn_app().await;
    let path = TestApp::course_path(1);
    let tag = header(&app.get(&path).await, "etag");
    let res = app
        .patch(&path, &instructor(1), &json!({"title": "A new title"}))
        .await;
    assert_eq!(res.status(), 200);
    let after = get_if_none_match(&app, &path, &tag, None).await;
    assert_eq!(after.status(), 200, "the old tag no longer matches");
    assert_ne!(header(&after, "etag"), tag);
}

#[tokio::test]
async fn an_unknown_course_is_a_cached_404_and_a_draft_still_shows_to_its_owner() {
    let app = spawn_app().await;
    let unknown = format!("/api/courses/{}", uuid::Uuid::new_v4());
    let first = app.get(&unknown).await;
    assert_eq!(
        (first.status().as_u16(), x_cache(&first)),
        (404, "MISS".to_owned())
    );
    let second = app.get(&unknown).await;
    assert_eq!(
        (second.status().as_u16(), x_cache(&second)),
        (404, "HIT".to_owned())
    );
    assert_eq!(error_code(second).await, "not_found");

    // Course 10 is a draft: anonymous repeats are cached 404s, its instructor
    // still gets it (from Postgres), and so do admins.
    let draft = TestApp::course_path(10);
    app.get(&draft).await;
    let anonymous = app.get(&draft).await;
    assert_eq!(
        (anonymous.status().as_u16(), x_cache(&anonymous)),
        (404, "HIT".to_owned())
    );
    let owner = app.get_as(&draft, &instructor(10)).await;
    assert_eq!(owner.status(), 200);
    assert_eq!(
        x_cache(&owner),
        "MISS",
        "served from Postgres, not from the cached 404"
    );
    assert_eq!(header(&owner, "cache-control"), "private, no-cache");
    assert_eq!(
        app.get_as(&draft, &crate::helpers::admin()).await.status(),
        200
    );
    let (_, stranger) = new_user();
    let refused = app.get_as(&draft, &stranger).await;
    assert_eq!(refused.status(), 404);

    // Publishing through the API invalidates the cached 404 at once.
    let res = app
        .patch(&draft, &instructor(10), &json!({"published": true}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&draft).await.status(), 200);
}
