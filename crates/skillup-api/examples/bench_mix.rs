//! The benchmark's 95/5 read/write mix with a freshness check, used by
//! `scripts/bench-http.sh`:
//!
//!   bench_mix BASE_URL IDS_FILE SECONDS CONNECTIONS WRITE_PERCENT
//!
//! `CONNECTIONS` tasks each loop for `SECONDS`: either `GET /api/courses/{id}`
//! (the same skewed draw as `bench/skewed.lua`) or, with `WRITE_PERCENT` %
//! probability, `PATCH` the title of a course drawn evenly to `Bench v{n}` as the
//! admin (`JWT_SECRET` and the seeded admin). Writes to one course are serialized, so
//! the versions acknowledged for it only grow; every read records the version
//! acknowledged before it was sent and counts as **stale** if its answer shows an
//! older one. Prints one JSON object: requests/s, latency percentiles of reads
//! and writes, errors and stale reads.
#![expect(clippy::print_stdout, reason = "a benchmark tool")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use skillup_common::auth::JwtKeys;
use skillup_common::config::{JwtConfig, ProcessEnv};
use skillup_db::seed;

struct Shared {
    base: String,
    ids: Vec<String>,
    /// Per course: the highest title version a `PATCH` was acknowledged for.
    acked: Vec<AtomicU64>,
    /// Per course: writes to one course go one at a time.
    writing: Vec<tokio::sync::Mutex<()>>,
    version: AtomicU64,
    token: String,
    write_percent: u32,
}

#[derive(Default)]
struct Tally {
    reads: Vec<u32>,
    writes: Vec<u32>,
    errors: u64,
    stale: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, ids_file, seconds, connections, write_percent] = args.as_slice() else {
        anyhow::bail!("usage: bench_mix BASE_URL IDS_FILE SECONDS CONNECTIONS WRITE_PERCENT");
    };
    let ids: Vec<String> = std::fs::read_to_string(ids_file)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(!ids.is_empty(), "no ids in {ids_file}");
    let jwt = JwtKeys::new(&JwtConfig::from_env(&ProcessEnv)?);
    let shared = Arc::new(Shared {
        base: base.trim_end_matches('/').to_owned(),
        acked: ids.iter().map(|_| AtomicU64::new(0)).collect(),
        writing: ids.iter().map(|_| tokio::sync::Mutex::new(())).collect(),
        ids,
        version: AtomicU64::new(1),
        token: jwt.mint(seed::admin_id(), Duration::from_secs(3600), None),
        write_percent: write_percent.parse()?,
    });
    let run_for = Duration::from_secs(seconds.parse()?);
    let connections: usize = connections.parse()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(worker(shared.clone(), client.clone(), start + run_for)))
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let t = task.await?;
        total.reads.extend(t.reads);
        total.writes.extend(t.writes);
        total.errors += t.errors;
        total.stale += t.stale;
    }
    let elapsed = start.elapsed().as_secs_f64();
    total.reads.sort_unstable();
    total.writes.sort_unstable();
    let requests = total.reads.len() + total.writes.len();
    #[expect(clippy::cast_precision_loss, reason = "a rate for humans")]
    let rps = requests as f64 / elapsed;
    let report = serde_json::json!({
        "rps": rps.round(),
        "reads": total.reads.len(),
        "writes": total.writes.len(),
        "read_p50_ms": percentile(&total.reads, 0.50),
        "read_p99_ms": percentile(&total.reads, 0.99),
        "read_max_ms": percentile(&total.reads, 1.0),
        "write_p50_ms": percentile(&total.writes, 0.50),
        "write_p99_ms": percentile(&total.writes, 0.99),
        "errors": total.errors,
        "stale_reads": total.stale,
    });
    println!("{report}");
    Ok(())
}

async fn worker(shared: Arc<Shared>, client: reqwest::Client, until: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < until {
        let (i, write) = {
            let mut rng = rand::rng();
            let u: f64 = rng.random();
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "an index drawn in 0..len"
            )]
            let i = ((shared.ids.len() as f64) * u.powi(3)) as usize;
            if rng.random_range(0..100) < shared.write_percent {
                // Writes are spread evenly: queued behind one hot course, they
                // would measure the benchmark's own serialization.
                (rng.random_range(0..shared.ids.len()), true)
            } else {
                (i.min(shared.ids.len() - 1), false)
            }
        };
        let url = format!("{}/api/courses/{}", shared.base, shared.ids[i]);
        if write {
            let _one_at_a_time = shared.writing[i].lock().await;
            let sent = Instant::now();
            let version = shared.version.fetch_add(1, Ordering::Relaxed);
            let res = client
                .patch(&url)
                .bearer_auth(&shared.token)
                .json(&serde_json::json!({ "title": format!("Bench v{version}") }))
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => {
                    shared.acked[i].fetch_max(version, Ordering::AcqRel);
                    tally.writes.push(micros(sent));
                }
                _ => tally.errors += 1,
            }
        } else {
            let sent = Instant::now();
            let floor = shared.acked[i].load(Ordering::Acquire);
            let res = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                _ => None,
            };
            let Some(body) = res else {
                tally.errors += 1;
                continue;
            };
            tally.reads.push(micros(sent));
            let seen = body["title"]
                .as_str()
                .and_then(|t| t.strip_prefix("Bench v"))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if seen < floor {
                tally.stale += 1;
            }
        }
    }
    tally
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// The `q` quantile of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into the samples"
    )]
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    (f64::from(sorted[i]) / 10.0).round() / 100.0
}
