#!/usr/bin/env bash
# Catalogue search benchmark (not a test), in one run, loopback only, against a
# release API over 10,000 published courses (11,111 seeded, every tenth a draft):
#   - hit: wrk on one search page, cached (`?q=$SEARCH`);
#   - miss: wrk where every request is a search never asked before
#     (bench/unique_search.lua: the same matches, a new max_price_cents each
#     time), so each one runs the search in Postgres and fills a new entry;
#   - the plain listing's hit, for comparison;
#   - Postgres alone: the page query's execution time (EXPLAIN ANALYZE, median of
#     5), and the plan's index.
# Prints the table and the hit/miss ratio; writes .run/bench/search.json.
#   DURATION=5 SEARCH=postgres CONNS=32 scripts/bench-search.sh
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/skillup_bench_search"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_KEY_PREFIX="bench-search:"
export JWT_SECRET="bench-secret"
DURATION="${DURATION:-8}"; SEARCH="${SEARCH:-postgres}"; CONNS="${CONNS:-32}"
export SEARCH
ensure_cargo; ensure_postgres; ensure_redis
command -v wrk >/dev/null 2>&1 || apt_install wrk

release_seeded 11111
"$bin/skillupctl" cache clear >/dev/null
psql "$DATABASE_URL" -qc "ANALYZE courses" >/dev/null   # fresh statistics, as autovacuum keeps them
published=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM courses WHERE published")
matches=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM courses WHERE published AND search @@ websearch_to_tsquery('english', '$SEARCH')")

PORT=5231 RUST_LOG=warn "$bin/skillup-api" >.run/logs/bench-search.log 2>&1 &
api=$!
trap 'kill "$api" 2>/dev/null || true; "$bin/skillupctl" cache clear >/dev/null 2>&1 || true' EXIT
wait_for_port 127.0.0.1 5231 skillup-api
base="http://127.0.0.1:5231"

loads() { curl -s "$base/metrics" | awk '/^cache_loads_total / { v = $2 } END { print v + 0 }'; }
# wrk's output as "requests/s p50_ms p99_ms".
run_wrk() {
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = int($2) }
    END { printf "%d %.2f %.2f\n", rps, p50, p99 }'
}

search="$base/api/courses?q=$SEARCH"
curl -s -o /dev/null "$search"; curl -s -o /dev/null "$base/api/courses"
[ "$(curl -s -D - -o /dev/null "$search" | awk -F': ' 'tolower($1) == "x-cache" { sub(/\r$/, "", $2); print $2 }')" = HIT ] \
  || die "the search page is not cached"
log "hit: $search"
read -r hit_rps hit_p50 hit_p99 < <(run_wrk "$search")
log "plain listing hit"
read -r plain_rps plain_p50 plain_p99 < <(run_wrk "$base/api/courses")
log "miss: a new search on every request"
before=$(loads)
read -r miss_rps miss_p50 miss_p99 < <(run_wrk -s bench/unique_search.lua "$base")
loaded=$(( $(loads) - before ))

# Postgres alone: the page query as the API sends it (relevance order, 20 rows).
query="SELECT c.id FROM courses c JOIN profiles p ON p.id = c.instructor_id
  WHERE c.published AND c.search @@ websearch_to_tsquery('english', '$SEARCH')
  ORDER BY ts_rank_cd(c.search, websearch_to_tsquery('english', '$SEARCH')) DESC, c.created_at DESC, c.id DESC
  LIMIT 20 OFFSET 0"
times=()
for _ in 1 2 3 4 5; do
  times+=("$(psql "$DATABASE_URL" -tAc "EXPLAIN (ANALYZE, FORMAT JSON) $query" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')")
done
sql_ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
count_ms=$(psql "$DATABASE_URL" -tAc "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM courses c WHERE c.published AND c.search @@ websearch_to_tsquery('english', '$SEARCH')" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
# The planner's access path: the GIN index for a rare word, a sequential scan when
# the word is in a large share of a small table.
index=$(psql "$DATABASE_URL" -tAc "EXPLAIN $query" | grep -oE '(Seq Scan|Bitmap Index Scan|Index Scan|Index Only Scan) on [a-z_]+' | grep -v profiles | sort -u | paste -sd, - || true)

ratio=$(awk -v a="$hit_rps" -v b="$miss_rps" 'BEGIN { printf "%.1f", a / b }')
printf '\n%s published courses; q=%s matches %s of them; wrk -t2 -c%s, %s s each\n' "$published" "$SEARCH" "$matches" "$CONNS" "$DURATION"
printf '| request | requests/s | p50 ms | p99 ms |\n|---|---|---|---|\n'
printf '| search, cached (HIT) | %s | %s | %s |\n' "$hit_rps" "$hit_p50" "$hit_p99"
printf '| search, a new one each time (MISS: %s Postgres loads) | %s | %s | %s |\n' "$loaded" "$miss_rps" "$miss_p50" "$miss_p99"
printf '| plain listing, cached (HIT) | %s | %s | %s |\n' "$plain_rps" "$plain_p50" "$plain_p99"
printf 'hit / miss: %s x\n' "$ratio"
printf 'Postgres alone: page query %s ms, count %s ms (EXPLAIN ANALYZE; plan: %s)\n' "$sql_ms" "$count_ms" "$index"
echo "{\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"published\":$published,\"matches\":$matches,\"hit_rps\":$hit_rps,\"miss_rps\":$miss_rps,\"loads\":$loaded,\"plain_hit_rps\":$plain_rps,\"sql_ms\":$sql_ms,\"count_ms\":$count_ms}" > .run/bench/search.json
log "results in .run/bench/search.json"
