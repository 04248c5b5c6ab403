#!/usr/bin/env bash
# Opens redis-cli on REDIS_URL (default redis://127.0.0.1:6379); extra arguments go
# to redis-cli, e.g. `scripts/redis-cli.sh --scan --pattern 'skillup:course:*'`.
# For rediss:// URLs, redis-cli is started with --tls (REDIS_TLS_CA_FILE, or
# REDIS_CA_FILE, names a CA). A cluster URL (redis-cluster://, rediss-cluster://)
# opens its first node in cluster mode (-c: redirections are followed); the
# ?node=... seeds are the services' and are dropped. Note that --scan there
# lists the keys of that one node only.
set -euo pipefail
url="${REDIS_URL:-redis://127.0.0.1:6379}"
args=()
case "$url" in
  redis-cluster://* | rediss-cluster://*)
    url="${url/-cluster:\/\//://}"
    url="${url%%\?*}"
    args+=(-c)
    ;;
esac
args+=(-u "$url")
ca="${REDIS_TLS_CA_FILE:-${REDIS_CA_FILE:-}}"
case "$url" in rediss://*) args+=(--tls); [ -n "$ca" ] && args+=(--cacert "$ca") ;; esac
exec redis-cli "${args[@]}" "$@"
