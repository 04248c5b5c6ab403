#!/usr/bin/env bash
# Cache resilience benchmark (not a test), in one run, loopback only:
#   1. 304 vs 200: wrk on one cached course detail, with and without the
#      `If-None-Match` of its current ETag (64 connections, three alternating
#      rounds of DURATION s each, medians compared).
#   2. Cold start across replicas: two API processes (release) on one Redis
#      prefix and one database, the cache emptied, then wrk (2 threads x 32
#      connections on each, bench/sequential.lua: every one of 1,000 ids in
#      order, from the first) against both at once for DURATION s. Reports the
#      Postgres loads both made (`cache_loads_total`, summed) per distinct key,
#      for each CACHE_LEASE_MS of LEASES (default "0 1000 3000"; 0 = leases off:
#      each process loads a key on its own, the behaviour before leases).
# Writes .run/bench/cache.json.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/skillup_bench"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export JWT_SECRET="bench-secret"
DURATION="${DURATION:-10}"; LEASES="${LEASES:-0 1000 3000}"; PARTS="${PARTS:-validators cold}"
ensure_cargo; ensure_postgres; ensure_redis
command -v wrk >/dev/null 2>&1 || apt_install wrk
ulimit -n 65536 2>/dev/null || true

# 1,111 seeded courses, every tenth a draft: 1,000 published.
release_seeded 1111
psql "$DATABASE_URL" -tAc "SELECT id FROM courses WHERE published ORDER BY created_at DESC" > .run/bench/ids.txt
export IDS_FILE="$ROOT/.run/bench/ids.txt"
keys=$(wc -l < "$IDS_FILE")

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start_api() { # port lease_ms
  REDIS_KEY_PREFIX=bench-cache: PORT=$1 CACHE_LEASE_MS=$2 RUST_LOG=warn "$bin/skillup-api" >>".run/logs/bench-cache-$1.log" 2>&1 &
  pids+=($!)
  wait_for_port 127.0.0.1 "$1" "skillup-api :$1"
}
stop_apis() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; pids=(); }
loads() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^cache_loads_total / { v = $2 } END { print v + 0 }'; }
rps() { awk '/^Requests\/sec/ { printf "%d", $2 }'; }

# ---- 1. 304 vs 200 ------------------------------------------------------------------
ok=null not_modified=null cold_json=""
if [[ " $PARTS " == *" validators "* ]]; then
start_api 5211 1000
id=$(head -n 1 "$IDS_FILE")
url="http://127.0.0.1:5211/api/courses/$id"
curl -s -o /dev/null "$url"
tag=$(curl -s -D - -o /dev/null "$url" | awk -F': ' 'tolower($1) == "etag" { sub(/\r$/, "", $2); print $2 }')
[ -n "$tag" ] || die "no ETag on $url"
wrk -t2 -c64 -d2s "$url" >/dev/null
# Alternating rounds, the median of each: this machine drifts by more than the
# difference being measured.
oks=() nms=()
for _ in 1 2 3; do
  oks+=("$(wrk -t2 -c64 -d"${DURATION}s" "$url" | rps)")
  nms+=("$(wrk -t2 -c64 -d"${DURATION}s" -H "If-None-Match: $tag" "$url" | rps)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
ok=$(median "${oks[@]}"); not_modified=$(median "${nms[@]}")
echo "rounds: 200 ${oks[*]}; 304 ${nms[*]}"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $tag" "$url")
[ "$status" = 304 ] || die "If-None-Match answered $status, not 304"
ratio=$(awk -v a="$not_modified" -v b="$ok" 'BEGIN { printf "%.2f", a / b }')
printf '\n| one cached course detail, 64 connections | requests/s |\n|---|---|\n| 200 (body ~5 KB) | %s |\n| 304 (If-None-Match) | %s |\n| 304 / 200 | %s |\n' "$ok" "$not_modified" "$ratio"
stop_apis
fi

# ---- 2. cold start, two replicas ----------------------------------------------------
cold() { # lease_ms → "loads requests"
  REDIS_KEY_PREFIX=bench-cache: "$bin/skillupctl" cache clear >/dev/null
  start_api 5212 "$1"; start_api 5213 "$1"
  local before=$(( $(loads 5212) + $(loads 5213) ))
  wrk -t2 -c32 -d"${DURATION}s" -s bench/sequential.lua http://127.0.0.1:5212 > .run/bench/cold-a.txt &
  local a=$!
  wrk -t2 -c32 -d"${DURATION}s" -s bench/sequential.lua http://127.0.0.1:5213 > .run/bench/cold-b.txt
  wait "$a"
  local after=$(( $(loads 5212) + $(loads 5213) ))
  local requests=$(( $(rps < .run/bench/cold-a.txt) + $(rps < .run/bench/cold-b.txt) ))
  stop_apis
  echo "$(( after - before )) $requests"
}
if [[ " $PARTS " == *" cold "* ]]; then
  printf '\n| cold start, 2 API processes x %s keys | Postgres loads | loads per key | requests/s (both) |\n|---|---|---|---|\n' "$keys"
  for lease in $LEASES; do
    read -r n r < <(cold "$lease")
    label="CACHE_LEASE_MS=$lease"; [ "$lease" = 0 ] && label="leases off (CACHE_LEASE_MS=0, as before)"
    printf '| %s | %s | %s | %s |\n' "$label" "$n" "$(awk -v a="$n" -v k="$keys" 'BEGIN { printf "%.2f", a / k }')" "$r"
    cold_json+="{\"lease_ms\":$lease,\"loads\":$n,\"rps\":$r},"
  done
fi
echo "{\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"ok_rps\":$ok,\"not_modified_rps\":$not_modified,\"keys\":$keys,\"cold\":[${cold_json%,}]}" > .run/bench/cache.json
log "results in .run/bench/cache.json"
