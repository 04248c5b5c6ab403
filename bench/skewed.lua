-- wrk script: GET /api/courses/{id} with ids drawn from a skewed distribution
-- (index = n * u^3: a few courses get most requests, as popular ones do).
-- IDS_FILE names a file with one course id per line. Requests are formatted once
-- per thread in init (where wrk knows the Host header), so the script costs wrk
-- little per request.
local requests = {}
local n = 0
init = function(args)
  for line in io.lines(os.getenv("IDS_FILE")) do
    n = n + 1
    requests[n] = wrk.format("GET", "/api/courses/" .. line)
  end
  math.randomseed(42)
end
request = function()
  local u = math.random()
  return requests[math.floor(n * u * u * u) + 1]
end
