#!/usr/bin/env bash
# HTTP benchmark (not a test) for the cached course detail, measured side by side
# in one run with wrk (Debian's package), after a warm-up each, every target
# driven by the same wrk script (bench/skewed.lua: ids drawn skewed from 1,000
# published courses, 5 modules x 8 lessons each):
#   ours      GET /api/courses/{id} on skillup-api (release): near cache (L1) over Redis
#   limit     the same body from memory by a trivial actix-web server (examples/static_limit.rs)
#   peer      the Express peer's cached route (PEER_DIR, default
#             ../shared/peers/express, via its run.sh; same database, own key
#             prefix). When it is absent the run says so and measures the rest.
#   bypass    our API with Redis unreachable (X-Cache: BYPASS, Postgres only)
# at each of CONNS connections (default "64 256 1024"), DURATION seconds each (10);
# then the 95/5 read/write mix (examples/bench_mix.rs) on ours with the
# invalidator running, which counts stale reads.
# Prints requests/s, p50/p99/max, the ratios ours/limit and ours/peer, and the
# API's RSS under load; writes .run/bench/http.json (and .run/bench/http.png with
# --plot). Loopback only.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

PLOT=0
for arg in "$@"; do
  case "$arg" in
    --plot) PLOT=1 ;;
    *) die "unknown argument $arg (usage: scripts/bench-http.sh [--plot])" ;;
  esac
done

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/skillup_bench"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export JWT_SECRET="bench-secret"
CONNS="${CONNS:-64 256 1024}"; DURATION="${DURATION:-10}"
ensure_cargo; ensure_postgres; ensure_redis
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peers/express}"
if [ -x "$PEER_DIR/run.sh" ]; then
  have_peer=1
  ensure_node
else
  have_peer=""
  warn "no reference peer at $PEER_DIR (no run.sh): measuring ours, the limit and the bypass only; set PEER_DIR to compare"
fi
command -v wrk >/dev/null 2>&1 || apt_install wrk
ulimit -n 65536 2>/dev/null || true

log "building (release)"
cargo build --release -q -p skillup-api -p skillupctl -p skillup-invalidator --bins \
  --example static_limit --example bench_mix
bin="$TARGET_DIR/release"
mkdir -p .run/bench .run/logs
"$bin/skillupctl" db create >/dev/null
# 1,111 seeded courses, every tenth a draft: 1,000 published.
"$bin/skillupctl" db seed --courses 1111 >/dev/null
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
REDIS_KEY_PREFIX=bench-http: PORT=5205 RUST_LOG=warn "$bin/skillup-invalidator" >.run/logs/bench-invalidator.log 2>&1 &
pids+=($!)
wait_for_port 127.0.0.1 5201 skillup-api
wait_for_port 127.0.0.1 5204 "skillup-api (bypass)"
first=$(head -n 1 .run/bench/ids.txt)
curl -s "http://127.0.0.1:5201/api/courses/$first" > .run/bench/body.json
"$bin/examples/static_limit" .run/bench/body.json 5203 >.run/logs/bench-limit.log 2>&1 &
pids+=($!)
if [ -n "$have_peer" ]; then
  rm -rf .run/peer-express && mkdir -p .run/peer-express && cp -r "$PEER_DIR/." .run/peer-express/ && chmod -R u+w .run/peer-express
  bash -c 'cd .run/peer-express && PORT=5202 REDIS_KEY_PREFIX=bench-peer: NODE_ENV=production exec ./run.sh' >.run/logs/bench-peer.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do tcp_open 127.0.0.1 5202 && break; sleep 0.2; done
  wait_for_port 127.0.0.1 5202 "express peer"
fi
wait_for_port 127.0.0.1 5203 "limit server"
wait_for_port 127.0.0.1 5205 skillup-invalidator

export IDS_FILE="$ROOT/.run/bench/ids.txt"
SCRIPT=bench/skewed.lua
# wrk URL → "rps p50_ms p99_ms max_ms"
measure() {
  local c=$1 url=$2
  wrk -t2 -c"$c" -d"${DURATION}s" --latency -s "$SCRIPT" "$url" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^    Latency/ { max = ms($4) }
    /^     50%/ { p50 = ms($2) } /^     99%/ { p99 = ms($2) }
    /^Requests\/sec/ { rps = $2 }
    END { printf "%d %.2f %.2f %.2f\n", rps, p50, p99, max }'
}
warm() { wrk -t2 -c64 -d3s -s "$SCRIPT" "$1" >/dev/null; }
# The API's resident memory, sampled every 100 ms while it is under load; the
# largest sample is what the run reports.
rss_peak_file=.run/bench/rss-peak
echo 0 > "$rss_peak_file"
sample_rss() {
  local peak=0 now
  while kill -0 "$api" 2>/dev/null; do
    now=$(awk '/^VmRSS/ { print $2 }' "/proc/$api/status" 2>/dev/null || echo 0)
    if [ "${now:-0}" -gt "$peak" ]; then peak=$now; echo "$peak" > "$rss_peak_file"; fi
    sleep 0.1
  done
}

log "warming up (3 s each; fills the caches)"
for port in 5201 5203 ${have_peer:+5202} 5204; do warm "http://127.0.0.1:$port"; done

sample_rss & pids+=($!)
results="["
printf '\n| conns | target | requests/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n'
for c in $CONNS; do
  read -r o_rps o50 o99 omax < <(measure "$c" http://127.0.0.1:5201)
  read -r l_rps l50 l99 lmax < <(measure "$c" http://127.0.0.1:5203)
  if [ -n "$have_peer" ]; then
    read -r p_rps p50 p99 pmax < <(measure "$c" http://127.0.0.1:5202)
  fi
  read -r b_rps b50 b99 bmax < <(measure "$c" http://127.0.0.1:5204)
  printf '| %s | ours (cached) | %s | %s | %s | %s |\n' "$c" "$o_rps" "$o50" "$o99" "$omax"
  printf '| %s | limit (static actix) | %s | %s | %s | %s |\n' "$c" "$l_rps" "$l50" "$l99" "$lmax"
  if [ -n "$have_peer" ]; then
    printf '| %s | peer (express, cached) | %s | %s | %s | %s |\n' "$c" "$p_rps" "$p50" "$p99" "$pmax"
  else
    printf '| %s | peer (express, cached) | absent: not measured | | | |\n' "$c"
  fi
  printf '| %s | ours (cache bypassed) | %s | %s | %s | %s |\n' "$c" "$b_rps" "$b50" "$b99" "$bmax"
  ratio_l=$(awk -v a="$o_rps" -v b="$l_rps" 'BEGIN { printf "%.2f", a / b }')
  if [ -n "$have_peer" ]; then
    ratio_p=$(awk -v a="$o_rps" -v b="$p_rps" 'BEGIN { printf "%.2f", a / b }')
    peer_json="{\"rps\":$p_rps,\"p50_ms\":$p50,\"p99_ms\":$p99,\"max_ms\":$pmax}"
    shown_p=$ratio_p
  else
    ratio_p=null peer_json=null shown_p="n/a (no peer)"
  fi
  printf '| %s | ours/limit %s, ours/peer %s | | | | |\n' "$c" "$ratio_l" "$shown_p"
  results+="{\"conns\":$c,\"ours\":{\"rps\":$o_rps,\"p50_ms\":$o50,\"p99_ms\":$o99,\"max_ms\":$omax},\"limit\":{\"rps\":$l_rps,\"p50_ms\":$l50,\"p99_ms\":$l99,\"max_ms\":$lmax},\"peer\":$peer_json,\"bypass\":{\"rps\":$b_rps,\"p50_ms\":$b50,\"p99_ms\":$b99,\"max_ms\":$bmax},\"ours_over_limit\":$ratio_l,\"ours_over_peer\":$ratio_p},"
done

log "95/5 read/write mix on ours, 64 connections, ${DURATION} s, invalidator running"
mix=$("$bin/examples/bench_mix" http://127.0.0.1:5201 "$IDS_FILE" "$DURATION" 64 5)
echo "mix: $mix"
rss_mb=$(( $(cat "$rss_peak_file") / 1024 ))
l1=$(curl -s http://127.0.0.1:5201/metrics | awk '/^cache_l1_hits_total/ { l1 = $2 } /^cache_hits_total/ { h = $2 } END { printf "%d of %d hits", l1, h }')
echo "{\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"runs\":${results%,}],\"mix\":$mix,\"api_rss_peak_mb\":$rss_mb}" > .run/bench/http.json
printf '\nAPI RSS under load (peak): %d MB; L1 answered %s (results in .run/bench/http.json)\n' "$rss_mb" "$l1"
[ -n "$have_peer" ] || warn "the reference peer was absent ($PEER_DIR): its rows are not measured (\"peer\": null in http.json)"
stale=$(echo "$mix" | sed -n 's/.*"stale_reads":\([0-9]*\).*/\1/p')
[ "${stale:-1}" = 0 ] || warn "the mix observed $stale stale reads"

if [ "$PLOT" = 1 ]; then
  python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q matplotlib
  python3 bench/plot_http.py .run/bench/http.json .run/bench/http.png
  log "chart: .run/bench/http.png"
fi
