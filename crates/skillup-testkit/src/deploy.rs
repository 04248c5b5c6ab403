//! The deploy files, read as the platforms read them, for tests that hold them
//! to what the services really are.

use std::path::PathBuf;

use serde_json::Value;

/// The workspace root (where `deploy/` and `docker/` live).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// What `deploy/railway/{service}.json` tells Railway.
#[derive(Debug)]
pub struct Railway {
    pub start_command: String,
    pub healthcheck_path: String,
    /// `healthcheckTimeout`, seconds.
    pub healthcheck_timeout: u64,
}

/// Reads `deploy/railway/{service}.json` and checks what needs no running
/// service: a Dockerfile build whose Dockerfile exists, builds the start
/// command's binary (`--bin`) and installs it on the image's `PATH`; a start
/// command that is one binary and nothing else (our services take their
/// settings from the environment, never from arguments); a health-check
/// path; a restart policy.
pub fn railway(service: &str) -> Railway {
    let path = workspace_root().join(format!("deploy/railway/{service}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let field = |pointer: &str| -> &Value {
        json.pointer(pointer)
            .unwrap_or_else(|| panic!("{}: no {pointer}", path.display()))
    };
    let string = |pointer: &str| -> String {
        field(pointer)
            .as_str()
            .unwrap_or_else(|| panic!("{}: {pointer} is not a string", path.display()))
            .to_owned()
    };
    assert_eq!(string("/build/builder"), "DOCKERFILE", "{}", path.display());
    let dockerfile_path = string("/build/dockerfilePath");
    let dockerfile = std::fs::read_to_string(workspace_root().join(&dockerfile_path))
        .unwrap_or_else(|e| panic!("{}: dockerfilePath {dockerfile_path}: {e}", path.display()));
    let start_command = string("/deploy/startCommand");
    assert!(
        !start_command.is_empty() && !start_command.contains(char::is_whitespace),
        "{}: startCommand {start_command:?} must be one binary",
        path.display()
    );
    assert!(
        dockerfile.contains(&format!("--bin {start_command} "))
            || dockerfile.contains(&format!("--bin {start_command}\n")),
        "{dockerfile_path} does not build {start_command}"
    );
    assert!(
        dockerfile.contains(&format!("target/release/{start_command} ")),
        "{dockerfile_path} does not install {start_command}"
    );
    // Railway asks it only while a new deployment starts, before traffic moves to
    // it: that is readiness (a restart on it would be liveness, /livez).
    let healthcheck_path = string("/deploy/healthcheckPath");
    assert_eq!(healthcheck_path, "/readyz", "{}", path.display());
    assert_eq!(
        string("/deploy/restartPolicyType"),
        "ON_FAILURE",
        "{}",
        path.display()
    );
    let healthcheck_timeout = field("/deploy/healthcheckTimeout")
        .as_u64()
        .unwrap_or_else(|| panic!("{}: healthcheckTimeout", path.display()));
    Railway {
        start_command,
        healthcheck_path,
        healthcheck_timeout,
    }
}

/// Runs `binary` as Railway would run the service of `config`: with `env`, a
/// `PORT` it chose, and the health check asked until it answers 200 or the
/// config's `healthcheckTimeout` passes. Panics naming what failed.
pub fn assert_served_as_railway_checks(
    config: &Railway,
    binary: &str,
    env: &std::collections::HashMap<String, String>,
) {
    let name = std::path::Path::new(binary)
        .file_name()
        .expect("binary path has a name")
        .to_string_lossy();
    assert_eq!(
        name, config.start_command,
        "startCommand names the binary this crate builds"
    );
    let process = crate::ServiceProcess::spawn(binary, env);
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_secs(config.healthcheck_timeout.min(30));
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        match http_status(process.port, &config.healthcheck_path) {
            Ok(200) => return,
            Ok(status) => last = format!("status {status}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!(
        "GET {} on {} never answered 200 (last: {last}): {:#?}",
        config.healthcheck_path,
        config.start_command,
        process.log()
    );
}

/// The status code of `GET path` on 127.0.0.1:`port`, over plain HTTP/1.1.
fn http_status(port: u16, path: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: healthcheck.railway.app\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP/1.1 status line"))
}

/// The whole check of one service's Railway config: [`railway`], then
/// [`assert_served_as_railway_checks`] with `binary` (its crate's
/// `CARGO_BIN_EXE_*`) on a fresh database and key prefix.
pub async fn check_railway_service(service: &str, binary: &'static str) {
    let config = railway(service);
    let db = crate::fresh_database().await;
    let env = crate::service_env(&db, &crate::redis_url(), &crate::unique_prefix());
    tokio::task::spawn_blocking(move || {
        assert_served_as_railway_checks(&config, binary, &env);
    })
    .await
    .expect("health check");
}

/// The services `deploy/railway/` configures, from its file names.
pub fn railway_services() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("deploy/railway"))
        .expect("deploy/railway exists")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}
