#!/usr/bin/env bash
# The durable event stream, measured end to end with the release binaries and the
# official socket.io-client (crates/skillup-realtime/tests/js/stream-bench.mjs):
#
#   e2e     SOCKETS sockets (one user each) connected, progress PUTs through the API
#           at each of RATES per second for BENCH_SECONDS: PUT answered → event on
#           the socket, p50/p99, and the rate the API actually answered.
#   replay  the same sockets on a node that is killed (SIGKILL) while PUTs go on for
#           OUTAGE_MS, then restarted: time until every socket has caught up, and
#           the Postgres queries the restarted node spent.
#   logout  SESSIONS sessions over two nodes, each signed out through the API in
#           turn: logout sent → session:ended, p50/p99.
#
#   scripts/bench-stream.sh                        # all three, 10,000 sockets, 300 and 1,000 PUT/s
#   MODES=logout SESSIONS=1000 scripts/bench-stream.sh
#
# Its own database (skillup_bench_stream, recreated) and key prefix; ports 5301–5305.
# The load generator runs under `nice -n 10` so it does not starve the services on
# a small machine. Prints one table per mode; results in .run/bench/stream-*.json.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

SOCKETS="${SOCKETS:-10000}"; RATES="${RATES:-300 1000}"; RATE="${RATE:-300}"; BENCH_SECONDS="${BENCH_SECONDS:-10}"
OUTAGE_MS="${OUTAGE_MS:-2000}"; SESSIONS="${SESSIONS:-1000}"; MODES="${MODES:-e2e replay logout}"
export JWT_SECRET="${JWT_SECRET:-bench-secret}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_KEY_PREFIX="bench-stream:"
base="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/skillup}"
export DATABASE_URL="${base%/*}/skillup_bench_stream"
export RUST_LOG=warn AUTH_FAILURE_LIMIT=1000000 DATABASE_MAX_CONNECTIONS=20
ensure_cargo; ensure_postgres; ensure_redis; ensure_node
ensure_npm_deps "$ROOT/crates/skillup-realtime/tests/js"
ensure_web_deps
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log "building the services (release)"
cargo build --release --bins   # the feature set scripts/chaos.sh builds: one set of release artifacts
bin="$TARGET_DIR/release"
psql "${base%/*}/postgres" -Xq -c "DROP DATABASE IF EXISTS skillup_bench_stream WITH (FORCE)"
"$bin/skillupctl" db create >/dev/null
"$bin/skillupctl" db migrate >/dev/null
"$bin/skillupctl" db seed --courses 20 >/dev/null
"$bin/skillupctl" cache clear >/dev/null || true

log "$SOCKETS bench users, each enrolled in one course"
psql "$DATABASE_URL" -Xq -v ON_ERROR_STOP=1 <<SQL
INSERT INTO profiles (id, display_name)
  SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'bench ' || i
  FROM generate_series(1, $SOCKETS) i;
INSERT INTO enrollments (user_id, course_id)
  SELECT p.id, c.id FROM profiles p
  CROSS JOIN LATERAL (SELECT id FROM courses WHERE published ORDER BY created_at, id
                      OFFSET (abs(hashtext(p.id::text)) % 5) LIMIT 1) c
  WHERE p.display_name LIKE 'bench %';
-- The seed's and these rows' records invalidate nothing cached: not drained in the run.
DELETE FROM invalidation_outbox;
SQL
mkdir -p .run/bench
users=.run/bench/stream-users.tsv
psql "$DATABASE_URL" -XqAt -F $'\t' -c "
  SELECT e.user_id, e.course_id,
         (SELECT string_agg(l.id::text, ',' ORDER BY l.id) FROM lessons l JOIN modules m ON m.id = l.module_id
           WHERE m.course_id = e.course_id)
  FROM enrollments e JOIN profiles p ON p.id = e.user_id WHERE p.display_name LIKE 'bench %'" >"$users"

for port in 5301 5302 5303 5304 5305; do
  tcp_open 127.0.0.1 "$port" && die "port $port is taken (a leftover run? pkill -f release/skillup-)"
done
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # name port
  PORT="$2" "$bin/$1" >>".run/bench/stream-$1-$2.log" 2>&1 &
  pids+=($!)
  wait_for_port 127.0.0.1 "$2" "$1"
}
start skillup-api 5301
start skillup-invalidator 5303
start skillup-realtime 5302
start skillup-realtime 5304

bench() { # name mode args...
  nice -n 10 node crates/skillup-realtime/tests/js/stream-bench.mjs --mode "$2" --api http://127.0.0.1:5301 \
    --users "$users" "${@:3}" | tail -n 1 >".run/bench/stream-$1.json"
  cat ".run/bench/stream-$1.json"
}
for mode in $MODES; do
  log "mode $mode"
  case "$mode" in
    e2e) for rate in $RATES; do
           bench "e2e-$rate" e2e --realtime http://127.0.0.1:5302 --invalidator http://127.0.0.1:5303 \
             --rate "$rate" --seconds "$BENCH_SECONDS"
         done ;;
    replay) bench replay replay --node-bin "$bin/skillup-realtime" --node-port 5305 --rate "$RATE" --outage-ms "$OUTAGE_MS" ;;
    logout) bench logout logout --realtime http://127.0.0.1:5302,http://127.0.0.1:5304 --sessions "$SESSIONS" ;;
    *) die "unknown mode $mode (e2e, replay, logout)" ;;
  esac
done

node -e '
const fs = require("fs");
const read = (m) => { try { return JSON.parse(fs.readFileSync(`.run/bench/stream-${m}.json`, "utf8")); } catch { return null; } };
const r = read("replay"), l = read("logout");
console.log("");
for (const rate of process.argv[1].split(" ")) {
  const e = read(`e2e-${rate}`);
  if (e) console.log(`e2e at ${rate} PUT/s asked: ${e.sockets} sockets, ${e.answered} PUTs answered in ${e.seconds.toFixed(1)} s (${Math.round(e.answered / e.seconds)}/s), ${e.failed} failed, ${e.missing} events missing; PUT answered → event p50 ${e.put_answered_to_event_ms.p50} ms, p99 ${e.put_answered_to_event_ms.p99} ms, max ${e.put_answered_to_event_ms.max} ms (sent → event p50 ${e.put_sent_to_event_ms.p50}, p99 ${e.put_sent_to_event_ms.p99} ms); server side: outbox record → applied p50 ${e.record_to_applied.p50}, p99 ${e.record_to_applied.p99}; PUT at → emitted p50 ${e.put_to_emitted.p50}, p99 ${e.put_to_emitted.p99}`);
}
if (r) console.log(`replay: ${r.sockets} sockets (${r.with_offset} with an offset), node killed for ${r.outage_ms} ms while ${r.events_missed} events were written for ${r.sockets_owed_events} of them; ${r.reconnected} reconnected, ${r.caught_up} caught up, ${r.resyncs} resyncs; restart → all caught up ${r.restart_to_all_caught_up_ms} ms (per socket p50 ${r.restart_to_caught_up_ms.p50} ms, p99 ${r.restart_to_caught_up_ms.p99} ms); Postgres queries by the restarted node: ${r.node_postgres_queries_after_restart}`);
if (l) console.log(`logout: ${l.sessions} sessions on ${l.nodes} nodes, ${l.ended} ended (${l.disconnected} disconnected, ${l.logouts_failed} logouts failed); logout sent → session:ended p50 ${l.logout_to_session_ended_ms.p50} ms, p99 ${l.logout_to_session_ended_ms.p99} ms, max ${l.logout_to_session_ended_ms.max} ms`);
' "$RATES"
