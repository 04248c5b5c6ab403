//! The benchmark's "limit" server: actix-web answering every GET with one JSON body
//! held in memory (the same bytes our API serves for a cached course), with the
//! API's worker count. What it reaches is the most this machine gives that
//! response through actix-web; `scripts/bench-http.sh` reports ours as a ratio of it.
//!
//!   cargo run --release -p skillup-api --example static_limit -- BODY_FILE PORT
#![expect(clippy::print_stdout, reason = "a benchmark tool")]

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("BODY_FILE");
    let port: u16 = args.next().and_then(|p| p.parse().ok()).expect("PORT");
    let body = web::Bytes::from(std::fs::read(&file)?);
    println!(
        "serving {} bytes from {file} on 127.0.0.1:{port}",
        body.len()
    );
    HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body)
            }
        }))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
