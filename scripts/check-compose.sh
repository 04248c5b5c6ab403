#!/usr/bin/env bash
# Validates docker/docker-compose.dev.yml and docker/docker-compose.prod.yml without a
# Docker engine: `docker compose config` (or, where only Debian's docker-compose 1.29
# exists, `docker-compose config`, installed when absent) must accept them — YAML,
# anchors and merges, interpolation, the schema — and the prod file must refuse to
# render without DATABASE_URL, REDIS_URL and JWT_SECRET. Then scripts/lib/check_compose.py
# holds the rendered files to the spec: services, binaries, ports, health checks,
# depends_on, variable names. Called by scripts/test.sh; takes a few seconds.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT/docker"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# render FILE PROJECT OUT: the file as compose resolves it.
if docker compose version >/dev/null 2>&1; then
  render() { docker compose -f "$1" -p "$2" config >"$3"; }
else
  command -v docker-compose >/dev/null 2>&1 \
    || apt_install --no-install-recommends docker-compose   # recommends would pull the engine
  # Compose 1.x predates the top-level `name:` (the project name): drop that one
  # line and pass the name with -p instead. Everything else is read as written.
  render() {
    local copy="$work/$(basename "$1")"
    grep -v '^name:' "$1" >"$copy"
    grep -q "^name: $2\$" "$1" || die "$1: expected the top-level line 'name: $2'"
    docker-compose --project-directory "$PWD" -f "$copy" -p "$2" config >"$3"
  }
fi

log "compose: docker-compose.dev.yml"
render docker-compose.dev.yml skillup-dev "$work/dev.yml"

log "compose: docker-compose.prod.yml refuses to render without its required variables"
for var in DATABASE_URL REDIS_URL JWT_SECRET; do
  if out=$(export DATABASE_URL=postgres://db/skillup REDIS_URL=rediss://cache:6380 JWT_SECRET=secret
           unset "$var"
           render docker-compose.prod.yml skillup /dev/null 2>&1); then
    die "docker-compose.prod.yml rendered without $var"
  fi
  grep -q "set $var" <<<"$out" || die "docker-compose.prod.yml without $var failed for another reason: $out"
done

log "compose: docker-compose.prod.yml"
DATABASE_URL=postgres://db/skillup REDIS_URL=rediss://cache:6380 JWT_SECRET=secret \
  render docker-compose.prod.yml skillup "$work/prod.yml"

python3 "$ROOT/scripts/lib/check_compose.py" "$ROOT" "$work/dev.yml" "$work/prod.yml"
