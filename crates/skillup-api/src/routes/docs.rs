//! `GET /api/docs`: Swagger UI over `/api/openapi.json`.
//!
//! The files are the copy `utoipa-swagger-ui` bundles (its `vendored` feature:
//! nothing is downloaded at build time), served from memory by this process, and
//! none of them loads anything from another host. The page answers at `/api/docs`
//! itself, not only behind a redirect to `/api/docs/`: a `<base>` element makes
//! its relative asset links resolve under `/api/docs/`.

use std::sync::{Arc, LazyLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, get, web};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// Where the page lives, and the document it shows.
const DOCS: &str = "/api/docs/";
const DOCUMENT: &str = "/api/openapi.json";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(docs).service(asset);
}

/// The Swagger UI configuration: the one document; "Try it out" calls go to this
/// same host; no validator badge (Swagger UI's default sends the document to
/// validator.swagger.io and shows the image it answers).
static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new([DOCUMENT])
            .try_it_out_enabled(true)
            .validator_url("none"),
    )
});

/// The page: Swagger UI, showing `/api/openapi.json`.
#[utoipa::path(get, path = "/api/docs", tag = "operations",
    responses((status = 200, description = "Swagger UI (HTML), served by the API itself: no asset from another host", content_type = "text/html")))]
#[get("/api/docs")]
pub async fn docs() -> Result<HttpResponse, ApiError> {
    file("index.html")
}

/// The page's scripts, styles and images (and the page again at `/api/docs/`).
#[get("/api/docs/{file:.*}")]
async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    file(&path)
}

fn file(name: &str) -> Result<HttpResponse, ApiError> {
    let name = if name.is_empty() { "index.html" } else { name };
    let not_found = || ApiError::NotFound(format!("no file {name:?} under {DOCS}"));
    let found = utoipa_swagger_ui::serve(name, Arc::clone(&CONFIG))
        .map_err(|e| ApiError::ServiceUnavailable(format!("Swagger UI: {e}")))?
        .ok_or_else(not_found)?;
    let mut body = found.bytes.into_owned();
    if name == "index.html" {
        body = with_base(&body);
    }
    let content_type =
        HeaderValue::try_from(found.content_type).unwrap_or(HeaderValue::from_static("text/plain"));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        // The bundle changes only with the binary.
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ))
        .body(body))
}

/// `index.html` with `<base href="/api/docs/">` first in its head.
fn with_base(index: &[u8]) -> Vec<u8> {
    let html = String::from_utf8_lossy(index);
    html.replacen("<head>", &format!("<head>\n    <base href=\"{DOCS}\">"), 1)
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_assets_under_the_base_and_the_document() {
        let index = utoipa_swagger_ui::serve("index.html", Arc::clone(&CONFIG))
            .unwrap()
            .unwrap();
        let page = String::from_utf8(with_base(&index.bytes)).unwrap();
        assert!(page.contains("<base href=\"/api/docs/\">"), "{page}");
        let init = utoipa_swagger_ui::serve("swagger-initializer.js", Arc::clone(&CONFIG))
            .unwrap()
            .unwrap();
        let init = String::from_utf8(init.bytes.into_owned()).unwrap();
        assert!(init.contains(DOCUMENT), "{init}");
    }
}
