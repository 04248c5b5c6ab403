//! The demo page and its Socket.IO client come from the binary, wherever it runs
//! (the tests run it from the crate's directory, not the repository root), and
//! from `REALTIME_WEB_DIR` when that is set.

use skillup_testkit::{ServiceProcess, fresh_database, redis_url, service_env, unique_prefix};

const WEB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/web");

async fn get(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    let res = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .expect("the node answers");
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        res.bytes().await.expect("body").to_vec(),
    )
}

#[tokio::test]
async fn the_binary_serves_its_own_copy_of_the_page_and_the_client() {
    let db = fresh_database().await;
    let env = service_env(&db, &redis_url(), &unique_prefix());
    assert!(!env.contains_key("REALTIME_WEB_DIR"));
    let node = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-realtime"), &env);

    let (status, content_type, page) = get(node.port, "/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert_eq!(page, std::fs::read(format!("{WEB}/index.html")).unwrap());

    let (status, content_type, client) = get(node.port, "/vendor/socket.io.min.js").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/javascript"),
        "{content_type}"
    );
    let installed = std::fs::read(format!(
        "{WEB}/node_modules/socket.io-client/dist/socket.io.min.js"
    ))
    .expect("npm ci in web/ installed the client");
    assert_eq!(client, installed, "the lockfile's socket.io-client");
}

#[tokio::test]
async fn realtime_web_dir_overrides_the_built_in_page() {
    let dir = std::env::temp_dir().join(format!("skillup-web-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<p>edited</p>").unwrap();
    let db = fresh_database().await;
    let mut env = service_env(&db, &redis_url(), &unique_prefix());
    env.insert(
        "REALTIME_WEB_DIR".into(),
        dir.to_string_lossy().into_owned(),
    );
    let node = ServiceProcess::spawn(env!("CARGO_BIN_EXE_skillup-realtime"), &env);

    let (status, _, page) = get(node.port, "/").await;
    assert_eq!((status, page.as_slice()), (200, &b"<p>edited</p>"[..]));
    let (status, _, _) = get(node.port, "/vendor/socket.io.min.js").await;
    assert_eq!(
        status, 404,
        "the override has no node_modules: nothing falls back"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
