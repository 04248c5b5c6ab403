//! Swagger UI at `/api/docs`, opened in headless Chromium: it renders the
//! API's own document, and every file it asks for comes from the API.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;

use crate::helpers::spawn_app;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

#[tokio::test]
async fn the_page_renders_the_document_with_nothing_from_another_host() {
    let app = spawn_app().await;
    let output = tokio::process::Command::new("node")
        .current_dir(js_dir())
        .args(["swagger.mjs", &format!("{}/api/docs", app.address)])
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs (scripts/test.sh installs it and tests/js)");
    assert!(output.status.success(), "swagger.mjs failed");
    let seen: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(seen["failed"], serde_json::json!([]), "{seen}");
    let requests: Vec<&str> = seen["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        requests
            .iter()
            .all(|u| u.starts_with(&app.address) || u.starts_with("data:")),
        "{requests:?}"
    );
    assert!(requests.contains(&format!("{}/api/openapi.json", app.address).as_str()));
    assert!(
        seen["title"].as_str().unwrap().starts_with("SkillUp API"),
        "{seen}"
    );
    let documented = app
        .get("/api/openapi.json")
        .await
        .json::<Value>()
        .await
        .unwrap()["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum::<usize>();
    assert_eq!(seen["operations"], documented, "one block per operation");
}

#[tokio::test]
async fn the_page_and_its_files_are_served_and_refusals_are_the_api_s() {
    let app = spawn_app().await;
    for path in ["/api/docs", "/api/docs/"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = res.text().await.unwrap();
        assert!(page.contains("<base href=\"/api/docs/\">"), "{page}");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{page}"
        );
    }
    let init = app.get("/api/docs/swagger-initializer.js").await;
    assert_eq!(init.status(), 200);
    let init = init.text().await.unwrap();
    assert!(init.contains("/api/openapi.json"), "{init}");
    let missing = app.get("/api/docs/nope.js").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(crate::helpers::error_code(missing).await, "not_found");
    let post = app
        .client
        .post(format!("{}/api/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET");
}
