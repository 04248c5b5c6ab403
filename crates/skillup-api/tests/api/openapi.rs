//! The OpenAPI document describes every write route with its bearer auth and
//! its refusals.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn write_routes_are_documented_with_bearer_auth_and_errors() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");

    let routes: &[(&str, &str, &[&str])] = &[
        (
            "/api/courses",
            "post",
            &["201", "400", "401", "403", "409", "413", "503"],
        ),
        (
            "/api/courses/{id}",
            "patch",
            &["200", "400", "401", "403", "404", "413"],
        ),
        ("/api/courses/{id}", "delete", &["204", "401", "403", "404"]),
        (
            "/api/courses/{id}/modules",
            "post",
            &["201", "400", "401", "403", "404"],
        ),
        (
            "/api/modules/{id}",
            "patch",
            &["200", "400", "401", "403", "404"],
        ),
        ("/api/modules/{id}", "delete", &["204", "401", "403", "404"]),
        (
            "/api/modules/{id}/lessons",
            "post",
            &["201", "400", "401", "403", "404"],
        ),
        (
            "/api/lessons/{id}",
            "patch",
            &["200", "400", "401", "403", "404"],
        ),
        ("/api/lessons/{id}", "delete", &["204", "401", "403", "404"]),
        (
            "/api/courses/{id}/enroll",
            "post",
            &["201", "401", "404", "409", "503"],
        ),
        ("/api/courses/{id}/enroll", "delete", &["204", "401", "404"]),
        (
            "/api/courses/{id}/lessons/{lesson_id}/progress",
            "put",
            &["200", "400", "401", "403", "404", "413"],
        ),
        (
            "/api/courses/{id}/progress",
            "get",
            &["200", "401", "403", "404"],
        ),
        ("/api/me", "get", &["200", "401"]),
        ("/api/auth/logout", "post", &["204", "401", "503"]),
    ];
    for (path, method, statuses) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert!(
            op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some())),
            "{method} {path} names the bearer scheme"
        );
        for status in *statuses {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} documents {status}"
            );
        }
    }
    let detail = &doc["paths"]["/api/courses/{id}"]["get"]["security"];
    assert!(
        detail
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r == &serde_json::json!({}))),
        "the course detail's auth is optional: {detail}"
    );
}

#[tokio::test]
async fn every_operation_that_takes_a_body_documents_413_and_415() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut with_body = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op.get("requestBody").is_none() {
                continue;
            }
            with_body += 1;
            assert!(
                op["requestBody"]["content"]["application/json"].is_object(),
                "{method} {path} takes application/json"
            );
            for status in ["413", "415"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path} documents {status}"
                );
            }
        }
    }
    assert_eq!(with_body, 7, "the routes with a JSON body");
}

#[tokio::test]
async fn every_title_field_states_the_title_rule() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    let title = &schemas["Title"];
    assert_eq!(title["type"], "string");
    assert_eq!(title["minLength"], 1);
    assert_eq!(title["maxLength"], 200);
    let pattern = title["pattern"].as_str().expect("a pattern");
    assert!(
        pattern.contains(r"\x00-\x1f\x7f-\x9f") && pattern.contains(r"[^\s"),
        "no control characters, not blank: {pattern}"
    );
    for body in [
        "NewCourseInput",
        "CoursePatch",
        "NewModuleInput",
        "ModulePatch",
        "NewLessonInput",
        "LessonPatch",
    ] {
        assert_eq!(
            schemas[body]["properties"]["title"]["$ref"], "#/components/schemas/Title",
            "{body}.title"
        );
    }
}
