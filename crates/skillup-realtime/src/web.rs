//! The demo page (`GET /`) and its Socket.IO client (`GET /vendor/socket.io.min.js`),
//! built into the binary so that it serves them wherever it runs; with
//! `REALTIME_WEB_DIR` set they are read from that directory instead (edit the
//! page without rebuilding).

use std::path::Path;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::routing::get;
use tower_http::services::ServeFile;

/// `web/index.html`.
const INDEX_HTML: &[u8] = include_bytes!("../web/index.html");
/// `socket.io-client`'s `dist/socket.io.min.js`, copied by `build.rs` from
/// `web/node_modules` (the version `web/package-lock.json` pins).
const SOCKET_IO_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.min.js"));

/// The two routes, from the binary or, with `dir` (`REALTIME_WEB_DIR`), from
/// `dir/index.html` and `dir/node_modules/socket.io-client/dist/socket.io.min.js`.
pub fn routes<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> Router<S> {
    match dir {
        Some(dir) => Router::new()
            .route_service("/", ServeFile::new(dir.join("index.html")))
            .route_service(
                "/vendor/socket.io.min.js",
                ServeFile::new(dir.join("node_modules/socket.io-client/dist/socket.io.min.js")),
            ),
        None => Router::new()
            .route(
                "/",
                get(async || {
                    (
                        [
                            (CONTENT_TYPE, "text/html; charset=utf-8"),
                            (CACHE_CONTROL, "no-cache"),
                        ],
                        INDEX_HTML,
                    )
                }),
            )
            .route(
                "/vendor/socket.io.min.js",
                get(async || {
                    (
                        [
                            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                            (CACHE_CONTROL, "public, max-age=3600"),
                        ],
                        SOCKET_IO_JS,
                    )
                }),
            ),
    }
}
