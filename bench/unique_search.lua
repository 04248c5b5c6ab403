-- wrk script: GET /api/courses?q=$SEARCH&max_price_cents=N with a new N on every
-- request (each thread its own range), all above every seeded price: the same
-- matches as the plain search, each under a key never seen, so every request is
-- a cache miss that runs the search in Postgres (scripts/bench-search.sh).
local threads = 0
setup = function(thread)
  threads = threads + 1
  -- Sets the global `base` in that thread's own interpreter.
  thread:set("base", 100000 + threads * 10000000)
end
local counter = 0
local search = os.getenv("SEARCH") or "postgres"
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/courses?q=" .. search .. "&max_price_cents=" .. (base + counter))
end
