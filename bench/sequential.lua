-- wrk script: GET /api/courses/{id} over every id of IDS_FILE in order, each
-- thread from the first: on a cold cache every key is missed by every process
-- at about the same moment (the cold-start benchmark, scripts/bench-cache.sh).
local requests = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(os.getenv("IDS_FILE")) do
    n = n + 1
    requests[n] = wrk.format("GET", "/api/courses/" .. line)
  end
end
request = function()
  i = i % n + 1
  return requests[i]
end
