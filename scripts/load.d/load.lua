-- wrk script for the PecDesk companion benchmark.
-- Reads tokens.txt ("TOKEN ACTIVITY_ID ACTIVITY_ID ...", one user per line) and, per
-- request, picks a user: SCENARIO=list asks "my activities" (page of 50, filtered, sorted
-- by due date); SCENARIO=detail asks the detail of one of that user's activities.
local scenario = os.getenv("SCENARIO") or "list"
local dir = os.getenv("LOAD_DIR") or "."
local users = {}

for line in io.lines(dir .. "/tokens.txt") do
  local parts = {}
  for w in line:gmatch("%S+") do parts[#parts + 1] = w end
  local acts = {}
  for i = 2, #parts do acts[#acts + 1] = parts[i] end
  users[#users + 1] = { token = parts[1], acts = acts }
end

math.randomseed(os.time())

request = function()
  local u = users[math.random(#users)]
  local path
  if scenario == "detail" then
    path = "/api/v1/activities/" .. u.acts[math.random(#u.acts)]
  else
    path = "/api/v1/activities?assignee=me&status=open,in_progress&sort=due_at&limit=50"
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. u.token })
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT scenario=%s requests=%d duration_s=%.1f rps=%.0f p50_ms=%.2f p99_ms=%.2f non200=%d\n",
    scenario, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
