#!/usr/bin/env bash
# Opens redis-cli on REDIS_URL (default redis://127.0.0.1:6379); extra arguments go
# to redis-cli, e.g. `scripts/redis-cli.sh --scan --pattern 'skillup:course:*'`.
# For rediss:// URLs, redis-cli is started with --tls (set REDIS_CA_FILE for a CA).
set -euo pipefail
url="${REDIS_URL:-redis://127.0.0.1:6379}"
args=(-u "$url")
case "$url" in rediss://*) args+=(--tls); [ -n "${REDIS_CA_FILE:-}" ] && args+=(--cacert "$REDIS_CA_FILE") ;; esac
exec redis-cli "${args[@]}" "$@"
