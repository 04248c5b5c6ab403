//! The replayable stream of realtime events (`realtime_events`) and its
//! sequencer (`realtime_sequence`).
//!
//! Numbers are handed out by [`reserve`], inside the transaction that drains
//! the outbox: its `UPDATE` takes the sequence row's lock until that transaction
//! ends, so a second drainer waits, and numbers follow commit order with no holes
//! (a rolled-back drain's numbers are handed out again). A reader that sees event
//! `n` committed therefore sees every event before it.

use std::time::Duration;

use skillup_events::Epoch;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::DbError;

/// What an event is; decides its rooms and its socket event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Progress,
    Course,
    Access,
    CourseRemoved,
    RightsReset,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Progress => "progress",
            Self::Course => "course",
            Self::Access => "access",
            Self::CourseRemoved => "course_removed",
            Self::RightsReset => "rights_reset",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "progress" => Self::Progress,
            "course" => Self::Course,
            "access" => Self::Access,
            "course_removed" => Self::CourseRemoved,
            "rights_reset" => Self::RightsReset,
            _ => return None,
        })
    }
}

/// One stored event: its number, what it is about, and the message as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub kind: Kind,
    pub user_id: Option<Uuid>,
    pub course_id: Option<Uuid>,
    pub body: String,
}

/// Where the stream stands: its epoch and the last number handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub epoch: Epoch,
    pub last: u64,
}

fn epoch(raw: &str) -> Result<Epoch, DbError> {
    raw.parse()
        .map_err(|_| DbError::Corrupt(format!("realtime_sequence.epoch {raw:?}")))
}

fn seq(raw: i64) -> u64 {
    u64::try_from(raw).unwrap_or(0)
}

fn db_seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Hands out `n` numbers (call inside the draining transaction, last, just
/// before inserting the events: the row lock is held until commit). Returns the
/// epoch and the first number.
pub async fn reserve(conn: &mut PgConnection, n: u64) -> Result<(Epoch, u64), DbError> {
    let (raw_epoch, last): (String, i64) = sqlx::query_as(
        "UPDATE realtime_sequence SET last_seq = last_seq + $1 RETURNING epoch, last_seq",
    )
    .bind(db_seq(n))
    .fetch_one(conn)
    .await?;
    Ok((epoch(&raw_epoch)?, seq(last) - n + 1))
}

/// Stores events numbered `first`, `first + 1`, … in `events`' order.
pub async fn insert(
    conn: &mut PgConnection,
    first: u64,
    events: &[(Kind, Option<Uuid>, Option<Uuid>, String)],
) -> Result<(), DbError> {
    let n = events.len();
    let mut seqs = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let mut users = Vec::with_capacity(n);
    let mut courses = Vec::with_capacity(n);
    let mut bodies = Vec::with_capacity(n);
    for (i, (kind, user, course, body)) in events.iter().enumerate() {
        seqs.push(db_seq(first + i as u64));
        kinds.push(kind.as_str());
        users.push(*user);
        courses.push(*course);
        bodies.push(body.as_str());
    }
    sqlx::query(
        "INSERT INTO realtime_events (seq, kind, user_id, course_id, body) \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::uuid[], $5::text[])",
    )
    .bind(&seqs)
    .bind(&kinds)
    .bind(&users)
    .bind(&courses)
    .bind(&bodies)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stream's epoch and last number.
pub async fn head(pool: &PgPool) -> Result<Head, DbError> {
    let (raw_epoch, last): (String, i64) =
        sqlx::query_as("SELECT epoch, last_seq FROM realtime_sequence")
            .fetch_one(pool)
            .await?;
    Ok(Head {
        epoch: epoch(&raw_epoch)?,
        last: seq(last),
    })
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    kind: String,
    user_id: Option<Uuid>,
    course_id: Option<Uuid>,
    body: String,
}

fn stored(rows: Vec<Row>) -> Vec<StoredEvent> {
    rows.into_iter()
        .filter_map(|r| {
            Some(StoredEvent {
                seq: seq(r.seq),
                kind: Kind::parse(&r.kind)?,
                user_id: r.user_id,
                course_id: r.course_id,
                body: r.body,
            })
        })
        .collect()
}

/// The replay window as a node loads it when it starts: the head, and the
/// events of the last `max_age` (at most `max_events` of them), oldest first,
/// read in one snapshot.
pub async fn window(
    pool: &PgPool,
    max_events: u64,
    max_age: Duration,
) -> Result<(Head, Vec<StoredEvent>), DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (raw_epoch, last): (String, i64) =
        sqlx::query_as("SELECT epoch, last_seq FROM realtime_sequence")
            .fetch_one(&mut *tx)
            .await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, kind, user_id, course_id, body FROM realtime_events \
         WHERE seq > $1 - $2 AND created_at > clock_timestamp() - make_interval(secs => $3) \
         ORDER BY seq",
    )
    .bind(last)
    .bind(db_seq(max_events))
    .bind(max_age.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        Head {
            epoch: epoch(&raw_epoch)?,
            last: seq(last),
        },
        stored(rows),
    ))
}

/// The events after `after`, oldest first, at most `limit` (a node catching up
/// after it missed some). An answer whose first number is not `after + 1` means
/// the events in between were pruned.
pub async fn after(pool: &PgPool, after: u64, limit: u64) -> Result<Vec<StoredEvent>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, kind, user_id, course_id, body FROM realtime_events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(db_seq(after))
    .bind(db_seq(limit))
    .fetch_all(pool)
    .await?;
    Ok(stored(rows))
}

/// Deletes events no replay may ask for any more: older than `max_age`, or more
/// than `max_events` behind the head. Returns how many.
pub async fn prune(pool: &PgPool, max_events: u64, max_age: Duration) -> Result<u64, DbError> {
    let done = sqlx::query(
        "DELETE FROM realtime_events WHERE seq <= greatest( \
             (SELECT last_seq FROM realtime_sequence) - $1, \
             (SELECT max(seq) FROM realtime_events \
               WHERE created_at < clock_timestamp() - make_interval(secs => $2)))",
    )
    .bind(db_seq(max_events))
    .bind(max_age.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
