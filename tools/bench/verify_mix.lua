-- wrk script for tools/bench/verify (not a test).
--
--   wrk ... -s verify_mix.lua URL -- REQUESTS_FILE TOKENS_FILE THREADS
--     POSTs the bodies of REQUESTS_FILE (lines "<thread>\t<agent>\t<JSON body>", written by
--     make_verify_requests.py) with Content-Type application/json and "Authorization: Bearer
--     <line <agent> of TOKENS_FILE>". Each wrk thread sends the lines marked with its number,
--     in order, then starts over (counted as a wrap: after one, the valid codes are replays).
--   wrk ... -s verify_mix.lua URL
--     (no arguments) plain GETs of URL: the peer server's side of the comparison, through the
--     same Lua request() path.
--
-- done() prints "<metric> <value>" lines for tools/bench/verify; latencies in milliseconds.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local count = 0
local index = 0
local peer = false
wraps = 0

function init(args)
  if #args == 0 then
    requests[1] = wrk.format("GET")
    count = 1
    peer = true
    return
  end
  local requests_file, tokens_file, thread_count = args[1], args[2], tonumber(args[3])
  local tokens = {}
  for line in io.lines(tokens_file) do
    tokens[#tokens + 1] = line
  end
  for line in io.lines(requests_file) do
    local t, agent, body = line:match("^(%d+)\t(%d+)\t(.*)$")
    if t and tonumber(t) == thread_id % thread_count then
      local headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. tokens[tonumber(agent)],
      }
      count = count + 1
      requests[count] = wrk.format("POST", nil, headers, body)
    end
  end
  if count == 0 then
    error("verify_mix.lua: no requests for thread " .. thread_id .. " in " .. requests_file)
  end
end

function request()
  if peer then
    return requests[1]
  end
  index = index + 1
  if index > count then
    index = 1
    wraps = wraps + 1
  end
  return requests[index]
end

function done(summary, latency, _)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local total_wraps = 0
  for _, thread in ipairs(threads) do
    total_wraps = total_wraps + (thread:get("wraps") or 0)
  end
  io.write(string.format("wrk_requests %d\n", summary.requests))
  io.write(string.format("wrk_seconds %.3f\n", seconds))
  io.write(string.format("wrk_requests_per_second %.0f\n", summary.requests / seconds))
  io.write(string.format("wrk_p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("wrk_p90_ms %.3f\n", latency:percentile(90) / 1000))
  io.write(string.format("wrk_p99_ms %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("wrk_max_ms %.3f\n", latency.max / 1000))
  io.write(string.format("wrk_non_2xx %d\n", e.status))
  io.write(string.format("wrk_socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("wrk_wraps %d\n", total_wraps))
end
