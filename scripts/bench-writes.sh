#!/usr/bin/env bash
# What the invalidation triggers cost concurrent writers: pgbench upserting
# lesson_progress (any writer, as the contract allows: plain SQL) against the
# migrated schema with the release invalidator draining, then the same load with
# the table's triggers disabled (no outbox at all), in one run; prints both tps
# and their ratio. Its own database (skillup_bench_writes, recreated) and prefix.
#
#   scripts/bench-writes.sh                       # 16 clients, 10 s per setup
#   CLIENTS=32 BENCH_SECONDS=20 scripts/bench-writes.sh
#   PROFILE=1 scripts/bench-writes.sh             # also: where the machine's CPU went
#                                                 # in each setup of round 1 (perf)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

CLIENTS="${CLIENTS:-16}"; BENCH_SECONDS="${BENCH_SECONDS:-10}"; ROUNDS="${ROUNDS:-2}"
base="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/skillup}"
export DATABASE_URL="${base%/*}/skillup_bench_writes"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" REDIS_KEY_PREFIX="bench-writes:" RUST_LOG=warn
ensure_cargo; ensure_postgres; ensure_redis
command -v pgbench >/dev/null 2>&1 || apt_install postgresql-client

log "building (release)"
cargo build --release --bins   # the feature set scripts/chaos.sh builds
bin="$TARGET_DIR/release"
psql "${base%/*}/postgres" -Xq -c "DROP DATABASE IF EXISTS skillup_bench_writes WITH (FORCE)"
"$bin/skillupctl" db create >/dev/null
"$bin/skillupctl" db migrate >/dev/null
"$bin/skillupctl" db seed --courses 50 >/dev/null
psql "$DATABASE_URL" -Xq -v ON_ERROR_STOP=1 <<'SQL'
-- pgbench draws numbers; these map them to the seeded students and lessons.
CREATE TABLE bench_users AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM profiles WHERE role = 'student';
CREATE TABLE bench_lessons AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM lessons;
ALTER TABLE bench_users ADD PRIMARY KEY (n);
ALTER TABLE bench_lessons ADD PRIMARY KEY (n);
DELETE FROM invalidation_outbox;
VACUUM ANALYZE;
SQL
users=$(psql "$DATABASE_URL" -XqAt -c "SELECT count(*) FROM bench_users")
lessons=$(psql "$DATABASE_URL" -XqAt -c "SELECT count(*) FROM bench_lessons")
mkdir -p .run/bench
cat >.run/bench/writes.sql <<SQL
\\set u random(1, $users)
\\set l random(1, $lessons)
INSERT INTO lesson_progress (user_id, lesson_id)
  VALUES ((SELECT id FROM bench_users WHERE n = :u), (SELECT id FROM bench_lessons WHERE n = :l))
  ON CONFLICT (user_id, lesson_id) DO UPDATE SET completed_at = now();
SQL

PORT=5403 "$bin/skillup-invalidator" >.run/bench/writes-invalidator.log 2>&1 &
inv=$!
trap 'kill "$inv" 2>/dev/null || true' EXIT
wait_for_port 127.0.0.1 5403 skillup-invalidator

tps() { # label round
  local out perf_pid=""
  if [ "${PROFILE:-0}" = 1 ] && [ "$2" = 1 ]; then
    perf record -a -q -o ".run/bench/writes-$1.perf" -- sleep "$BENCH_SECONDS" 2>/dev/null &
    perf_pid=$!
  fi
  out=$(pgbench -n -f .run/bench/writes.sql -c "$CLIENTS" -j 2 -T "$BENCH_SECONDS" "$DATABASE_URL" 2>&1)
  [ -n "$perf_pid" ] && wait "$perf_pid"
  echo "$out" | grep -E "^tps" | head -1 | sed -E 's/tps = ([0-9.]+).*/\1/'
}
# CPU samples per process name (postgres backends, the invalidator, redis, pgbench...).
profile() { # label
  [ "${PROFILE:-0}" = 1 ] || return 0
  echo; log "where the CPU went, $1 (share of samples on both cores, round 1):"
  perf report -i ".run/bench/writes-$1.perf" --sort comm --stdio -q 2>/dev/null | grep -v '^$' | head -12
}
backlog() { psql "$DATABASE_URL" -XqAt -c "SELECT count(*) FROM invalidation_outbox"; }

with=() without=()
for round in $(seq 1 "$ROUNDS"); do
  psql "$DATABASE_URL" -Xq -c "ALTER TABLE lesson_progress ENABLE TRIGGER USER"
  t=$(tps with "$round"); with+=("$t")
  for _ in $(seq 1 600); do [ "$(backlog)" = 0 ] && break; sleep 0.1; done
  log "round $round: with the outbox triggers and the invalidator: $t tps (backlog after: $(backlog))"
  psql "$DATABASE_URL" -Xq -c "ALTER TABLE lesson_progress DISABLE TRIGGER USER"
  t=$(tps without "$round"); without+=("$t")
  log "round $round: without triggers: $t tps"
done
psql "$DATABASE_URL" -Xq -c "ALTER TABLE lesson_progress ENABLE TRIGGER USER"
profile with; profile without
python3 - "${with[*]}" "${without[*]}" "$CLIENTS" <<'PY'
import sys, statistics
w = [float(x) for x in sys.argv[1].split()]; wo = [float(x) for x in sys.argv[2].split()]
mw, mwo = statistics.median(w), statistics.median(wo)
print(f"\n{sys.argv[3]} clients upserting lesson_progress (median of {len(w)} rounds):")
print(f"  with the outbox triggers, invalidator draining: {mw:,.0f} tps  ({', '.join(f'{x:,.0f}' for x in w)})")
print(f"  without triggers:                              {mwo:,.0f} tps  ({', '.join(f'{x:,.0f}' for x in wo)})")
print(f"  ratio with/without: {mw / mwo:.2f}")
PY
