#!/usr/bin/env bash
# HTTP benchmark (not a test) for the cached course detail, measured side by side
# in one run with wrk (Debian's package), after a warm-up each:
#   ours      GET /api/courses/{id} on skillup-api (release), ids drawn skewed from
#             1,000+ published courses (bench/skewed.lua), every read a cache hit
#   limit     the same body from memory by a trivial actix-web server (examples/static_limit.rs)
#   peer      the Express peer's cached route (../shared/peers/express via its run.sh,
#             same database, own key prefix)
#   bypass    our API with Redis unreachable (X-Cache: BYPASS, Postgres only)
# at each of CONNS connections (default "64 256 1024"), DURATION seconds each (10).
# Prints requests/s, p50/p99/max and the ratios ours/limit and ours/peer, and the
# API's RSS; writes .run/bench/http.json. Loopback only.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/skillup_bench"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export JWT_SECRET="bench-secret"
CONNS="${CONNS:-64 256 1024}"; DURATION="${DURATION:-10}"
ensure_cargo; ensure_postgres; ensure_redis; ensure_node
command -v wrk >/dev/null 2>&1 || apt_install wrk
ulimit -n 65536 2>/dev/null || true

log "building (release)"
cargo build --release -q -p skillup-api -p skillupctl --bins --example static_limit
bin="$TARGET_DIR/release"
mkdir -p .run/bench .run/logs
"$bin/skillupctl" db create >/dev/null
"$bin/skillupctl" db seed --courses 1112 >/dev/null
psql "$DATABASE_URL" -tAc "SELECT id FROM courses WHERE published ORDER BY created_at DESC" > .run/bench/ids.txt
log "$(wc -l < .run/bench/ids.txt) published courses"
REDIS_KEY_PREFIX=bench-http: "$bin/skillupctl" cache clear >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
REDIS_KEY_PREFIX=bench-http: PORT=5201 RUST_LOG=warn "$bin/skillup-api" >.run/logs/bench-api.log 2>&1 &
api=$!; pids+=($api)
REDIS_URL="redis://127.0.0.1:$(( $(url_port "$REDIS_URL" 6379) + 1 ))" REDIS_KEY_PREFIX=bench-bypass: PORT=5204 RUST_LOG=error \
  "$bin/skillup-api" >.run/logs/bench-bypass.log 2>&1 &
pids+=($!)
wait_for_port 127.0.0.1 5201 skillup-api
wait_for_port 127.0.0.1 5204 "skillup-api (bypass)"
first=$(head -n 1 .run/bench/ids.txt)
curl -s "http://127.0.0.1:5201/api/courses/$first" > .run/bench/body.json
"$bin/examples/static_limit" .run/bench/body.json 5203 >.run/logs/bench-limit.log 2>&1 &
pids+=($!)
rm -rf .run/peer-express && mkdir -p .run/peer-express && cp -r "$ROOT/../shared/peers/express/." .run/peer-express/ && chmod -R u+w .run/peer-express
bash -c 'cd .run/peer-express && PORT=5202 REDIS_KEY_PREFIX=bench-peer: NODE_ENV=production exec ./run.sh' >.run/logs/bench-peer.log 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do tcp_open 127.0.0.1 5202 && break; sleep 0.2; done
wait_for_port 127.0.0.1 5203 "limit server"
wait_for_port 127.0.0.1 5202 "express peer"

export IDS_FILE="$ROOT/.run/bench/ids.txt"
# wrk URL [script] → "rps p50_ms p99_ms max_ms"
measure() {
  local c=$1 url=$2 script=${3:-}
  local args=(-t2 -c"$c" -d"${DURATION}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$url" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^    Latency/ { max = ms($4) }
    /^     50%/ { p50 = ms($2) } /^     99%/ { p99 = ms($2) }
    /^Requests\/sec/ { rps = $2 }
    END { printf "%d %.2f %.2f %.2f\n", rps, p50, p99, max }'
}
warm() { wrk -t2 -c64 -d3s ${2:+-s "$2"} "$1" >/dev/null; }

log "warming up (3 s each; fills the cache on both APIs)"
warm http://127.0.0.1:5201 bench/skewed.lua; warm http://127.0.0.1:5203/; warm http://127.0.0.1:5202 bench/skewed.lua
warm http://127.0.0.1:5204 bench/skewed.lua

results="["
printf '\n| conns | target | requests/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n'
for c in $CONNS; do
  read -r o_rps o50 o99 omax < <(measure "$c" http://127.0.0.1:5201 bench/skewed.lua)
  read -r l_rps l50 l99 lmax < <(measure "$c" http://127.0.0.1:5203/)
  read -r p_rps p50 p99 pmax < <(measure "$c" http://127.0.0.1:5202 bench/skewed.lua)
  read -r b_rps b50 b99 bmax < <(measure "$c" http://127.0.0.1:5204 bench/skewed.lua)
  printf '| %s | ours (cached) | %s | %s | %s | %s |\n' "$c" "$o_rps" "$o50" "$o99" "$omax"
  printf '| %s | limit (static actix) | %s | %s | %s | %s |\n' "$c" "$l_rps" "$l50" "$l99" "$lmax"
  printf '| %s | peer (express, cached) | %s | %s | %s | %s |\n' "$c" "$p_rps" "$p50" "$p99" "$pmax"
  printf '| %s | ours (cache bypassed) | %s | %s | %s | %s |\n' "$c" "$b_rps" "$b50" "$b99" "$bmax"
  ratio_l=$(awk -v a="$o_rps" -v b="$l_rps" 'BEGIN { printf "%.2f", a / b }')
  ratio_p=$(awk -v a="$o_rps" -v b="$p_rps" 'BEGIN { printf "%.2f", a / b }')
  printf '| %s | ours/limit %s, ours/peer %s | | | | |\n' "$c" "$ratio_l" "$ratio_p"
  results+="{\"conns\":$c,\"ours\":{\"rps\":$o_rps,\"p50_ms\":$o50,\"p99_ms\":$o99,\"max_ms\":$omax},\"limit\":{\"rps\":$l_rps,\"p50_ms\":$l50,\"p99_ms\":$l99,\"max_ms\":$lmax},\"peer\":{\"rps\":$p_rps,\"p50_ms\":$p50,\"p99_ms\":$p99,\"max_ms\":$pmax},\"bypass\":{\"rps\":$b_rps,\"p50_ms\":$b50,\"p99_ms\":$b99,\"max_ms\":$bmax},\"ours_over_limit\":$ratio_l,\"ours_over_peer\":$ratio_p},"
done
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$api/status")
echo "${results%,}]" > .run/bench/http.json
printf '\nAPI RSS after the runs: %d MB (results in .run/bench/http.json)\n' "$((rss_kb / 1024))"
