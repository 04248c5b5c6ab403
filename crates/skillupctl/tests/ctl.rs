//! `skillupctl` run as a process, against real Postgres and Redis.

use std::process::{Command, Output};

use fred::prelude::*;
use secrecy::SecretString;
use skillup_common::auth::JwtKeys;
use skillup_common::config::JwtConfig;
use skillup_testkit::{fresh_database, redis_url, unique_prefix};

fn ctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillupctl"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("skillupctl runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn token_mints_a_jwt_the_services_accept() {
    let user = uuid::Uuid::new_v4().to_string();
    let out = ctl(
        &["token", "--user", &user, "--ttl", "60"],
        &[("JWT_SECRET", "ctl-secret")],
    );
    let token = stdout(&out).trim().to_owned();
    let keys = JwtKeys::new(&JwtConfig {
        secret: SecretString::from("ctl-secret"),
    });
    let claims = keys.verify(&token).unwrap();
    assert_eq!(claims.sub.to_string(), user);
    let now = chrono_now();
    assert!((55..=60).contains(&(claims.exp - now)), "ttl applied");

    let demo = stdout(&ctl(
        &["token", "--as", "student"],
        &[("JWT_SECRET", "ctl-secret")],
    ));
    assert_eq!(
        keys.verify(demo.trim()).unwrap().user_id(),
        skillup_db::seed::student_id(1)
    );
}

fn chrono_now() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since_epoch.as_secs()).expect("seconds fit i64")
}

#[test]
fn token_refuses_without_secret_or_user() {
    let out = ctl(&["token", "--user", &uuid::Uuid::new_v4().to_string()], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
    assert!(!ctl(&["token"], &[("JWT_SECRET", "x")]).status.success());
    assert!(
        !ctl(&["token", "--user", "not-a-uuid"], &[("JWT_SECRET", "x")])
            .status
            .success()
    );
}

#[tokio::test]
async fn db_migrate_and_seed_are_idempotent() {
    let db = fresh_database().await;
    let env = [("DATABASE_URL", db.url.as_str())];
    assert!(stdout(&ctl(&["db", "migrate"], &env)).contains("migrations applied"));
    let first = stdout(&ctl(&["db", "seed", "--courses", "15"], &env));
    assert!(first.contains("15 courses"), "{first}");
    let second = stdout(&ctl(&["db", "seed", "--courses", "15"], &env));
    assert!(second.contains("0 courses"), "{second}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM lessons")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 15 * 40);
}

#[tokio::test]
async fn cache_commands_never_leave_the_prefix() {
    let mine = unique_prefix();
    let theirs = unique_prefix();
    let client = Builder::from_config(Config::from_url(&redis_url()).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    for p in [&mine, &theirs] {
        for k in ["course:1", "course:2", "courses:published:1:20", "user:1"] {
            let _: () = client
                .set(format!("{p}{k}"), "x", None, None, false)
                .await
                .unwrap();
        }
    }
    let env = [
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", mine.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let keys = stdout(&ctl(&["cache", "keys", "course:*"], &env));
    let mut listed: Vec<&str> = keys.lines().collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [format!("{mine}course:1"), format!("{mine}course:2")]
    );

    let cleared = stdout(&ctl(&["cache", "clear", "courses:*"], &env));
    assert!(cleared.contains("deleted 1 keys"), "{cleared}");
    let stats = stdout(&ctl(&["cache", "stats"], &env));
    assert!(stats.contains("used_memory"), "{stats}");
    assert!(stats.contains(&format!("keys {mine}all: 3")), "{stats}");

    let cleared = stdout(&ctl(&["cache", "clear"], &env));
    assert!(cleared.contains("deleted 3 keys"), "{cleared}");
    let theirs_left: u32 = client
        .exists(vec![
            format!("{theirs}course:1"),
            format!("{theirs}course:2"),
            format!("{theirs}courses:published:1:20"),
            format!("{theirs}user:1"),
        ])
        .await
        .unwrap();
    assert_eq!(theirs_left, 4, "another prefix is untouched");
    let _: () = client
        .del(vec![
            format!("{theirs}course:1"),
            format!("{theirs}course:2"),
            format!("{theirs}courses:published:1:20"),
            format!("{theirs}user:1"),
        ])
        .await
        .unwrap();
}

#[tokio::test]
async fn cache_commands_cover_every_primary_of_a_cluster() {
    let url = skillup_testkit::redis_cluster_url();
    let mine = unique_prefix();
    let theirs = unique_prefix();
    let client = Builder::from_config(Config::from_url(&url).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    // 40 course keys spread over the cluster's slots, so over all its primaries.
    let names = |p: &str| -> Vec<String> { (0..40).map(|i| format!("{p}course:{i}")).collect() };
    for key in names(&mine).into_iter().chain(names(&theirs)) {
        let _: () = client.set(key, "x", None, None, false).await.unwrap();
    }
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", mine.as_str()),
    ];

    let listed = stdout(&ctl(&["cache", "keys"], &env));
    assert_eq!(listed.lines().count(), 40, "{listed}");
    let stats = stdout(&ctl(&["cache", "stats"], &env));
    assert!(stats.contains("cluster primaries: 3"), "{stats}");
    assert!(stats.contains(&format!("keys {mine}all: 40")), "{stats}");
    let cleared = stdout(&ctl(&["cache", "clear"], &env));
    assert!(cleared.contains("deleted 40 keys"), "{cleared}");

    // One key at a time: a multi-key EXISTS may not span slots on a cluster.
    let mut left = (0, 0);
    for (key, theirs) in names(&mine)
        .into_iter()
        .map(|k| (k, false))
        .chain(names(&theirs).into_iter().map(|k| (k, true)))
    {
        let n: u32 = client.exists(key).await.unwrap();
        if theirs {
            left.1 += n;
        } else {
            left.0 += n;
        }
    }
    assert_eq!(
        left,
        (0, 40),
        "ours all deleted, another prefix's untouched"
    );
    for key in names(&theirs) {
        let _: u32 = client.del(key).await.unwrap();
    }
}

#[test]
fn cache_commands_fail_clearly_when_redis_is_down() {
    let url = skillup_testkit::dead_redis_url();
    let out = ctl(&["cache", "keys"], &[("REDIS_URL", &url)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to redis://127.0.0.1"));
}

#[tokio::test]
async fn cache_clear_never_reaches_outside_the_prefix_whatever_the_pattern() {
    let mine = unique_prefix();
    let theirs = unique_prefix();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let client = Builder::from_config(Config::from_url(&redis_url()).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    // Keys that must survive: another prefix, unprefixed keys (one named like a
    // pattern), and keys that share our prefix's text without its last character.
    let outside = [
        format!("{theirs}course:{tag}"),
        format!("course:{tag}"),
        format!("*{tag}*"),
        format!("{}{tag}", &mine[..mine.len() - 1]),
        format!("{}x:{tag}", &mine[..mine.len() - 1]),
    ];
    for k in &outside {
        let _: () = client.set(k, "x", None, None, false).await.unwrap();
    }
    let env = [
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", mine.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for pattern in [
        "*", "\\*", "[a-z]*", "*:*", "", "?*", "../*", "\\", "[", "*\\", "**", "course:*",
    ] {
        let _: () = client
            .set(format!("{mine}course:{tag}"), "x", None, None, false)
            .await
            .unwrap();
        let out = ctl(&["cache", "clear", pattern], &env);
        assert!(out.status.success(), "{pattern:?}: {out:?}");
        let left: u32 = client.exists(outside.to_vec()).await.unwrap();
        assert_eq!(left, 5, "pattern {pattern:?} deleted a key outside {mine}");
    }
    let left: u32 = client.exists(format!("{mine}course:{tag}")).await.unwrap();
    assert_eq!(left, 0, "the last pattern cleared our own key");

    // A prefix holding pattern characters is refused before anything is sent.
    let star = [
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", "*".to_owned()),
    ];
    let star: Vec<(&str, &str)> = star.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = ctl(&["cache", "clear"], &star);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("REDIS_KEY_PREFIX"));
    let left: u32 = client.exists(outside.to_vec()).await.unwrap();
    assert_eq!(left, 5);
    let _: () = client.del(outside.to_vec()).await.unwrap();
}
