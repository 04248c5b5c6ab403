# Shared by scripts/*.sh: defaults, logging, and making sure Postgres and Redis run.
# Source it; it does nothing on its own.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Where cargo puts binaries (honours CARGO_TARGET_DIR).
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The spec's defaults, unless the caller set them.
export_defaults() {
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/skillup}"
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
  export REDIS_KEY_PREFIX="${REDIS_KEY_PREFIX:-skillup:}"
  if [ -z "${JWT_SECRET:-}" ]; then
    export JWT_SECRET="skillup-dev-secret-change-me"
    warn "JWT_SECRET not set; using the development secret \"$JWT_SECRET\" (never in production)"
  fi
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (install sudo or run as root)"
  fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $*: no apt-get (install it by hand)"
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# tcp_open HOST PORT: is something listening?
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") >/dev/null 2>&1; }

wait_for_port() {
  local host=$1 port=$2 what=$3 i
  for i in $(seq 1 100); do
    tcp_open "$host" "$port" && return 0
    sleep 0.1
  done
  die "$what did not open $host:$port"
}

# host and port of a URL like scheme://user:pass@host:port/db
url_host() { local rest=${1#*://}; rest=${rest##*@}; rest=${rest%%/*}; rest=${rest%%\?*}; echo "${rest%:*}"; }
url_port() { local rest=${1#*://}; rest=${rest##*@}; rest=${rest%%/*}; rest=${rest%%\?*}; [ "${rest##*:}" != "$rest" ] && echo "${rest##*:}" || echo "$2"; }
is_local() { case "$1" in 127.0.0.1|localhost|::1|\[::1\]) return 0 ;; *) return 1 ;; esac; }

# Postgres on DATABASE_URL: when it is local and not answering, start the installed
# cluster, or install Debian's postgresql first. A cluster this script installs gets
# trust auth on loopback (a development machine's setting) so the default URL works.
ensure_postgres() {
  local host port
  host=$(url_host "$DATABASE_URL"); port=$(url_port "$DATABASE_URL" 5432)
  if tcp_open "$host" "$port"; then return 0; fi
  is_local "$host" || die "Postgres at $host:$port is not reachable (DATABASE_URL); start it or fix the URL"
  local fresh=""
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "Postgres is not installed: installing Debian's postgresql"
    apt_install postgresql
    fresh=1
  fi
  local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -n "$fresh" ]; then
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    log "allowing passwordless loopback connections in $hba (development setting)"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  log "starting Postgres $version (cluster main)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for_port "$host" "$port" "Postgres"
}

# Redis on REDIS_URL: when it is local and not answering, start redis-server
# (installing Debian's redis-server first if needed), keeping nothing on disk.
ensure_redis() {
  local host port
  host=$(url_host "$REDIS_URL"); port=$(url_port "$REDIS_URL" 6379)
  if tcp_open "$host" "$port"; then return 0; fi
  is_local "$host" || die "Redis at $host:$port is not reachable (REDIS_URL); start it or fix the URL"
  if ! command -v redis-server >/dev/null 2>&1; then
    log "Redis is not installed: installing Debian's redis-server"
    apt_install redis-server
  fi
  log "starting redis-server on 127.0.0.1:$port"
  mkdir -p "$ROOT/.run"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$ROOT/.run" --logfile "$ROOT/.run/redis.log"
  wait_for_port "$host" "$port" "Redis"
}

ensure_cargo() {
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs), then re-run"
}

# Node.js and npm (the demo page's Socket.IO client, the realtime tests' real clients).
ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "Node.js is not installed: installing Debian's nodejs and npm"
    apt_install nodejs npm
  fi
}

# npm packages of DIR, from its lockfile, when node_modules is missing or older than the lockfile.
ensure_npm_deps() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    log "installing npm packages in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$dir/node_modules"
  fi
}

# The benchmarks' start: release binaries in $bin (the feature set scripts/chaos.sh
# builds, so there is one set of release artifacts), and DATABASE_URL's database
# created and seeded with $1 courses.
release_seeded() { # courses
  log "building (release)"
  cargo build --release --bins
  bin="$TARGET_DIR/release"
  mkdir -p .run/bench .run/logs
  "$bin/skillupctl" db create >/dev/null
  "$bin/skillupctl" db seed --courses "$1" >/dev/null
}

# The demo page's socket.io-client (crates/skillup-realtime/web, from its lockfile),
# which skillup-realtime's build embeds: building that crate fails without it.
ensure_web_deps() {
  ensure_node
  ensure_npm_deps "$ROOT/crates/skillup-realtime/web"
}

# Debian's Chromium, driven headless by playwright-core in the demo page test.
ensure_chromium() {
  [ -x /usr/bin/chromium ] || { log "Chromium is not installed: installing Debian's chromium"; apt_install chromium; }
}
