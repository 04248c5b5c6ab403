#!/usr/bin/env bash
# Socket.IO delivery benchmark: our skillup-realtime node and the reference peer
# (PEER_DIR, default ../shared/peers/express, run from a copy under .run/; when
# it is absent the run says so and measures ours alone) measured in one run with
# the same load tool (crates/skillup-realtime/tests/js/socket-bench.mjs, official
# socket.io-client): SOCKETS clients in user rooms, RATE progress events/s for
# BENCH_SECONDS, then delivery, latency, RSS per socket and CPU. Loopback only.
#
#   scripts/bench-realtime.sh                 # 10,000 sockets at 10,000 events/s for 10 s
#   SOCKETS=2000 RATE=20000 scripts/bench-realtime.sh
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/skillup}"
export JWT_SECRET="${JWT_SECRET:-bench-secret}"
SOCKETS="${SOCKETS:-10000}"; RATE="${RATE:-10000}"; BENCH_SECONDS="${BENCH_SECONDS:-10}"
ensure_cargo; ensure_postgres; ensure_redis; ensure_node
ensure_npm_deps "$ROOT/crates/skillup-realtime/tests/js"
ensure_web_deps   # skillup-realtime embeds the demo page's client
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peers/express}"
have_peer=1
if [ ! -x "$PEER_DIR/run.sh" ]; then
  have_peer=""
  warn "no reference peer at $PEER_DIR (no run.sh): measuring ours only; set PEER_DIR to compare"
fi

log "building skillup-realtime (release)"
cargo build --release --bins   # the feature set scripts/chaos.sh builds: one set of release artifacts
"$TARGET_DIR/release/skillupctl" db create >/dev/null
"$TARGET_DIR/release/skillupctl" db migrate >/dev/null

mkdir -p .run/bench
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
run_bench() { # label url pid prefix [--stream epoch:last]
  node crates/skillup-realtime/tests/js/socket-bench.mjs --label "$1" --url "$2" --pid "$3" --prefix "$4" "${@:5}" \
    --sockets "$SOCKETS" --rate "$RATE" --seconds "$BENCH_SECONDS" --redis "127.0.0.1:$(url_port "$REDIS_URL" 6379)" \
    | tail -n 1 > ".run/bench/realtime-$1.json"
  cat ".run/bench/realtime-$1.json"
}

log "ours: skillup-realtime on :5101"
REDIS_KEY_PREFIX=bench-rt: PORT=5101 RUST_LOG=warn "$TARGET_DIR/release/skillup-realtime" &
pids+=($!); ours=$!
wait_for_port 127.0.0.1 5101 skillup-realtime
# Numbered events, as the invalidator publishes them: the node orders and keeps
# each one for replay (the peer ignores the field).
stream=$(psql "$DATABASE_URL" -XqAt -c "SELECT epoch || ':' || last_seq FROM realtime_sequence")
run_bench skillup-realtime http://127.0.0.1:5101 "$ours" bench-rt: --stream "$stream"
kill "$ours"; wait "$ours" 2>/dev/null || true

results=(.run/bench/realtime-skillup-realtime.json)
if [ -n "$have_peer" ]; then
  log "peer: express + socket.io on :5102 (copied to .run/peer-express)"
  rm -rf .run/peer-express && mkdir -p .run/peer-express
  cp -r "$PEER_DIR/." .run/peer-express/
  chmod -R u+w .run/peer-express
  bash -c 'cd .run/peer-express && PORT=5102 REDIS_KEY_PREFIX=bench-peer: exec ./run.sh' >.run/bench/peer.log 2>&1 &
  pids+=($!); peer=$!
  for _ in $(seq 1 600); do tcp_open 127.0.0.1 5102 && break; sleep 0.2; done
  wait_for_port 127.0.0.1 5102 "express peer"
  run_bench express-peer http://127.0.0.1:5102 "$peer" bench-peer:
  kill "$peer"; wait "$peer" 2>/dev/null || true
  results+=(.run/bench/realtime-express-peer.json)
fi

node -e '
const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
const row = (r) => [r.label, r.connections_held, r.events_sent, r.events_delivered, r.events_lost, r.delivered_per_s,
  r.latency_ms.p50, r.latency_ms.p95, r.latency_ms.p99, r.latency_ms.max, r.server_rss_per_socket_kb, r.server_cpu_percent_of_a_core].join(" | ");
console.log("\n| node | sockets | sent | delivered | lost | delivered/s | p50 ms | p95 ms | p99 ms | max ms | RSS KB/socket | CPU % of a core |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
console.log("| " + row(a) + " |");
if (!b) {
  console.log("| express-peer | absent: not measured | | | | | | | | | | |");
  console.log("\nno ours/peer ratios: the reference peer was absent");
  process.exit(0);
}
console.log("| " + row(b) + " |");
console.log(`\np99 ours/peer: ${(a.latency_ms.p99 / b.latency_ms.p99).toFixed(2)}  CPU ours/peer: ${(a.server_cpu_percent_of_a_core / b.server_cpu_percent_of_a_core).toFixed(2)}  RSS/socket ours/peer: ${(a.server_rss_per_socket_kb / b.server_rss_per_socket_kb).toFixed(2)}`);
' "${results[@]}"
[ -n "$have_peer" ] || warn "the reference peer was absent ($PEER_DIR): only ours was measured"

