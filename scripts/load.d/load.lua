-- wrk script for the PecDesk companion benchmark (scripts/load, docs/BENCHMARKS.md).
--
-- SCENARIO=list   "my activities" (page of 50, filtered, sorted by due date) of a random
--                 user of tokens.txt ("TOKEN ACTIVITY_ID ACTIVITY_ID ...", one user a line);
-- SCENARIO=detail the detail of one of that user's activities;
-- SCENARIO=empty  "my activities" of a user of idle.txt (TOKEN, no activity): the fixed
--                 cost of a request (token, grants, query) without rows;
-- SCENARIO=write  half comments, half transitions, by the writers of writers.txt
--                 ("TOKEN ID:STATUS:VERSION ...", writers of two organisations, alternating).
--                 Thread n of THREADS takes the pairs of lines n, n+THREADS, ... (both
--                 organisations in every thread). A request reserves one of its
--                 thread's activities (oldest free first), so no two requests touch the same
--                 activity at once and no 409 is expected; a transition cycles
--                 open → in_progress → done → open with the version the last answer gave.
--                 409s are counted apart from other non-2xx answers.
-- SCENARIO=first|deep|deepact  one GET of deep.txt ("SCENARIO TOKEN PATH"): the first page
--                 of the message list, its page DEEP_ROWS deep, the same depth in a
--                 mailbox's activities by due date (cursors as a client who paged there
--                 holds them: scripts/load follows next_cursor to get them).
local scenario = os.getenv("SCENARIO") or "list"
local dir = os.getenv("LOAD_DIR") or "."
local nthreads = tonumber(os.getenv("THREADS") or "2")
local NEXT = { open = "in_progress", in_progress = "done", done = "open" }

local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
  thread:set("thread_no", #threads)
end

local function words(line)
  local parts = {}
  for w in line:gmatch("%S+") do parts[#parts + 1] = w end
  return parts
end

local users = {}
local deep = nil -- { token, path } of the first/deep/deepact scenarios
-- write scenario state (per thread)
local acts, free, busy, seq = {}, {}, {}, 0
conflicts, retired = 0, 0

init = function(args)
  if scenario == "write" then
    local n = 0
    for line in io.lines(dir .. "/writers.txt") do
      n = n + 1
      -- writers.txt alternates the organisations: pairs of lines go round the threads,
      -- so every thread drives writers of both.
      if math.floor((n - 1) / 2) % nthreads == (thread_no or 1) - 1 then
        local parts = words(line)
        for i = 2, #parts do
          local id, status, version = parts[i]:match("([^:]+):([^:]+):(%d+)")
          acts[id] = { token = parts[1], status = status, version = tonumber(version) }
          free[#free + 1] = id
        end
      end
    end
  elseif scenario == "first" or scenario == "deep" or scenario == "deepact" then
    for line in io.lines(dir .. "/deep.txt") do
      local parts = words(line)
      if parts[1] == scenario then deep = { token = parts[2], path = parts[3] } end
    end
    assert(deep, "deep.txt has no line for " .. scenario)
  else
    local file = scenario == "empty" and "/idle.txt" or "/tokens.txt"
    for line in io.lines(dir .. file) do
      local parts = words(line)
      users[#users + 1] = { token = parts[1], acts = { (table.unpack or unpack)(parts, 2) } }
    end
  end
  math.randomseed(os.time() + (thread_no or 0))
end

local function write_request()
  local id = table.remove(free, 1)
  if id == nil then
    -- every activity of this thread is in flight (more connections than activities)
    return wrk.format("GET", "/readyz")
  end
  seq = seq + 1
  busy[#busy + 1] = id
  local a = acts[id]
  local headers = { ["Authorization"] = "Bearer " .. a.token, ["Content-Type"] = "application/json" }
  if seq % 2 == 0 then
    return wrk.format("POST", "/api/v1/activities/" .. id .. "/comments", headers,
      string.format('{"body":"Commento di carico %d"}', seq))
  end
  return wrk.format("POST", "/api/v1/activities/" .. id .. "/transitions", headers,
    string.format('{"to":"%s","version":%d}', NEXT[a.status] or "open", a.version))
end

request = function()
  if scenario == "write" then return write_request() end
  if deep then
    return wrk.format("GET", deep.path, { ["Authorization"] = "Bearer " .. deep.token })
  end
  local u = users[math.random(#users)]
  local path
  if scenario == "detail" then
    path = "/api/v1/activities/" .. u.acts[math.random(#u.acts)]
  else
    path = "/api/v1/activities?assignee=me&status=open,in_progress&sort=due_at&limit=50"
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. u.token })
end

-- Frees the reserved activity `id`, or the oldest reservation when the answer names none
-- of them (an error envelope; or the limit server's canned body).
local function release(id)
  for i, b in ipairs(busy) do
    if b == id then
      table.remove(busy, i)
      return id
    end
  end
  return table.remove(busy, 1)
end

-- Only the write scenario reads answers (defining `response` makes wrk keep every body).
local function write_response(status, headers, body)
  if status == 409 then conflicts = conflicts + 1 end
  local comment_of = body:match('"activity_id":"([^"]+)"')
  local id = comment_of or body:match('^{"id":"([^"]+)"')
  local got = release(id)
  if got == nil then return end
  if status < 300 then
    if comment_of == nil then
      local a = acts[got]
      a.status = body:match('"status":"([^"]+)"') or a.status
      a.version = tonumber(body:match('"version":(%d+)')) or a.version
    end
    free[#free + 1] = got
  else
    -- Its state is unknown now: take it out of the rotation.
    retired = retired + 1
  end
end
if scenario == "write" then response = write_response end

done = function(summary, latency, requests)
  local c, r = 0, 0
  for _, t in ipairs(threads) do
    c = c + (t:get("conflicts") or 0)
    r = r + (t:get("retired") or 0)
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  local non2xx = summary.errors.status
  if scenario == "write" then
    -- wrk counts every status >= 400 in errors.status; 409s are reported apart.
    non2xx = non2xx - c
  end
  io.write(string.format(
    "RESULT scenario=%s requests=%d duration_s=%.1f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d conflicts=%d socket_errors=%d\n",
    scenario, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx, c, errors))
  if r > 0 then io.write(string.format("NOTE scenario=%s retired_activities=%d\n", scenario, r)) end
end
