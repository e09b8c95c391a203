#!lua name=callsign_attempts
-- callsign's per-attempt state changes as Redis Functions (issue 18): one atomic call per
-- verify or confirm (callsign_settle) and per reported login (callsign_login_record), the
-- primary fence, and the block admin calls. The rate arithmetic is a line-by-line port of
-- storage/src/{sliding_window_log,sliding_window,rate_window}.cpp, so both backends decide
-- alike. Key layout, value formats and failure behaviour: docs/shared-state-redis.md.
-- Lua numbers are doubles: every time, window and count here stays below 2^53, exact.

local max_exact_limit = 1000
local block_prefix = 'cs:b:'
local blocks_index = 'cs:blocks'
local events_channel = 'cs:events'

local function corrupt()
  return redis.error_reply('ERR callsign: corrupt state')
end

-- A non-negative decimal integer, or nil.
local function whole(s)
  if type(s) ~= 'string' or not string.find(s, '^%d+$') or #s > 16 then return nil end
  return tonumber(s)
end

local function arg_number(s)
  local n = whole(s)
  if not n then error('callsign: bad argument') end
  return n
end

-- Replay marks are decimal u64 strings; compared as digits, so any step is exact.
local function step_greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end

local function step_valid(s)
  return type(s) == 'string' and string.find(s, '^%d+$') ~= nil and #s <= 20
    and (s == '0' or string.sub(s, 1, 1) ~= '0')
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

-- ---- stored counter values ---------------------------------------------------------------
-- log:      "l,<window_ms>,<capacity>[,<t1>[,<t2 - t1>[,...]]]"  (times ascending)
-- estimate: "e,<window_ms>,<window_start_ms>,<previous>,<current>"

local function decode(raw)
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
  local out = {'l', string.format('%d', st.window), string.format('%d', st.cap)}
  local last
  for _, t in ipairs(st.times) do
    out[#out + 1] = string.format('%d', last and t - last or t)
    last = t
  end
  return table.concat(out, ',')
end

-- Milliseconds from now until no stored event counts any more (the key's PEXPIRE).
local function ttl_ms(st, now)
  if st.kind == 'l' then
    local n = #st.times
    if n == 0 then return 0 end
    return st.times[n] + st.window - now
  end
  if st.prev == 0 and st.cur == 0 then return 0 end
  return st.start + 2 * st.window - now
end

-- The stored state of a counter key: nil when corrupt, else the state (empty when absent).
local function load(key, limit, window, now)
  local raw = redis.call('GET', key)
  if not raw then return rate_empty(limit, window, now) end
  return decode(raw)
end

local function copy(st)
  local c = {}
  for k, v in pairs(st) do c[k] = v end
  if st.times then
    c.times = {}
    for i, t in ipairs(st.times) do c.times[i] = t end
  end
  return c
end

-- rate_counters::estimate: a changed limit is applied to a copy only.
local function check(st, limit, window, now)
  local m = st
  if not fits(st, limit, window) then m = adapt(copy(st), limit, window, now) end
  return measure(m, limit, now)
end

-- rate_counters::add of one event: adapt, add, store with its expiry; returns the count.
local function add_one(key, limit, window, now)
  local st = load(key, limit, window, now)
  if not st then return nil end
  st = adapt(st, limit, window, now)
  if st.kind == 'l' then log_add(st, now) else counter_add(st, 1, now) end
  local ttl = ttl_ms(st, now)
  if ttl > 0 then
    redis.call('SET', key, encode(st), 'PX', string.format('%d', ttl))
  else
    redis.call('DEL', key)
  end
  return (measure(st, limit, now))
end

-- ---- blocks: hash cs:b:<key> {until, created, rule, revision}; zset cs:blocks by until ------

local function block_read(redis_key, now)
  local f = redis.call('HMGET', redis_key, 'until', 'created', 'rule', 'revision')
  if not f[1] then return nil, nil end
  local until_ms, created, revision = whole(f[1]), whole(f[2]), whole(f[4])
  if not until_ms or not created or not revision or type(f[3]) ~= 'string' then return nil, 'corrupt' end
  return {until_ms = until_ms, created = created, rule = f[3], revision = revision,
          active = now < until_ms}, nil
end

local function block_reply(key, b)
  return {key, b.until_ms, b.created, b.rule}
end

local function json_string(s)
  return cjson.encode(s)
end

-- blocks::block: an active block with a later until stays; an earlier one is extended,
-- keeping created. Returns the block in force and whether this call started it.
local function block_set(key, until_ms, rule, now)
  local redis_key = block_prefix .. key
  local b, err = block_read(redis_key, now)
  if err then return nil, nil, err end
  if b and b.active and b.until_ms >= until_ms then return b, false end
  local in_force = b ~= nil and b.active
  local next = {until_ms = until_ms, rule = rule,
                created = in_force and b.created or now,
                revision = math.max(now, (b and b.revision or -1) + 1)}
  redis.call('HSET', redis_key, 'until', string.format('%d', next.until_ms),
             'created', string.format('%d', next.created), 'rule', rule,
             'revision', string.format('%d', next.revision))
  redis.call('PEXPIRE', redis_key, string.format('%d', until_ms - now))
  redis.call('ZREMRANGEBYSCORE', blocks_index, '-inf', string.format('%d', now))
  redis.call('ZADD', blocks_index, string.format('%d', until_ms), key)
  if not in_force then
    redis.call('PUBLISH', events_channel, string.format(
      '{"type":"block","key":%s,"until_ms":%d,"created_ms":%d,"rule":%s}',
      json_string(key), next.until_ms, next.created, json_string(rule)))
  end
  return next, not in_force
end

local function strip_block_prefix(redis_key)
  return string.sub(redis_key, #block_prefix + 1)
end

-- ---- the functions -----------------------------------------------------------------------

-- FCALL callsign_settle numkeys cs:fence [mark] counter... ;
--   ARGV: now_ms, has_claim (0|1), step, step_start_ms, then (limit, window_ms) per counter.
-- Returns {outcome, retry_after_seconds}: outcome 0 throttled, 1 accepted, 2 replayed, 3 counted.
local function settle(keys, args)
  local now = arg_number(args[1])
  local has_claim = args[2] == '1'
  local step, step_start = args[3], arg_number(args[4])
  if has_claim and not step_valid(step) then error('callsign: bad argument') end
  local first = has_claim and 3 or 2
  local n = #keys - first + 1
  if #args ~= 4 + 2 * n then error('callsign: bad argument') end
  local limits = {}
  local throttled, retry = false, 0
  for i = 1, n do
    local limit, window = arg_number(args[3 + 2 * i]), arg_number(args[4 + 2 * i])
    limits[i] = {limit, window}
    local st = load(keys[first + i - 1], limit, window, now)
    if not st then return corrupt() end
    local value, retry_ms = check(st, limit, window, now)
    if value >= limit then
      throttled = true
      retry = math.max(retry, retry_after_seconds(value, limit, retry_ms))
    end
  end
  if throttled then return {0, retry} end
  local accepted = false
  if has_claim then
    local stored = redis.call('GET', keys[1])
    local fence = stored and whole(stored) or 0
    if stored and not whole(stored) then return corrupt() end
    local mark = redis.call('GET', keys[2])
    if mark and not step_valid(mark) then return corrupt() end
    if step_start > fence and (not mark or step_greater(step, mark)) then
      redis.call('SET', keys[2], step)
      accepted = true
    end
  end
  if accepted then return {1, 0} end
  for i = 1, n do
    -- Read again: a key named twice adds twice, as in the embedded backend.
    if not add_one(keys[first + i - 1], limits[i][1], limits[i][2], now) then return corrupt() end
  end
  return {has_claim and 2 or 3, 0}
end

-- FCALL callsign_login_record numkeys <per rule: counter, block, [previous counter],
--   [previous block]> <check block keys...> ;
--   ARGV: now_ms, failure (0|1), rule count, check key count, then per rule: rule name,
--   limit, window_ms, block_until_ms, shadow (0|1), has previous counter (0|1), has previous
--   block (0|1).
-- Returns {counts, started, active}: counts {failures (decimal string), tripped 0|1} per rule;
-- started and active hold {key, until_ms, created_ms, rule}, active a nil for no block.
local function login_record(keys, args)
  local now = arg_number(args[1])
  local failure = args[2] == '1'
  local nrules, nchecks = arg_number(args[3]), arg_number(args[4])
  local rules, k = {}, 1
  for i = 1, nrules do
    local a = 4 + 7 * (i - 1)
    local r = {name = args[a + 1], limit = arg_number(args[a + 2]), window = arg_number(args[a + 3]),
               until_ms = arg_number(args[a + 4]), shadow = args[a + 5] == '1'}
    if type(r.name) ~= 'string' then error('callsign: bad argument') end
    r.counter, r.block = keys[k], keys[k + 1]
    k = k + 2
    if args[a + 6] == '1' then r.prev_counter = keys[k]; k = k + 1 end
    if args[a + 7] == '1' then r.prev_block = keys[k]; k = k + 1 end
    rules[i] = r
  end
  if #args ~= 4 + 7 * nrules or #keys ~= k - 1 + nchecks then error('callsign: bad argument') end
  local counts, started, active = {}, {}, {}
  if failure and nrules > 0 then
    -- Every stored value is read and checked before anything changes.
    for _, r in ipairs(rules) do
      if not load(r.counter, r.limit, r.window, now) then return corrupt() end
      if r.prev_counter and not load(r.prev_counter, r.limit, r.window, now) then return corrupt() end
      for _, bk in ipairs({r.block, r.prev_block}) do
        local _, err = block_read(bk, now)
        if err then return corrupt() end
      end
    end
    for _, r in ipairs(rules) do
      local failures = add_one(r.counter, r.limit, r.window, now)
      if r.prev_counter then
        local st = load(r.prev_counter, r.limit, r.window, now)
        failures = failures + (check(st, r.limit, r.window, now))
      end
      local tripped = not (failures < r.limit)
      counts[#counts + 1] = {string.format('%.17g', failures), tripped and 1 or 0}
      if tripped and not r.shadow then
        local existing = block_read(r.block, now)
        local earlier = r.prev_block and block_read(r.prev_block, now)
        if not (existing and existing.active) and not (earlier and earlier.active) then
          local key = strip_block_prefix(r.block)
          local b, was_started, err = block_set(key, r.until_ms, r.name, now)
          if err then return corrupt() end
          if was_started then started[#started + 1] = block_reply(key, b) end
        end
      end
    end
  end
  for i = 1, nchecks do
    local redis_key = keys[k + i - 1]
    local b, err = block_read(redis_key, now)
    if err then return corrupt() end
    if b and b.active then active[i] = block_reply(strip_block_prefix(redis_key), b) else active[i] = false end
  end
  return {counts, started, active}
end

-- FCALL callsign_fence_primary 2 cs:fence cs:primary run_id now_ms: on a primary not seen
-- before, no step at or before now may be claimed any more. Returns the fence.
local function fence_primary(keys, args)
  local run_id, now = args[1], arg_number(args[2])
  local stored = redis.call('GET', keys[1])
  local fence = stored and whole(stored) or 0
  if stored and not whole(stored) then return corrupt() end
  if redis.call('GET', keys[2]) ~= run_id then
    fence = math.max(fence, now)
    redis.call('SET', keys[1], string.format('%d', fence))
    redis.call('SET', keys[2], run_id)
  end
  return fence
end

-- FCALL callsign_blocks_list 1 cs:blocks now_ms: every active block, unordered.
local function blocks_list(keys, args)
  local now = arg_number(args[1])
  local members = redis.call('ZRANGEBYSCORE', keys[1], '(' .. string.format('%d', now), '+inf')
  local out = {}
  for _, key in ipairs(members) do
    local b, err = block_read(block_prefix .. key, now)
    if err then return corrupt() end
    if b and b.active then out[#out + 1] = block_reply(key, b) end
  end
  return out
end

-- FCALL callsign_blocks_find 1 cs:b:<key> now_ms: the active block, or nil.
local function blocks_find(keys, args)
  local now = arg_number(args[1])
  local b, err = block_read(keys[1], now)
  if err then return corrupt() end
  if not (b and b.active) then return false end
  return block_reply(strip_block_prefix(keys[1]), b)
end

-- FCALL callsign_blocks_lift 2 cs:b:<key> cs:blocks now_ms: ends the active block and
-- returns it (nil when none); other nodes learn it from an "unblock" event.
local function blocks_lift(keys, args)
  local now = arg_number(args[1])
  local b, err = block_read(keys[1], now)
  if err then return corrupt() end
  local key = strip_block_prefix(keys[1])
  if not b then return false end
  redis.call('DEL', keys[1])
  redis.call('ZREM', keys[2], key)
  if not b.active then return false end
  redis.call('PUBLISH', events_channel, string.format('{"type":"unblock","key":%s}', json_string(key)))
  return block_reply(key, b)
end

redis.register_function('callsign_settle', settle)
redis.register_function('callsign_login_record', login_record)
redis.register_function('callsign_fence_primary', fence_primary)
redis.register_function{function_name = 'callsign_blocks_list', callback = blocks_list, flags = {'no-writes'}}
redis.register_function{function_name = 'callsign_blocks_find', callback = blocks_find, flags = {'no-writes'}}
redis.register_function('callsign_blocks_lift', blocks_lift)
