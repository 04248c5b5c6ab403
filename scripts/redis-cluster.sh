#!/usr/bin/env bash
# A local 3-primary Redis Cluster for development and tests: redis-server
# --cluster-enabled yes on loopback, no replicas, no persistence, files under
# .run/redis-cluster/<port>. Each node also uses port+10000 (the cluster bus).
#
#   scripts/redis-cluster.sh start   # start (or find running) and print the URL
#   scripts/redis-cluster.sh url     # print the URL REDIS_URL / TEST_REDIS_URL take
#   scripts/redis-cluster.sh stop    # stop the nodes and remove their files
#   scripts/redis-cluster.sh status  # exit 0 if every node says cluster_state:ok
#
# REDIS_CLUSTER_PORTS (default "7001 7002 7003") picks the ports. The URL is
# fred's cluster form: redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=...
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

read -r -a ports <<<"${REDIS_CLUSTER_PORTS:-7001 7002 7003}"
[ "${#ports[@]}" -ge 3 ] || die "REDIS_CLUSTER_PORTS needs at least 3 ports (a cluster needs 3 primaries)"
dir="$ROOT/.run/redis-cluster"

cluster_url() {
  local url="redis-cluster://127.0.0.1:${ports[0]}" sep="?" port
  for port in "${ports[@]:1}"; do
    url+="${sep}node=127.0.0.1:$port"
    sep="&"
  done
  echo "$url"
}

state_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

all_ok() {
  local port
  for port in "${ports[@]}"; do state_ok "$port" || return 1; done
}

start() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  if all_ok; then
    log "Redis Cluster already running on ${ports[*]}"
    cluster_url
    return 0
  fi
  local port
  for port in "${ports[@]}"; do
    tcp_open 127.0.0.1 "$port" && die "port $port is taken by something that is not a ready cluster node; stop it, or run '$0 stop', or set REDIS_CLUSTER_PORTS"
  done
  rm -rf "$dir"
  for port in "${ports[@]}"; do
    mkdir -p "$dir/$port"
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --save '' --appendonly no --dir "$dir/$port" \
      --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
  done
  local nodes=()
  for port in "${ports[@]}"; do
    wait_for_port 127.0.0.1 "$port" "redis-server (cluster node)"
    nodes+=("127.0.0.1:$port")
  done
  log "creating the cluster: ${nodes[*]}"
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 \
    || die "redis-cli --cluster create failed; see $dir/create.log"
  local i
  for i in $(seq 1 300); do
    all_ok && break
    [ "$i" -eq 300 ] && die "the cluster never reached cluster_state:ok; see $dir/*/redis.log"
    sleep 0.1
  done
  log "Redis Cluster ready on ${ports[*]}"
  cluster_url
}

stop() {
  local port pid
  for port in "${ports[@]}"; do
    [ -f "$dir/$port/redis.pid" ] || continue
    pid=$(cat "$dir/$port/redis.pid")
    # Only a redis-server: a stale pid file may name a reused pid.
    [ "$(ps -p "$pid" -o comm= 2>/dev/null || true)" = redis-server ] || continue
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
  rm -rf "$dir"
  log "Redis Cluster stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) cluster_url ;;
  status) all_ok ;;
  *) die "usage: $0 start|stop|url|status" ;;
esac
