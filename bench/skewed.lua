-- wrk script: GET /api/courses/{id} with ids drawn from a skewed distribution
-- (index = n * u^3: a few courses get most requests, as popular ones do).
-- IDS_FILE names a file with one course id per line.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
math.randomseed(42)
request = function()
  local i = math.floor(#ids * math.random() ^ 3) + 1
  return wrk.format("GET", "/api/courses/" .. ids[i])
end
