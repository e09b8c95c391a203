-- wrk script for tools/bench/users (not a test).
--
--   wrk ... -s users_put.lua URL -- ADMIN_TOKEN_FILE ROUND
--     PUT /v1/users/<id> with a fresh id per request ("put-<round>-<thread>-<n>"), so every
--     request creates a user (201) and no two requests race for one id or email.
--
-- done() prints "<metric> <value>" lines like verify_mix.lua; latencies in milliseconds.

local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local token
local prefix
local n = 0

function init(args)
  local f = assert(io.open(args[1], "r"))
  token = f:read("*l")
  f:close()
  prefix = "put-" .. args[2] .. "-" .. thread_id .. "-"
end

function request()
  n = n + 1
  local id = prefix .. n
  local body = '{"email":"' .. id .. '@example.com","phone_support":true}'
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
  return wrk.format("PUT", "/v1/users/" .. id, headers, body)
end

function done(summary, latency, _)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("wrk_requests %d\n", summary.requests))
  io.write(string.format("wrk_seconds %.3f\n", seconds))
  io.write(string.format("wrk_requests_per_second %.0f\n", summary.requests / seconds))
  io.write(string.format("wrk_p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("wrk_p99_ms %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("wrk_non_2xx %d\n", e.status))
  io.write(string.format("wrk_socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
end
