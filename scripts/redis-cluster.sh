#!/usr/bin/env bash
# A local 3-primary Redis Cluster for development and tests: redis-server
# --cluster-enabled yes on loopback, no replicas, no persistence, files under
# .run/redis-cluster/<port>. Each node also uses port+10000 (the cluster bus).
# It is the project's one cluster fixture: the test kit's RedisCluster runs it
# too (with `run`, on free ports and a temp dir of its own).
#
#   scripts/redis-cluster.sh start   # start (or find running) and print the URL
#   scripts/redis-cluster.sh url     # print the URL REDIS_URL / TEST_REDIS_URL take
#   scripts/redis-cluster.sh stop    # stop the nodes and remove their files
#   scripts/redis-cluster.sh status  # exit 0 if every node says cluster_state:ok
#   scripts/redis-cluster.sh run     # start a new cluster, print the URL, keep it
#                                    # until stdin closes (or a signal), then stop
#
# REDIS_CLUSTER_PORTS (default "7001 7002 7003") picks the ports, REDIS_CLUSTER_DIR
# (default .run/redis-cluster) where the nodes' files go. The URL is fred's
# cluster form: redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=...
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

read -r -a ports <<<"${REDIS_CLUSTER_PORTS:-7001 7002 7003}"
[ "${#ports[@]}" -ge 3 ] || die "REDIS_CLUSTER_PORTS needs at least 3 ports (a cluster needs 3 primaries)"
dir="${REDIS_CLUSTER_DIR:-$ROOT/.run/redis-cluster}"

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
    || { cat "$dir/create.log" >&2; die "redis-cli --cluster create failed; see $dir/create.log"; }
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
  local port pid state
  for port in "${ports[@]}"; do
    [ -f "$dir/$port/redis.pid" ] || continue
    pid=$(cat "$dir/$port/redis.pid")
    # Only a redis-server: a stale pid file may name a reused pid.
    [ "$(ps -p "$pid" -o comm= 2>/dev/null || true)" = redis-server ] || continue
    kill "$pid"
    # Gone, or a zombie (a daemon's parent may reap it late): it serves no more.
    for _ in $(seq 1 50); do
      state=$(ps -p "$pid" -o stat= 2>/dev/null || true)
      { [ -z "$state" ] || [[ "$state" == Z* ]]; } && break
      sleep 0.1
    done
  done
  rm -rf "$dir"
  log "Redis Cluster stopped"
}

# A cluster that lives as long as whoever holds our stdin: the test kit keeps the
# pipe open while its test binary runs, and the kernel closes it when that process
# ends, however it ends. The nodes are daemons, so they are stopped here.
run() {
  local port
  for port in "${ports[@]}"; do
    tcp_open 127.0.0.1 "$port" && die "port $port is taken: run starts a cluster of its own"
  done
  trap stop EXIT
  trap 'exit 1' INT TERM HUP
  start
  cat >/dev/null
}

case "${1:-}" in
  start) start ;;
  run) run ;;
  stop) stop ;;
  url) cluster_url ;;
  status) all_ok ;;
  *) die "usage: $0 start|stop|url|status|run" ;;
esac
