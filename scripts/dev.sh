#!/usr/bin/env bash
# Runs SkillUp on local defaults: makes sure Postgres and Redis run (starting or
# installing them), builds the binaries, creates, migrates and seeds the database,
# starts the services, prints their URLs and demo tokens, and stops everything on
# Ctrl-C.
#
#   scripts/dev.sh                    # debug build, 100 demo courses
#   SEED_COURSES=1000 PROFILE=release scripts/dev.sh
#
# Every variable of the spec's configuration table is honoured (DATABASE_URL,
# REDIS_URL, REDIS_KEY_PREFIX, JWT_SECRET, ...). Logs go to .run/logs/.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

export_defaults
ensure_cargo
ensure_postgres
ensure_redis
ensure_web_deps

profile="${PROFILE:-debug}"
log "building the binaries ($profile)"
if [ "$profile" = release ]; then cargo build --release --bins; else cargo build --bins; fi
bin="$TARGET_DIR/$profile"

"$bin/skillupctl" db create
"$bin/skillupctl" db migrate
"$bin/skillupctl" db seed --courses "${SEED_COURSES:-100}"

mkdir -p .run/logs
pids=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping services"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all INT TERM EXIT

API_PORT="${API_PORT:-5000}"
log "starting skillup-api on :$API_PORT (log: .run/logs/api.log)"
PORT="$API_PORT" "$bin/skillup-api" >.run/logs/api.log 2>&1 &
pids+=($!)
wait_for_port 127.0.0.1 "$API_PORT" "skillup-api"

INVALIDATOR_PORT="${INVALIDATOR_PORT:-5002}"
log "starting skillup-invalidator on :$INVALIDATOR_PORT (log: .run/logs/invalidator.log)"
PORT="$INVALIDATOR_PORT" "$bin/skillup-invalidator" >.run/logs/invalidator.log 2>&1 &
pids+=($!)
wait_for_port 127.0.0.1 "$INVALIDATOR_PORT" "skillup-invalidator"

REALTIME_PORT="${REALTIME_PORT:-5001}"
log "starting skillup-realtime on :$REALTIME_PORT (log: .run/logs/realtime.log)"
# The page from the working tree rather than the copy built in: edits show on reload.
PORT="$REALTIME_PORT" REALTIME_WEB_DIR="$ROOT/crates/skillup-realtime/web" "$bin/skillup-realtime" >.run/logs/realtime.log 2>&1 &
pids+=($!)
wait_for_port 127.0.0.1 "$REALTIME_PORT" "skillup-realtime"

student=$("$bin/skillupctl" token --as student)
instructor=$("$bin/skillupctl" token --as instructor)
cat <<MSG

  SkillUp is running.

  API            http://127.0.0.1:$API_PORT
    courses      http://127.0.0.1:$API_PORT/api/courses   (search: ?q=postgres&sort=price_asc)
    health       http://127.0.0.1:$API_PORT/health   (redis: /health/redis, probes: /livez /readyz, metrics: /metrics)
    Swagger UI   http://127.0.0.1:$API_PORT/api/docs   (OpenAPI: /api/openapi.json)
  Invalidator    http://127.0.0.1:$INVALIDATOR_PORT/health   (metrics: /metrics)
  Realtime       http://127.0.0.1:$REALTIME_PORT/health   (metrics: /metrics, Socket.IO on /socket.io/)

  Demo page (live progress bars of student-1's courses):
    http://127.0.0.1:$REALTIME_PORT/?token=$student

  Demo tokens (24 h, signed with JWT_SECRET):
    student-1     $student
    instructor-1  $instructor

  Try:  curl -i http://127.0.0.1:$API_PORT/api/courses?per_page=3
        $bin/skillupctl demo progress   # marks a lesson of student-1: watch the demo page
        psql "$DATABASE_URL" -c "UPDATE courses SET title = 'Edited in psql' WHERE slug = 'course-1'"
        (the cached course and listing are invalidated within milliseconds)

  Logs in .run/logs/. Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
warn "a service exited; see .run/logs/"
