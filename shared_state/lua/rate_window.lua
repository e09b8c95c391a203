-- The rate arithmetic of callsign_attempts: a line-by-line port of
-- storage/src/{sliding_window_log,sliding_window,rate_window}.cpp, so the Redis and embedded
-- backends decide alike, plus the stored value of one counter. Pure Lua, no redis.call: the
-- build puts it after attempts.lua's first line (shared_state/CMakeLists.txt), so attempts.lua
-- uses these locals. docs/shared-state-redis.md, "Counter values".
-- Lua numbers are doubles: every time, window and count here stays below 2^53, exact.

local max_exact_limit = 1000

-- A non-negative decimal integer, or nil.
local function whole(s)
  if type(s) ~= 'string' or not string.find(s, '^%d+$') or #s > 16 then return nil end
  return tonumber(s)
end

-- ---- sliding_window_log: times ascending, at most cap kept ------------------------------

-- The first index whose time is > bound (std::upper_bound), #times + 1 when none.
local function upper_bound(times, bound)
  local lo, hi = 1, #times + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if times[mid] > bound then hi = mid else lo = mid + 1 end
  end
  return lo
end

local function keep_newest(times, cap)
  local n = #times
  if n <= cap then return times end
  local kept = {}
  for i = n - cap + 1, n do kept[#kept + 1] = times[i] end
  return kept
end

local function log_count(st, now)
  return #st.times - upper_bound(st.times, now - st.window) + 1
end

local function log_add(st, now)
  local times = st.times
  local kept = {}
  for i = upper_bound(times, now - st.window), #times do kept[#kept + 1] = times[i] end
  table.insert(kept, upper_bound(kept, now), now)
  st.times = keep_newest(kept, st.cap)
end

local function log_retry_after_ms(st, limit, now)
  if log_count(st, now) < limit then return 0 end
  return st.times[#st.times - limit + 1] + st.window - now
end

local function log_with_window(st, window, now)
  local times = {}
  for i, t in ipairs(st.times) do times[i] = t end
  if window < st.window then
    local shift = st.window - window
    for i, t in ipairs(times) do times[i] = math.max(t, math.min(t + shift, now)) end
  end
  return {kind = 'l', window = window, cap = st.cap, times = times}
end

-- ---- sliding_window_counter: the two-window estimate -------------------------------------

local function window_start_for(now, window)
  return now - now % window
end

local function weighted(count, elapsed, window)
  if elapsed < 0 then elapsed = 0 end
  if elapsed >= window then return 0 end
  return count * (window - elapsed) / window
end

local function counter_empty(window, now)
  return {kind = 'e', window = window, start = window_start_for(now, window), prev = 0, cur = 0}
end

local function counter_estimate(st, now)
  local elapsed = now - st.start
  if elapsed < st.window then
    return weighted(st.prev, elapsed, st.window) + st.cur
  end
  return weighted(st.cur, elapsed - st.window, st.window)
end

local function counter_add(st, amount, at)
  local start = window_start_for(at, st.window)
  if start == st.start + st.window then
    st.prev = st.cur
    st.cur = 0
    st.start = start
  elseif start > st.start then
    st.prev = 0
    st.cur = 0
    st.start = start
  end
  if start < st.start then st.prev = st.prev + amount else st.cur = st.cur + amount end
end

local function counter_with_window(st, window, now)
  local next = counter_empty(window, now)
  local carried = counter_estimate(st, now)
  local whole_count = math.floor(carried)
  if whole_count < carried then whole_count = whole_count + 1 end
  next.cur = whole_count
  return next
end

local function counter_retry_after_seconds(st, limit, now)
  if counter_estimate(st, now) < limit then return 0 end
  local clear_at = st.start + 2 * st.window
  local high = math.floor((clear_at - now + 999) / 1000)
  if high < 1 then high = 1 end
  local low = 1
  while low < high do
    local mid = low + math.floor((high - low) / 2)
    if counter_estimate(st, now + 1000 * mid) < limit then high = mid else low = mid + 1 end
  end
  return low
end

-- ---- conversions between the kinds (a configuration reload across max_exact_limit) -------

local function log_from_estimate(counter, cap, now)
  local start, w = counter.start, counter.window
  local times = {}
  if start >= 1 and counter.prev > 0 then
    for _ = 1, math.min(counter.prev, cap) do times[#times + 1] = start - 1 end
  end
  if counter.cur > 0 then
    local latest = math.min(math.max(now, start), start + w - 1)
    for _ = 1, math.min(counter.cur, cap) do times[#times + 1] = latest end
  end
  local kept = {}
  for i = upper_bound(times, now - w), #times do kept[#kept + 1] = times[i] end
  return {kind = 'l', window = w, cap = cap, times = keep_newest(kept, cap)}
end

local function log_to_estimate(st, now)
  local counter = counter_empty(st.window, st.times[1] or now)
  for _, t in ipairs(st.times) do counter_add(counter, 1, t) end
  return counter
end

-- ---- rate_window: the shape a limit calls for, measure, adapt ----------------------------

local function rate_empty(limit, window, now)
  if limit <= max_exact_limit then return {kind = 'l', window = window, cap = limit, times = {}} end
  return counter_empty(window, now)
end

local function fits(st, limit, window)
  return (st.kind == 'l') == (limit <= max_exact_limit) and st.window == window
end

local function adapt(st, limit, window, now)
  local exact = limit <= max_exact_limit
  if st.kind == 'l' then
    if not exact then return log_to_estimate(log_with_window(st, window, now), now) end
    if st.window ~= window then st = log_with_window(st, window, now) end
    if st.cap ~= limit then
      st.cap = limit
      st.times = keep_newest(st.times, limit)
    end
    return st
  end
  local resized = st
  if st.window ~= window then resized = counter_with_window(st, window, now) end
  if exact then return log_from_estimate(resized, limit, now) end
  return resized
end

-- The count at now and the milliseconds until it falls below the limit (rate_window::measure).
local function measure(st, limit, now)
  if st.kind == 'l' then return log_count(st, now), log_retry_after_ms(st, limit, now) end
  return counter_estimate(st, now), 1000 * counter_retry_after_seconds(st, limit, now)
end

-- storage::retry_after_seconds of that measure.
local function retry_after_seconds(value, limit, retry_ms)
  if value < limit then return 0 end
  return math.max(math.floor((retry_ms + 999) / 1000), 1)
end

-- ---- the packed log: the stored form of an exact log, used in place ----------------------
-- "l2,<window_ms>,<capacity>," then each time as an 8-byte big-endian double, ascending.
-- A check reads only the times its binary search touches, and an add splices the string,
-- so a call costs O(log n) Lua steps, not O(n). A packed state is
-- {kind = 'p', window, cap, raw (the stored value), base (offset of t1), n}.

local function packed_header(window, cap)
  return string.format('l2,%d,%d,', window, cap)
end

local function packed_time(st, i)
  return (struct.unpack('>d', st.raw, st.base + 8 * (i - 1)))
end

local function packed_upper_bound(st, bound)
  local lo, hi = 1, st.n + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if packed_time(st, mid) > bound then hi = mid else lo = mid + 1 end
  end
  return lo
end

local function packed_of(window, cap, body)
  local header = packed_header(window, cap)
  return {kind = 'p', window = window, cap = cap, raw = header .. body, base = #header + 1, n = #body / 8}
end

-- log_count and log_retry_after_ms of the packed log.
local function packed_measure(st, limit, now)
  local count = st.n - packed_upper_bound(st, now - st.window) + 1
  if count < limit then return count, 0 end
  return count, packed_time(st, st.n - limit + 1) + st.window - now
end

-- log_add with cap == the limit: drop what no longer counts, insert now in order, keep the
-- newest cap. Lua strings are immutable; this copies the body once.
local function packed_add(st, now)
  local drop = packed_upper_bound(st, now - st.window) - 1
  local at = packed_upper_bound(st, now)
  local raw, base = st.raw, st.base
  local body = string.sub(raw, base + 8 * drop, base + 8 * (at - 1) - 1) .. struct.pack('>d', now)
    .. string.sub(raw, base + 8 * (at - 1))
  if #body > 8 * st.cap then body = string.sub(body, -8 * st.cap) end
  return packed_of(st.window, st.cap, body)
end

local function packed_to_log(st)
  local times = {}
  if st.n > 0 then
    times = {struct.unpack('>' .. string.rep('d', st.n), st.raw, st.base)}
    times[#times] = nil  -- unpack's next position
  end
  return {kind = 'l', window = st.window, cap = st.cap, times = times}
end

local function log_to_packed(st)
  local body = ''
  if #st.times > 0 then body = struct.pack('>' .. string.rep('d', #st.times), unpack(st.times)) end
  return packed_of(st.window, st.cap, body)
end

-- A packed value: nil when its header or length is wrong. The times themselves are not
-- checked one by one (that would cost the O(n) this form avoids); only the library writes them.
local function decode_packed(raw)
  local w, c, base = string.match(raw, '^l2,(%d+),(%d+),()')
  if not w or #w > 16 or #c > 16 then return nil end
  local window, cap = tonumber(w), tonumber(c)
  if window < 1 or cap < 1 or cap > max_exact_limit then return nil end
  local bytes = #raw - base + 1
  if bytes % 8 ~= 0 or bytes / 8 > cap then return nil end
  return {kind = 'p', window = window, cap = cap, raw = raw, base = base, n = bytes / 8}
end

-- ---- stored counter values ---------------------------------------------------------------
-- log:      the packed log above ("l2,..."); the version 1 text form
--           "l,<window_ms>,<capacity>[,<t1>[,<t2 - t1>[,...]]]" (times ascending) is still
--           read, and the next add stores it packed
-- estimate: "e,<window_ms>,<window_start_ms>,<previous>,<current>"

-- The usual estimate in one match (decode below reads it alike, with more steps).
local function decode_estimate(raw)
  local w, s, p, c = string.match(raw, '^e,(%d+),(%d+),(%d+),(%d+)$')
  if not w or #w > 16 or #s > 16 or #p > 16 or #c > 16 then return nil end
  local window, start = tonumber(w), tonumber(s)
  if window < 1 or start % window ~= 0 then return nil end
  return {kind = 'e', window = window, start = start, prev = tonumber(p), cur = tonumber(c)}
end

local function decode(raw)
  if string.sub(raw, 1, 3) == 'l2,' then return decode_packed(raw) end
  if string.sub(raw, 1, 2) == 'e,' then
    local st = decode_estimate(raw)
    if st then return st end
  end
  local parts = {}
  for part in string.gmatch(raw, '[^,]+') do parts[#parts + 1] = part end
  local kind = parts[1]
  local window = whole(parts[2])
  if not window or window < 1 then return nil end
  if kind == 'l' then
    local cap = whole(parts[3])
    if not cap or cap < 1 or cap > max_exact_limit or #parts - 3 > cap then return nil end
    local times, t = {}, 0
    for i = 4, #parts do
      local d = whole(parts[i])
      if not d then return nil end
      t = (i == 4) and d or t + d
      times[#times + 1] = t
    end
    return {kind = 'l', window = window, cap = cap, times = times}
  elseif kind == 'e' and #parts == 5 then
    local start, prev, cur = whole(parts[3]), whole(parts[4]), whole(parts[5])
    if not start or not prev or not cur or start % window ~= 0 then return nil end
    return {kind = 'e', window = window, start = start, prev = prev, cur = cur}
  end
  return nil
end

local function encode(st)
  if st.kind == 'e' then
    return string.format('e,%d,%d,%d,%d', st.window, st.start, st.prev, st.cur)
  end
  if st.kind == 'l' then st = log_to_packed(st) end
  return st.raw
end

-- Milliseconds from now until no stored event counts any more (the key's PEXPIRE).
local function ttl_ms(st, now)
  if st.kind == 'p' then
    if st.n == 0 then return 0 end
    return packed_time(st, st.n) + st.window - now
  end
  if st.kind == 'l' then
    local n = #st.times
    if n == 0 then return 0 end
    return st.times[n] + st.window - now
  end
  if st.prev == 0 and st.cur == 0 then return 0 end
  return st.start + 2 * st.window - now
end

-- A deep copy, for measuring under another limit without changing the state.
local function copy(st)
  local c = {}
  for k, v in pairs(st) do c[k] = v end
  if st.times then
    c.times = {}
    for i, t in ipairs(st.times) do c.times[i] = t end
  end
  return c
end
