//! `skillupctl`: database, cache and token management for SkillUp operators.
//!
//! Reads the same environment as the services (`DATABASE_URL`, `REDIS_URL`,
//! `REDIS_KEY_PREFIX`, `JWT_SECRET`). Cache commands only ever touch keys under
//! `REDIS_KEY_PREFIX`; nothing here sends `FLUSHALL` or `KEYS`.
#![expect(clippy::print_stdout, reason = "a CLI prints its results")]

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use skillup_cache::Cache;
use skillup_common::UserId;
use skillup_common::auth::JwtKeys;
use skillup_common::config::{DatabaseConfig, JwtConfig, ProcessEnv, RedisConfig};

#[derive(Parser)]
#[command(
    name = "skillupctl",
    version,
    about = "Manage a SkillUp deployment: database, cache, dev tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Database: create, migrate, seed.
    #[command(subcommand)]
    Db(DbCommand),
    /// Redis cache under REDIS_KEY_PREFIX (the equivalents of redis:keys, redis:clear).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Demo helpers for a running system.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Mint a development JWT signed with JWT_SECRET, printed on stdout.
    Token {
        /// The user's profile id (the token's `sub`).
        #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
        user: Option<uuid::Uuid>,
        /// Instead of --user: a seeded demo account.
        #[arg(long = "as", value_enum)]
        demo: Option<DemoUser>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        /// Optional `session_id` claim (logout revokes the session).
        #[arg(long)]
        session: Option<String>,
    },
}

/// The seeded accounts `db seed` creates.
#[derive(Clone, Copy, clap::ValueEnum)]
enum DemoUser {
    /// student-1, enrolled in three courses with some progress
    Student,
    /// instructor-1, owner of course-1
    Instructor,
    Admin,
}

impl DemoUser {
    fn id(self) -> UserId {
        match self {
            Self::Student => skillup_db::seed::student_id(1),
            Self::Instructor => skillup_db::seed::instructor_id(1),
            Self::Admin => skillup_db::seed::admin_id(),
        }
    }
}

#[derive(Subcommand)]
enum DbCommand {
    /// Create the database DATABASE_URL names, if missing.
    Create,
    /// Apply the embedded migrations.
    Migrate,
    /// Insert deterministic demo data (idempotent).
    Seed {
        /// Number of courses (5 modules × 8 lessons each).
        #[arg(long, default_value_t = 50)]
        courses: u32,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Marks the next lesson of a seeded user's first course complete through the
    /// API (or un-marks the first one when all are done), so the demo page moves.
    Progress {
        /// The API's base URL.
        #[arg(long, default_value = "http://127.0.0.1:5000")]
        api: String,
        #[arg(long = "as", value_enum, default_value = "student")]
        user: DemoUser,
    },
}

#[derive(Subcommand)]
enum CacheCommand {
    /// List keys matching PATTERN under the prefix (default: all).
    Keys {
        /// A SCAN pattern relative to the prefix, e.g. `course:*`.
        #[arg(default_value = "*")]
        pattern: String,
        /// Stop after this many keys.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Delete keys matching PATTERN under the prefix (default: all of them).
    Clear {
        #[arg(default_value = "*")]
        pattern: String,
    },
    /// Redis server figures and key counts under the prefix (on a cluster: per
    /// primary and in total).
    Stats,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("skillupctl: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Db(cmd) => db(cmd).await,
        Command::Cache(cmd) => cache(cmd).await,
        Command::Demo(DemoCommand::Progress { api, user }) => demo_progress(&api, user).await,
        Command::Token {
            user,
            demo,
            ttl,
            session,
        } => {
            let keys = JwtKeys::new(&JwtConfig::from_env(&ProcessEnv)?);
            let user = user
                .map(UserId)
                .or(demo.map(DemoUser::id))
                .context("--user or --as is required")?;
            println!("{}", keys.mint(user, Duration::from_secs(ttl), session));
            Ok(())
        }
    }
}

async fn db(cmd: DbCommand) -> anyhow::Result<()> {
    let cfg = DatabaseConfig::from_env(&ProcessEnv)?;
    if let DbCommand::Create = cmd {
        let created = skillup_db::pool::create_database_if_missing(&cfg)
            .await
            .with_context(|| format!("creating the database of {}", cfg.url))?;
        println!(
            "database {}",
            if created { "created" } else { "already exists" }
        );
        return Ok(());
    }
    let pool = skillup_db::connect_lazy(&cfg)?;
    skillup_db::migrate::run(&pool)
        .await
        .with_context(|| format!("migrating {}", cfg.url))?;
    if let DbCommand::Seed { courses } = cmd {
        let bar = indicatif::ProgressBar::new(u64::from(courses));
        bar.set_style(
            indicatif::ProgressStyle::with_template("seeding {bar:40} {pos}/{len} courses ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let report =
            skillup_db::seed::seed(&pool, courses, &|done| bar.set_position(u64::from(done)))
                .await?;
        bar.finish_and_clear();
        println!(
            "seeded: {} profiles, {} courses, {} modules, {} lessons, {} enrollments, {} completed lessons (existing rows kept)",
            report.profiles,
            report.courses,
            report.modules,
            report.lessons,
            report.enrollments,
            report.progress
        );
    } else {
        println!("migrations applied");
    }
    pool.close().await;
    Ok(())
}

async fn cache(cmd: CacheCommand) -> anyhow::Result<()> {
    let cfg = RedisConfig::from_env(&ProcessEnv)?;
    let client = skillup_cache::client::connect_now(&cfg)
        .await
        .with_context(|| format!("connecting to {}", cfg.url))?;
    // Administrative scans may take longer than a request's budget.
    let cache = Cache::new(
        client,
        &RedisConfig {
            command_timeout: Duration::from_secs(30),
            ..cfg.clone()
        },
    );
    let keys = cache.keys().clone();
    match cmd {
        CacheCommand::Keys { pattern, limit } => {
            for key in cache
                .scan_keys(&keys.scoped_pattern(&pattern), limit)
                .await?
            {
                println!("{key}");
            }
        }
        CacheCommand::Clear { pattern } => {
            let scoped = keys.scoped_pattern(&pattern);
            let n = cache.delete_pattern(&scoped).await?;
            println!("deleted {n} keys matching {scoped}");
        }
        CacheCommand::Stats => {
            // On a cluster: every primary's figures, then their totals (key
            // counts below scan every primary too).
            let nodes = cache.info_by_node().await?;
            let info = skillup_cache::RedisInfo::total(nodes.iter().map(|(_, info)| info));
            println!("redis: {}", cfg.url);
            if cache.keys().is_clustered() {
                println!("cluster primaries: {}", nodes.len());
                for (server, node) in &nodes {
                    println!(
                        "  {server}: used_memory {} ({}), connected_clients {}, keyspace_hits {}, keyspace_misses {}, uptime_seconds {}",
                        node.used_memory,
                        node.used_memory_human,
                        node.connected_clients,
                        node.keyspace_hits,
                        node.keyspace_misses,
                        node.uptime_seconds
                    );
                }
                println!("totals:");
            }
            println!(
                "used_memory: {} ({})",
                info.used_memory, info.used_memory_human
            );
            println!("connected_clients: {}", info.connected_clients);
            println!(
                "keyspace_hits: {}  keyspace_misses: {}",
                info.keyspace_hits, info.keyspace_misses
            );
            println!("uptime_seconds: {}", info.uptime_seconds);
            for (label, pattern) in [
                ("course", keys.courses_pattern()),
                ("courses:published", keys.courses_pages_pattern()),
                ("user", keys.users_pattern()),
                ("session:revoked", keys.revocations_pattern()),
                ("all", keys.scoped_pattern("")),
            ] {
                let n = cache.scan_keys(&pattern, usize::MAX).await?.len();
                println!("keys {}{label}: {n}", keys.prefix());
            }
        }
    }
    cache.quit(Duration::from_secs(2)).await;
    Ok(())
}

/// See [`DemoCommand::Progress`].
async fn demo_progress(api: &str, user: DemoUser) -> anyhow::Result<()> {
    use serde_json::{Value, json};
    let token = JwtKeys::new(&JwtConfig::from_env(&ProcessEnv)?).mint(
        user.id(),
        Duration::from_secs(300),
        None,
    );
    let http = reqwest::Client::new();
    let get = async |path: String| -> anyhow::Result<Value> {
        let res = http
            .get(format!("{api}{path}"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "GET {path}: {}", res.status());
        Ok(res.json().await?)
    };
    let me = get("/api/me".to_owned())
        .await
        .with_context(|| format!("reaching the API at {api}"))?;
    let course = me["enrollments"][0]["course_id"]
        .as_str()
        .context("this user is not enrolled in any course")?
        .to_owned();
    let detail = get(format!("/api/courses/{course}")).await?;
    let progress = get(format!("/api/courses/{course}/progress")).await?;
    let done: Vec<&str> = progress["completed_lesson_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let lessons: Vec<&str> = detail["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["lessons"].as_array().into_iter().flatten())
        .filter_map(|l| l["id"].as_str())
        .collect();
    let (lesson, completed) = match lessons.iter().find(|l| !done.contains(l)) {
        Some(next) => (*next, true),
        None => (
            *lessons.first().context("the course has no lessons")?,
            false,
        ),
    };
    let res = http
        .put(format!(
            "{api}/api/courses/{course}/lessons/{lesson}/progress"
        ))
        .bearer_auth(&token)
        .json(&json!({ "completed": completed }))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "PUT progress: {}", res.status());
    println!("{}", res.text().await?);
    Ok(())
}
