//! Answers for requests no route takes: 405 with `Allow` when the path exists
//! with other methods, else 404 — both with the spec's error body. The known
//! paths and methods come from the OpenAPI document, so they cannot drift apart.

use actix_web::dev::ResourceDef;
use actix_web::http::StatusCode;
use actix_web::http::header::ALLOW;
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::OpenApi;

use crate::error::error_response;
use crate::openapi::ApiDoc;

/// Every documented path with the methods it answers.
pub struct KnownRoutes(Vec<(ResourceDef, String)>);

impl KnownRoutes {
    pub fn from_openapi() -> Self {
        let doc = ApiDoc::openapi();
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let json = serde_json::to_value(item).unwrap_or_default();
                let methods: Vec<String> = ["get", "post", "put", "patch", "delete"]
                    .into_iter()
                    .filter(|m| json.get(*m).is_some())
                    .map(str::to_uppercase)
                    .collect();
                (ResourceDef::new(path.as_str()), methods.join(", "))
            })
            .collect();
        Self(routes)
    }

    fn allowed(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, m)| m.as_str())
    }
}

pub async fn fallback(req: HttpRequest, routes: web::Data<KnownRoutes>) -> HttpResponse {
    match routes.allowed(req.path()) {
        Some(methods) => {
            let mut res = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not allowed here; allowed: {methods}", req.method()),
            );
            if let Ok(value) = methods.parse() {
                res.headers_mut().insert(ALLOW, value);
            }
            res
        }
        None => error_response(StatusCode::NOT_FOUND, "not_found", "no such route"),
    }
}
