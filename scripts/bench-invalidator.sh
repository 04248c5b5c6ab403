#!/usr/bin/env bash
# The invalidator benchmark: commit-to-fresh-read latency over 1,000 updates and the
# drain throughput of a 100,000-record backlog (optimised build). Prints figures;
# asserts nothing. BENCH_UPDATES and BENCH_BACKLOG scale it.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL"
ensure_cargo
ensure_postgres
ensure_redis
RUST_LOG="${RUST_LOG:-warn}" cargo bench -p skillup-invalidator --bench invalidation
