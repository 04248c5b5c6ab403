#!/usr/bin/env bash
# Near cache on a Redis Cluster (not a test), in one run, loopback only: a release
# API serving one cached course detail (wrk -t2 -c64, DURATION s per round),
#   - on the single Redis (REDIS_URL, default 127.0.0.1:6379), L1 on;
#   - on a local 3-primary cluster (scripts/redis-cluster.sh, ports 7001-7003), L1 on;
#   - on the same cluster with L1 off (CACHE_L1_MB=0), which is what a cluster
#     got before per-primary tracking.
# The three run as alternating rounds (ROUNDS, default 3) and the medians are
# compared, since this machine drifts by more than some of the gaps. Prints the
# table, the cluster/single ratio and the L1 hits of each; writes
# .run/bench/cluster.json.
#   DURATION=5 ROUNDS=3 scripts/bench-cluster.sh
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/skillup_bench"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
SINGLE_URL="$REDIS_URL"
export JWT_SECRET="bench-secret"
DURATION="${DURATION:-5}"; ROUNDS="${ROUNDS:-3}"
ensure_cargo; ensure_postgres; ensure_redis
command -v wrk >/dev/null 2>&1 || apt_install wrk
ulimit -n 65536 2>/dev/null || true

release_seeded 100
id=$(psql "$DATABASE_URL" -tAc "SELECT id FROM courses WHERE published ORDER BY created_at DESC LIMIT 1")

cluster_was_running=""
scripts/redis-cluster.sh status && cluster_was_running=1
CLUSTER_URL=$(scripts/redis-cluster.sh start)
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  [ -n "$cluster_was_running" ] || scripts/redis-cluster.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# One round: start the API on (url, L1 MB), warm the entry, wrk; prints
# "requests/s l1_hits".
round() {
  REDIS_URL=$1 CACHE_L1_MB=$2 REDIS_KEY_PREFIX=bench-cluster: PORT=5241 RUST_LOG=warn \
    "$bin/skillup-api" >>.run/logs/bench-cluster.log 2>&1 &
  pid=$!
  wait_for_port 127.0.0.1 5241 skillup-api
  local url="http://127.0.0.1:5241/api/courses/$id"
  for _ in 1 2 3; do curl -s -o /dev/null "$url"; done
  sleep 0.5   # L1 turns on once the heartbeat proved tracking (every 100 ms)
  wrk -t2 -c64 -d1s "$url" >/dev/null
  local rps hits
  rps=$(wrk -t2 -c64 -d"${DURATION}s" "$url" | awk '/^Requests\/sec/ { printf "%d", $2 }')
  hits=$(curl -s http://127.0.0.1:5241/metrics | awk '/^cache_l1_hits_total / { v = $2 } END { printf "%d", v + 0 }')
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "$rps $hits"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

singles=() clusters=() offs=() single_hits=0 cluster_hits=0 off_hits=0
for r in $(seq "$ROUNDS"); do
  log "round $r/$ROUNDS"
  read -r rps hits < <(round "$SINGLE_URL" 16); singles+=("$rps"); single_hits=$hits
  read -r rps hits < <(round "$CLUSTER_URL" 16); clusters+=("$rps"); cluster_hits=$hits
  read -r rps hits < <(round "$CLUSTER_URL" 0); offs+=("$rps"); off_hits=$hits
done
single=$(median "${singles[@]}"); cluster=$(median "${clusters[@]}"); off=$(median "${offs[@]}")
ratio=$(awk -v a="$cluster" -v b="$single" 'BEGIN { printf "%.2f", a / b }')
off_ratio=$(awk -v a="$off" -v b="$single" 'BEGIN { printf "%.2f", a / b }')

printf '\n%-34s %10s %10s %10s\n' "cached course detail (wrk -c64)" "req/s" "vs single" "L1 hits"
printf '%-34s %10d %10s %10d\n' "single Redis, L1 on" "$single" "1.00" "$single_hits"
printf '%-34s %10d %10s %10d\n' "3-primary cluster, L1 on" "$cluster" "$ratio" "$cluster_hits"
printf '%-34s %10d %10s %10d\n' "3-primary cluster, L1 off" "$off" "$off_ratio" "$off_hits"
printf '(medians of %d alternating rounds of %d s; last round'"'"'s L1 hits)\n' "$ROUNDS" "$DURATION"

cat > .run/bench/cluster.json <<EOF
{"date": "$(date -u +%F)", "duration_s": $DURATION, "rounds": $ROUNDS,
 "single_rps": $single, "cluster_rps": $cluster, "cluster_l1_off_rps": $off,
 "cluster_vs_single": $ratio, "cluster_l1_off_vs_single": $off_ratio,
 "l1_hits": {"single": $single_hits, "cluster": $cluster_hits, "cluster_l1_off": $off_hits}}
EOF
