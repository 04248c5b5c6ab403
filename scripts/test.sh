#!/usr/bin/env bash
# Runs the whole test suite against real Postgres and Redis, starting (or
# installing) them first the way scripts/dev.sh does, with Node.js, the npm
# packages of the realtime tests, Debian's Chromium and docker-compose (for
# scripts/check-compose.sh) installed when absent. (The TLS tests' CA is made
# in-process by the test kit, so openssl is not needed.) Each test makes its own
# database (skillup_test_*) and key prefix; leftovers of earlier runs are dropped.
# A local 3-node Redis Cluster (scripts/redis-cluster.sh, ports 7001-7003) serves
# the cluster tests (TEST_REDIS_CLUSTER_URL), and the cache crate's whole suite is
# run a second time with it as TEST_REDIS_URL; the cluster is stopped at the end
# unless it was already running.
#
#   scripts/test.sh                # everything
#   scripts/test.sh -p skillup-api # extra arguments go to cargo test
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export TEST_DATABASE_URL="$DATABASE_URL"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export TEST_REDIS_URL="$REDIS_URL"
ensure_cargo
ensure_postgres
ensure_redis
command -v redis-server >/dev/null 2>&1 || apt_install redis-server   # outage tests run a private one
ensure_web_deps                                            # the demo page's socket.io-client, built in
ensure_npm_deps "$ROOT/crates/skillup-realtime/tests/js"   # real clients: socket.io-client, playwright-core
ensure_npm_deps "$ROOT/crates/skillup-api/tests/js"        # playwright-core over Swagger UI
ensure_chromium

if command -v psql >/dev/null 2>&1; then
  stale=$(psql "$DATABASE_URL" -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'skillup\_test\_%'" || true)
  for db in $stale; do psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true; done
fi

cluster_was_running=""
"$ROOT/scripts/redis-cluster.sh" status && cluster_was_running=1
TEST_REDIS_CLUSTER_URL=$("$ROOT/scripts/redis-cluster.sh" start)
export TEST_REDIS_CLUSTER_URL
[ -n "$cluster_was_running" ] || trap '"$ROOT/scripts/redis-cluster.sh" stop' EXIT

log "deploy files: docker compose"
"$ROOT/scripts/check-compose.sh"   # deploy/railway/*.json: each service crate's deploy.rs

log "cargo test"
cargo test --workspace "$@"

# The cache crate once more, every test on the cluster (tests that need a single
# server of their own, for outages or TLS, still start one).
if [ "$#" -eq 0 ] || [[ " $* " == *" skillup-cache "* ]]; then
  log "cargo test --workspace --test cache (the cache crate) on the Redis Cluster ($TEST_REDIS_CLUSTER_URL)"
  # --workspace keeps the workspace's feature set: `-p` alone would rebuild
  # dependencies with the package's own features.
  TEST_REDIS_URL="$TEST_REDIS_CLUSTER_URL" cargo test --workspace --test cache
fi
