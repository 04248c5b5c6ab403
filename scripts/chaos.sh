#!/usr/bin/env bash
# Fault campaign: runs the whole system on a private Postgres and Redis (loopback
# only), drives a realistic mixed load against it (tests/chaos/load.mjs: course
# reads, enrollments, progress writes, Socket.IO clients on two realtime nodes),
# and meanwhile injects, in turn and with a quiet recovery period between them:
#
#   redis        stop Redis (SIGTERM), restart it empty
#   invalidator  kill -9 the invalidator, restart it
#   postgres     pg_ctl stop -m fast, start again
#   realtime     kill -9 the second realtime node, restart it
#
# Then, once the invalidator's backlog is empty, tests/chaos/check.mjs checks that
# no acknowledged write is lost, that 503s (and nothing else of 5xx) happen only in
# the outage windows, that no cached read is stale, that every socket got every
# progress event published while Redis was up, and measures recovery per fault. It
# prints a summary and writes .run/chaos/report.json; any failed check fails the run.
#
#   scripts/chaos.sh                 # short form: one round of the four faults (~55 s)
#   scripts/chaos.sh --long          # long form: rounds for CHAOS_DURATION (600 s),
#                                    # 10 s outages, 20 s quiet periods
#   CHAOS_DURATION=300 scripts/chaos.sh
#
# Knobs (environment): CHAOS_DURATION (load seconds; rounds = as many as fit, at
# least one), CHAOS_OUTAGE_SECS (3 | long 10), CHAOS_QUIET_SECS (6 | long 20),
# CHAOS_RATE (requests/s, 120), CHAOS_MAX_REQUESTS (100000), CHAOS_GRACE_MS (time
# after a dependency answers again during which 503s still count as the outage,
# 5000), CHAOS_COURSES (seeded courses, 30), ports CHAOS_PG_PORT (5499),
# CHAOS_REDIS_PORT (6499), CHAOS_API_PORT (5480), CHAOS_RT1_PORT (5481),
# CHAOS_RT2_PORT (5482), CHAOS_INVALIDATOR_PORT (5483).
#
# Bounded: after the build the campaign runs under `timeout` (CHAOS_HARD_TIMEOUT,
# default CHAOS_DURATION + 300 s) and every wait has its own limit. Every process it
# starts is stopped on exit, failure or interruption. Logs and records are left in
# .run/chaos/.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

long=""
for arg in "$@"; do
  case "$arg" in
    --long) long=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (try --help)" ;;
  esac
done
if [ -n "$long" ]; then
  export CHAOS_DURATION="${CHAOS_DURATION:-600}" CHAOS_OUTAGE_SECS="${CHAOS_OUTAGE_SECS:-10}" \
    CHAOS_QUIET_SECS="${CHAOS_QUIET_SECS:-20}"
fi
export CHAOS_OUTAGE_SECS="${CHAOS_OUTAGE_SECS:-3}" CHAOS_QUIET_SECS="${CHAOS_QUIET_SECS:-6}"
export CHAOS_WARMUP_SECS="${CHAOS_WARMUP_SECS:-5}"
export CHAOS_DURATION="${CHAOS_DURATION:-$((CHAOS_WARMUP_SECS + 4 * (CHAOS_OUTAGE_SECS + CHAOS_QUIET_SECS)))}"

# ---- outer part: tools and build, then the campaign under a hard timeout ----------
if [ -z "${CHAOS_INNER:-}" ]; then
  ensure_cargo
  ensure_node
  command -v curl >/dev/null 2>&1 || apt_install curl
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    log "Postgres binaries are not installed: installing Debian's postgresql"
    apt_install postgresql
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  ensure_npm_deps "$ROOT/tests/chaos"
  ensure_web_deps   # skillup-realtime embeds the demo page's client
  log "building the binaries (release)"
  cargo build --release --bins
  hard="${CHAOS_HARD_TIMEOUT:-$((CHAOS_DURATION + 300))}"
  log "campaign: ${CHAOS_DURATION} s of load, hard limit ${hard} s"
  start=$(date +%s)
  # In the background so that Ctrl-C and SIGTERM reach it: timeout runs the
  # campaign in a process group of its own, and passes the signal on to all of it.
  CHAOS_INNER=1 timeout --kill-after=20 "$hard" "$ROOT/scripts/chaos.sh" "$@" &
  inner=$!
  trap 'kill -TERM "$inner" 2>/dev/null || true' INT TERM
  status=0
  while kill -0 "$inner" 2>/dev/null; do wait "$inner" || status=$?; done
  [ "$status" -eq 124 ] && warn "the campaign hit its hard time limit (${hard} s)"
  log "campaign took $(($(date +%s) - start)) s (exit $status); logs in .run/chaos/"
  exit "$status"
fi

# ---- inner part: the campaign ----------------------------------------------------
bin="$TARGET_DIR/release"
RUN="$ROOT/.run/chaos"
PG_PORT="${CHAOS_PG_PORT:-5499}"
REDIS_PORT="${CHAOS_REDIS_PORT:-6499}"
API_PORT="${CHAOS_API_PORT:-5480}"
RT1_PORT="${CHAOS_RT1_PORT:-5481}"
RT2_PORT="${CHAOS_RT2_PORT:-5482}"
INV_PORT="${CHAOS_INVALIDATOR_PORT:-5483}"
OUTAGE="$CHAOS_OUTAGE_SECS"
QUIET="$CHAOS_QUIET_SECS"
for port in "$PG_PORT" "$REDIS_PORT" "$API_PORT" "$RT1_PORT" "$RT2_PORT" "$INV_PORT"; do
  tcp_open 127.0.0.1 "$port" && die "port $port is taken; set the CHAOS_*_PORT variables"
done

PGBIN=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDIR="$RUN/pg"
# initdb and the server refuse to run as root: as root they run as `postgres`.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/skillup_chaos"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export REDIS_KEY_PREFIX="chaos:"
# Course entries expire every few seconds, so the Postgres round meets expired
# entries: they must answer STALE, not 503.
export REDIS_COURSE_TTL="${CHAOS_COURSE_TTL:-2}"
export JWT_SECRET="chaos-campaign-secret"
export RUST_LOG="${RUST_LOG:-info}"
export LOG_FORMAT=json

now_ms() { date +%s%3N; }

redis_pid="" api_pid="" inv_pid="" rt1_pid="" rt2_pid="" load_pid=""
pg_started=""
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  local pids=() pid
  for pid in "$load_pid" "$api_pid" "$inv_pid" "$rt1_pid" "$rt2_pid" "$redis_pid"; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do
      local alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" -eq 0 ] && break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if [ -n "$pg_started" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" stop -m immediate -w >/dev/null 2>&1 || true
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$RUN"
mkdir -p "$RUN/logs" "$RUN/bin" "$PGDIR"
# The services run under names of their own (symlinks), so that `pkill skillup-api`
# in another terminal of the same machine cannot break a campaign midway.
for name in api invalidator realtime; do ln -s "$bin/skillup-$name" "$RUN/bin/chaos-$name"; done

# ---- private Postgres and Redis -------------------------------------------------
start_postgres() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -t 30 start >/dev/null
  pg_started=1
  for _ in $(seq 1 100); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return 0
    sleep 0.1
  done
  die "Postgres did not answer on :$PG_PORT"
}

start_redis() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RUN" >>"$RUN/logs/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  die "Redis did not answer on :$REDIS_PORT"
}

log "private Postgres on :$PG_PORT ($PGDIR)"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGDIR"
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >"$RUN/logs/initdb.log"
cat >>"$PGDIR/data/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDIR'
CONF
start_postgres
log "private Redis on :$REDIS_PORT"
start_redis

"$bin/skillupctl" db create >/dev/null
"$bin/skillupctl" db migrate >/dev/null
"$bin/skillupctl" db seed --courses "${CHAOS_COURSES:-30}" >/dev/null

# ---- the services ----------------------------------------------------------------
wait_port() { # port what: up to 10 s
  for _ in $(seq 1 200); do tcp_open 127.0.0.1 "$1" && return 0; sleep 0.05; done
  die "$2 did not open :$1 (see $RUN/logs/)"
}
start_api() {
  PORT="$API_PORT" "$RUN/bin/chaos-api" >>"$RUN/logs/api.log" 2>&1 &
  api_pid=$!; wait_port "$API_PORT" skillup-api
}
start_invalidator() {
  PORT="$INV_PORT" "$RUN/bin/chaos-invalidator" >>"$RUN/logs/invalidator.log" 2>&1 &
  inv_pid=$!; wait_port "$INV_PORT" skillup-invalidator
}
start_rt1() {
  PORT="$RT1_PORT" "$RUN/bin/chaos-realtime" >>"$RUN/logs/realtime-1.log" 2>&1 &
  rt1_pid=$!; wait_port "$RT1_PORT" "skillup-realtime (1)"
}
start_rt2() {
  PORT="$RT2_PORT" "$RUN/bin/chaos-realtime" >>"$RUN/logs/realtime-2.log" 2>&1 &
  rt2_pid=$!; wait_port "$RT2_PORT" "skillup-realtime (2)"
}
log "starting api :$API_PORT, invalidator :$INV_PORT, realtime :$RT1_PORT and :$RT2_PORT"
start_api
start_invalidator
start_rt1
start_rt2
# The seed's records are drained (and their events published) before any socket
# connects, so the campaign's sockets owe and receive only the load's events.
for _ in $(seq 1 600); do
  [ "$(curl -s --max-time 2 "http://127.0.0.1:$INV_PORT/health" | grep -o '"backlog":[0-9]*' | cut -d: -f2)" = 0 ] && break
  sleep 0.1
done

# ---- what the load works on: published courses and lessons, students, tokens ------
psql_json() { psql "$DATABASE_URL" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
psql_json "SELECT json_build_object(
  'admin_id', (SELECT id FROM profiles WHERE role = 'admin' ORDER BY created_at, id LIMIT 1),
  'courses', (SELECT json_agg(json_build_object('id', c.id, 'lessons',
      (SELECT json_agg(l.id ORDER BY m.position, l.position) FROM modules m JOIN lessons l ON l.module_id = m.id
        WHERE m.course_id = c.id)) ORDER BY c.created_at, c.id)
    FROM courses c WHERE c.published),
  'students', (SELECT json_agg(json_build_object('id', p.id, 'enrolled',
      (SELECT coalesce(json_agg(e.course_id ORDER BY e.enrolled_at), '[]') FROM enrollments e WHERE e.user_id = p.id))
      ORDER BY p.created_at, p.id)
    FROM profiles p WHERE p.role = 'student'))" >"$RUN/db.json"
: >"$RUN/tokens.tsv"
for id in $(psql_json "SELECT id FROM profiles WHERE role IN ('admin', 'student') ORDER BY id"); do
  printf '%s\t%s\n' "$id" "$("$bin/skillupctl" token --user "$id" --ttl $((CHAOS_DURATION + 3600)))" >>"$RUN/tokens.tsv"
done

# ---- load --------------------------------------------------------------------------
log "starting the load (${CHAOS_RATE:-120} req/s at most)"
node tests/chaos/load.mjs --db "$RUN/db.json" --tokens "$RUN/tokens.tsv" \
  --api "http://127.0.0.1:$API_PORT" --realtime "http://127.0.0.1:$RT1_PORT,http://127.0.0.1:$RT2_PORT" \
  --out "$RUN" --rate "${CHAOS_RATE:-120}" --max-requests "${CHAOS_MAX_REQUESTS:-100000}" \
  --max-seconds $((CHAOS_DURATION + 120)) 2>"$RUN/logs/load.log" &
load_pid=$!
for _ in $(seq 1 600); do
  [ -f "$RUN/load.ready" ] && break
  kill -0 "$load_pid" 2>/dev/null || die "the load generator exited early (see $RUN/logs/load.log)"
  sleep 0.05
done
[ -f "$RUN/load.ready" ] || die "the load generator was not ready in 30 s"
campaign_start=$(now_ms)

# ---- faults --------------------------------------------------------------------------
# Each fault appends {"fault","round","start","end",...} to faults.ndjson: start just
# before the fault, end when the dependency answers again (or the process is back).
record() { printf '%s\n' "$1" >>"$RUN/faults.ndjson"; }

fault_redis() { # round
  local start down end
  start=$(now_ms)
  kill -TERM "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
  down=$(now_ms)
  sleep "$OUTAGE"
  start_redis
  end=$(now_ms)
  record "{\"fault\":\"redis\",\"round\":$1,\"start\":$start,\"down\":$down,\"end\":$end}"
}

invalidator_backlog() {
  curl -s --max-time 2 "http://127.0.0.1:$INV_PORT/health" | grep -o '"backlog":[0-9]*' | cut -d: -f2
}

fault_invalidator() {
  local start end drained="null" backlog_max=0 backlog
  start=$(now_ms)
  kill -KILL "$inv_pid"; wait "$inv_pid" 2>/dev/null || true
  sleep "$OUTAGE"
  backlog_max=$(psql_json "SELECT count(*) FROM invalidation_outbox" 2>/dev/null || echo null)
  start_invalidator
  end=$(now_ms)
  for _ in $(seq 1 300); do
    backlog=$(invalidator_backlog || true)
    if [ "$backlog" = 0 ]; then drained=$(now_ms); break; fi
    sleep 0.1
  done
  record "{\"fault\":\"invalidator\",\"round\":$1,\"start\":$start,\"end\":$end,\"drained\":$drained,\"backlog_at_restart\":$backlog_max}"
}

fault_postgres() {
  local start down end
  start=$(now_ms)
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" stop -m fast -w -t 30 >/dev/null
  down=$(now_ms)
  sleep "$OUTAGE"
  start_postgres
  end=$(now_ms)
  record "{\"fault\":\"postgres\",\"round\":$1,\"start\":$start,\"down\":$down,\"end\":$end}"
}

fault_realtime() {
  local start end
  start=$(now_ms)
  kill -KILL "$rt2_pid"; wait "$rt2_pid" 2>/dev/null || true
  sleep "$OUTAGE"
  start_rt2
  end=$(now_ms)
  record "{\"fault\":\"realtime\",\"round\":$1,\"node\":1,\"start\":$start,\"end\":$end}"
}

# Every process must be up after each fault: a dead one would turn the rest of the
# campaign into noise.
all_alive() { # names of the *_pid variables to check
  local name pid_var
  for name in "$@"; do
    pid_var="${name}_pid"
    kill -0 "${!pid_var}" 2>/dev/null || die "$name is no longer running (see $RUN/logs/)"
  done
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || die "Postgres is no longer answering (see $PGDIR/postgres.log)"
}

cycle=$((4 * (OUTAGE + QUIET)))
rounds=$(((CHAOS_DURATION - CHAOS_WARMUP_SECS) / cycle))
[ "$rounds" -lt 1 ] && rounds=1
log "warm-up ${CHAOS_WARMUP_SECS} s, then $rounds round(s) of 4 faults (${OUTAGE} s outage, ${QUIET} s quiet)"
sleep "$CHAOS_WARMUP_SECS"
for round in $(seq 1 "$rounds"); do
  for fault in redis invalidator postgres realtime; do
    log "round $round: $fault"
    "fault_$fault" "$round"
    all_alive load api inv rt1 rt2 redis
    sleep "$QUIET" # counted from the end of the fault
  done
done

log "stopping the load"
kill -TERM "$load_pid"
for _ in $(seq 1 300); do kill -0 "$load_pid" 2>/dev/null || break; sleep 0.1; done
load_status=0
wait "$load_pid" || load_status=$?
load_pid=""
[ "$load_status" -eq 0 ] || die "the load generator failed (exit $load_status; see $RUN/logs/load.log)"

all_alive api inv rt1 rt2 redis

log "checking (after quiescence)"
node tests/chaos/check.mjs --run "$RUN" --api "http://127.0.0.1:$API_PORT" \
  --invalidator "http://127.0.0.1:$INV_PORT" --redis-port "$REDIS_PORT" --prefix "$REDIS_KEY_PREFIX" \
  --database-url "$DATABASE_URL" --grace-ms "${CHAOS_GRACE_MS:-5000}" --campaign-start "$campaign_start" \
  --config "{\"duration_s\":$CHAOS_DURATION,\"rounds\":$rounds,\"outage_s\":$OUTAGE,\"quiet_s\":$QUIET,\"rate\":${CHAOS_RATE:-120},\"long\":${long:-0}}"
