//! `GET /api/courses` with `q`, filters and `sort`: against SQL truth, cached,
//! fresh after writes, every bad value refused, and the `Link` header.

use serde_json::{Value, json};
use skillup_db::seed;
use uuid::Uuid;

use crate::helpers::{TestApp, admin, error_code, instructor, spawn_app, x_cache};

/// The ids of a listing answer, in order.
async fn ids(app: &TestApp, path: &str) -> Vec<Uuid> {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    let body: Value = res.json().await.expect("as the test expects");
    body["items"]
        .as_array()
        .expect("as the test expects")
        .iter()
        .map(|c| {
            c["id"]
                .as_str()
                .expect("as the test expects")
                .parse()
                .expect("as the test expects")
        })
        .collect()
}

/// Inserts a course straight into Postgres (any writer may).
async fn insert_course(app: &TestApp, title: &str, description: &str, published: bool) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO courses (id, slug, title, description, instructor_id, published, price_cents) \
         VALUES ($1, $2, $3, $4, $5, $6, 500)",
    )
    .bind(id)
    .bind(format!("s-{id}"))
    .bind(title)
    .bind(description)
    .bind(seed::instructor_id(1).0)
    .bind(published)
    .execute(&app.db.pool)
    .await
    .expect("as the test expects");
    id
}

#[tokio::test]
async fn search_stems_reads_descriptions_ranks_titles_first_and_hides_drafts() {
    let app = spawn_app().await;
    let in_title = insert_course(&app, "Fermentations at home", "Jars and brine.", true).await;
    let in_text = insert_course(
        &app,
        "Kitchen science",
        "Why fermentation makes bread rise.",
        true,
    )
    .await;
    let draft = insert_course(&app, "Fermentation (draft)", "Not yet.", false).await;

    let found = ids(&app, "/api/courses?q=fermentation").await;
    assert_eq!(
        found,
        [in_title, in_text],
        "stemmed, in titles and descriptions, title matches first, no draft"
    );
    assert!(!found.contains(&draft));
    assert_eq!(
        ids(&app, "/api/courses?q=FERMENTED%20bread").await,
        [in_text],
        "every word must match, any case"
    );
    assert_eq!(
        ids(&app, "/api/courses?q=fermentation%20-bread").await,
        [in_title],
        "web search syntax: -word"
    );
    let mut either = ids(&app, "/api/courses?q=%22kitchen%20science%22%20or%20brine").await;
    either.sort();
    let mut both = vec![in_title, in_text];
    both.sort();
    assert_eq!(either, both, "web search syntax: a phrase, or");
    assert!(
        ids(&app, "/api/courses?q=the").await.is_empty(),
        "stop words only"
    );
    assert!(ids(&app, "/api/courses?q=zymurgy").await.is_empty());
}

/// The published courses `filter` (SQL after `WHERE published AND`) selects, in `order`.
async fn truth(app: &TestApp, filter: &str, order: &str) -> Vec<Uuid> {
    // The test's own literals only; `order` "" is newest first.
    let order = if order.is_empty() {
        String::new()
    } else {
        format!("{order}, ")
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM courses WHERE published AND {filter} ORDER BY {order}created_at DESC, id DESC"
    )))
    .fetch_all(&app.db.pool)
    .await
    .expect("as the test expects")
}

#[tokio::test]
async fn each_filter_and_order_matches_sql() {
    let app = spawn_app().await;
    let teacher = seed::instructor_id(2).0;
    for (query, filter, order) in [
        ("", "true", ""),
        ("sort=newest", "true", ""),
        ("sort=relevance", "true", ""),
        ("sort=title", "true", "title"),
        ("sort=price_asc", "true", "price_cents"),
        ("sort=price_desc", "true", "price_cents DESC"),
        ("min_price_cents=2999", "price_cents >= 2999", ""),
        ("max_price_cents=1999", "price_cents <= 1999", ""),
        (
            "min_price_cents=1999&max_price_cents=4999&sort=price_desc",
            "price_cents BETWEEN 1999 AND 4999",
            "price_cents DESC",
        ),
        ("min_price_cents=5000&max_price_cents=10", "false", ""),
        (
            &format!("instructor_id={teacher}&sort=title"),
            &format!("instructor_id = '{teacher}'"),
            "title",
        ),
        (
            "q=course&max_price_cents=2999&sort=price_asc",
            "search @@ websearch_to_tsquery('english', 'course') AND price_cents <= 2999",
            "price_cents",
        ),
    ] {
        let want = truth(&app, filter, order).await;
        assert!(
            filter == "false" || !want.is_empty(),
            "{query}: the seed must give the case something to find"
        );
        let got = ids(&app, &format!("/api/courses?per_page=100&{query}")).await;
        assert_eq!(got, want, "{query}");
        let res = app.get(&format!("/api/courses?per_page=100&{query}")).await;
        assert_eq!(x_cache(&res), "HIT", "{query}: cached");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["total"],
            want.len(),
            "{query}: total counts the matches"
        );
    }
}

#[tokio::test]
async fn pages_of_a_search_do_not_overlap_and_count_the_matches() {
    let app = spawn_app().await;
    let want = truth(&app, "true", "price_cents").await;
    let mut got = Vec::new();
    for page in 1..=4 {
        got.extend(
            ids(
                &app,
                &format!("/api/courses?sort=price_asc&per_page=3&page={page}"),
            )
            .await,
        );
    }
    assert_eq!(got, want);
}

#[tokio::test]
async fn equal_searches_share_one_cached_page_and_other_searches_do_not() {
    let app = spawn_app().await;
    let first = app.get("/api/courses?q=Course").await;
    assert_eq!(x_cache(&first), "MISS");
    let same = app
        .get("/api/courses?q=%20course%20&sort=relevance&x=1")
        .await;
    assert_eq!(
        x_cache(&same),
        "HIT",
        "normalised: case, spaces, the default sort"
    );
    let other = app.get("/api/courses?q=course&sort=title").await;
    assert_eq!(x_cache(&other), "MISS");
    let pages = app.key("courses:published:");
    let keys: Vec<String> = app
        .keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with(&pages))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in keys {
        let digest = key
            .strip_prefix(&app.key("courses:published:1:20:"))
            .unwrap_or_else(|| panic!("{key}"));
        assert!(
            digest.len() == 16 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{key}"
        );
    }
}

#[tokio::test]
async fn a_course_published_or_edited_shows_in_matching_searches_at_once() {
    let app = spawn_app().await;
    let path = "/api/courses?q=sourdough";
    assert!(ids(&app, path).await.is_empty());
    assert_eq!(
        x_cache(&app.get(path).await),
        "HIT",
        "the empty answer is cached"
    );

    let owner = instructor(1);
    let course = app
        .create_course(
            &owner,
            &json!({"title": "Sourdough starters", "description": "Flour and water.", "price_cents": 900}),
        )
        .await;
    let id: Uuid = course["id"].as_str().unwrap().parse().unwrap();
    assert!(ids(&app, path).await.is_empty(), "a draft never shows");
    let published = app
        .patch(
            &format!("/api/courses/{id}"),
            &owner,
            &json!({"published": true}),
        )
        .await;
    assert_eq!(published.status(), 200);
    assert_eq!(ids(&app, path).await, [id], "read your writes");

    let renamed = app
        .patch(
            &format!("/api/courses/{id}"),
            &admin(),
            &json!({"title": "Rye breads"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert!(
        ids(&app, "/api/courses?q=sourdough+starters")
            .await
            .is_empty()
    );
    assert_eq!(ids(&app, "/api/courses?q=rye").await, [id]);
}

#[tokio::test]
async fn every_bad_value_is_a_400_naming_it() {
    let app = spawn_app().await;
    let long = "a".repeat(201);
    for (query, name) in [
        (format!("q={long}"), "q"),
        ("instructor_id=7".to_owned(), "instructor_id"),
        ("min_price_cents=-5".to_owned(), "min_price_cents"),
        ("max_price_cents=cheap".to_owned(), "max_price_cents"),
        ("sort=popular".to_owned(), "sort"),
        ("per_page=500".to_owned(), "per_page"),
    ] {
        let res = app.get(&format!("/api/courses?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(name), "{query}: {message}");
    }
    let nul = app.get("/api/courses?q=bread%00").await;
    assert_eq!(
        nul.status(),
        200,
        "control characters are spaces, not a 500"
    );
    assert_eq!(
        error_code(app.get("/api/courses?q=a&q=b").await).await,
        "bad_request"
    );
}

fn links(res: &reqwest::Response) -> Vec<(String, String)> {
    let header = res.headers()["link"].to_str().expect("as the test expects");
    header
        .split(", ")
        .map(|link| {
            let (target, rel) = link.split_once("; rel=").expect("as the test expects");
            (
                rel.trim_matches('"').to_owned(),
                target
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn link_names_first_prev_next_and_last_keeping_the_query() {
    let app = spawn_app().await;
    let total = truth(&app, "true", "").await.len();
    let per_page = 3;
    let last = total.div_ceil(per_page);
    assert!(last >= 3, "the seed must give three pages");
    let url = |page: usize| format!("/api/courses?sort=price_asc&page={page}&per_page={per_page}");
    let first = app.get(&url(1)).await;
    assert_eq!(
        links(&first),
        [
            ("first".to_owned(), url(1)),
            ("next".to_owned(), url(2)),
            ("last".to_owned(), url(last)),
        ]
    );
    let middle = app.get(&url(2)).await;
    assert_eq!(
        links(&middle),
        [
            ("first".to_owned(), url(1)),
            ("prev".to_owned(), url(1)),
            ("next".to_owned(), url(3)),
            ("last".to_owned(), url(last)),
        ]
    );
    let end = app.get(&url(last)).await;
    assert_eq!(
        links(&end),
        [
            ("first".to_owned(), url(1)),
            ("prev".to_owned(), url(last - 1)),
            ("last".to_owned(), url(last)),
        ]
    );
    // Following `next` from the first page walks the whole listing once.
    let mut seen = Vec::new();
    let mut next = Some(url(1));
    while let Some(path) = next {
        let res = app.get(&path).await;
        next = links(&res)
            .into_iter()
            .find(|(rel, _)| rel == "next")
            .map(|(_, t)| t);
        seen.extend(ids(&app, &path).await);
    }
    assert_eq!(seen, truth(&app, "true", "price_cents").await);
    let searched = app.get("/api/courses?q=Course%20one").await;
    assert_eq!(
        links(&searched)[0].1,
        "/api/courses?q=course+one&page=1&per_page=20",
        "the other parameters, canonical"
    );
    let plain = app.get("/api/courses").await;
    assert!(
        plain.headers().contains_key("link"),
        "every listing has one"
    );
}
