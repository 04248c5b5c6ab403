//! A bad environment stops the binary with one line naming the variable.

use std::process::Command;

fn run_with(var: &str, value: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_skillup-api"))
        .env_clear()
        .env("JWT_SECRET", "x")
        .env("PORT", "0")
        .env(var, value)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_values_name_the_variable() {
    for (var, value) in [
        ("REDIS_COURSE_TTL", "soon"),
        ("REDIS_DEFAULT_TTL", "-1"),
        ("REDIS_USER_TTL", "1.5"),
        ("REDIS_URL", "localhost:6379"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("PORT", "eighty"),
        ("LOG_FORMAT", "xml"),
        ("CORS_ORIGINS", "ftp://x.example"),
    ] {
        let (code, stderr) = run_with(var, value);
        assert_eq!(code, 2, "{var}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
    }
}

#[test]
fn a_missing_jwt_secret_stops_the_binary() {
    let out = Command::new(env!("CARGO_BIN_EXE_skillup-api"))
        .env_clear()
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
}
