#!/usr/bin/env bash
# Where the cached course route spends the API's CPU: runs the release API on the
# benchmark database (run scripts/bench-http.sh once first), drives it with wrk
# (bench/skewed.lua, 64 connections) and samples it with perf (Debian's
# linux-perf; software clock, which works where hardware counters do not).
# Prints the top symbols; .run/prof/perf.data stays for `perf report`.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"
command -v perf >/dev/null 2>&1 || apt_install linux-perf
command -v wrk >/dev/null 2>&1 || apt_install wrk
[ -s .run/bench/ids.txt ] || die "run scripts/bench-http.sh first (it seeds skillup_bench)"
cargo build --release -q -p skillup-api --bins
mkdir -p .run/prof
DATABASE_URL=postgres://postgres@127.0.0.1:5432/skillup_bench JWT_SECRET=bench-secret \
  REDIS_KEY_PREFIX=bench-prof: PORT=5211 RUST_LOG=warn "$TARGET_DIR/release/skillup-api" >.run/prof/api.log 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true' EXIT
wait_for_port 127.0.0.1 5211 skillup-api
export IDS_FILE="$ROOT/.run/bench/ids.txt"
wrk -t2 -c64 -d3s -s bench/skewed.lua http://127.0.0.1:5211 >/dev/null
perf record -e cpu-clock -F 1999 -g -p "$api" -o .run/prof/perf.data -- sleep 8 >/dev/null 2>&1 &
rec=$!
wrk -t2 -c64 -d8s -s bench/skewed.lua http://127.0.0.1:5211 | grep Requests/sec
wait $rec || true
perf report -i .run/prof/perf.data --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
  | grep -v '^#' | grep '%' | sed 's/  */ /g' | cut -c1-110 | head -"${TOP:-30}"
