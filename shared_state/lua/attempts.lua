#!lua name=callsign_attempts
-- callsign's per-attempt state changes as Redis Functions (issue 18): one atomic call per
-- verify or confirm (callsign_settle) and per reported login (callsign_login_record), the
-- read-only failure counts the login rules read (callsign_login_counts), the primary fence, and
-- the block admin calls. The build inserts rate_window.lua (the rate
-- arithmetic, ported from storage/) right after the first line. Key layout, value formats and
-- failure behaviour: docs/shared-state-redis.md.

local block_prefix = 'cs:b:'
local blocks_index = 'cs:blocks'
local events_channel = 'cs:events'

local function corrupt()
  return redis.error_reply('ERR callsign: corrupt state')
end

local function arg_number(s)
  local n = whole(s)
  if not n then error('callsign: bad argument') end
  return n
end

-- arg_number of ARGV[from..]: each 1 to 16 characters, then one match over them all.
local function arg_numbers(args, from)
  for i = from, #args do
    if #args[i] == 0 or #args[i] > 16 then error('callsign: bad argument') end
  end
  if string.find(table.concat(args, '', from), '%D') then error('callsign: bad argument') end
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

-- ---- counters in Redis: cs:w:<key> holds encode(state) ------------------------------------

-- The stored state of a counter key: nil when corrupt, else the state (empty when absent).
-- seen (key -> its state, false when absent) spares a second GET and decode of a key in one
-- call; add_one keeps it current, so a key named twice still adds twice. Only add_one
-- changes a state it loaded (check adapts a copy).
local function load(key, limit, window, now, seen)
  local st = seen[key]
  if st == nil then
    local raw = redis.call('GET', key)
    if not raw then
      st = false
    else
      st = decode(raw)
      if not st then return nil end
    end
    seen[key] = st
  end
  if st then return st end
  if limit <= max_exact_limit then return packed_of(window, limit, '') end
  return rate_empty(limit, window, now)
end

-- A packed log measured under this window as it is: fits() without the copy (a cap other
-- than the limit measures alike, as in the table form).
local function packed_fits(st, limit, window)
  return st.kind == 'p' and limit <= max_exact_limit and st.window == window
end

-- rate_counters::estimate: a changed limit is applied to a copy only.
local function check(st, limit, window, now)
  if packed_fits(st, limit, window) then return packed_measure(st, limit, now) end
  local m = st
  if st.kind == 'p' then m = packed_to_log(st) end
  if not fits(m, limit, window) then m = adapt(copy(m), limit, window, now) end
  return measure(m, limit, now)
end

-- rate_counters::add of one event: adapt, add, store with its expiry; returns the new state.
local function add_one(key, limit, window, now, seen)
  local st = load(key, limit, window, now, seen)
  if not st then return nil end
  if packed_fits(st, limit, window) and st.cap == limit then
    st = packed_add(st, now)  -- nothing to adapt: the common case, O(log n)
  elseif st.kind == 'e' and limit > max_exact_limit and st.window == window then
    counter_add(st, 1, now)  -- adapt would return st as it is
  else
    if st.kind == 'p' then st = packed_to_log(st) end
    st = adapt(st, limit, window, now)
    if st.kind == 'l' then log_add(st, now) else counter_add(st, 1, now) end
    if st.kind == 'l' then st = log_to_packed(st) end
  end
  local ttl = ttl_ms(st, now)
  if ttl > 0 then
    seen[key] = st
    redis.call('SET', key, encode(st), 'PX', string.format('%d', ttl))
  else
    seen[key] = false
    redis.call('DEL', key)
  end
  return st
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
  arg_numbers(args, 5)
  local limits, seen = {}, {}
  local throttled, retry = false, 0
  for i = 1, n do
    local limit, window = tonumber(args[3 + 2 * i]), tonumber(args[4 + 2 * i])
    limits[i] = {limit, window}
    local st = load(keys[first + i - 1], limit, window, now, seen)
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
    -- seen holds each add: a key named twice adds twice, as in the embedded backend.
    if not add_one(keys[first + i - 1], limits[i][1], limits[i][2], now, seen) then return corrupt() end
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
  local counts, started, active, seen = {}, {}, {}, {}
  if failure and nrules > 0 then
    -- Every stored value is read and checked before anything changes.
    for _, r in ipairs(rules) do
      if not load(r.counter, r.limit, r.window, now, seen) then return corrupt() end
      if r.prev_counter and not load(r.prev_counter, r.limit, r.window, now, seen) then return corrupt() end
      for _, bk in ipairs({r.block, r.prev_block}) do
        local _, err = block_read(bk, now)
        if err then return corrupt() end
      end
    end
    for _, r in ipairs(rules) do
      local added = add_one(r.counter, r.limit, r.window, now, seen)
      if not added then return corrupt() end
      local failures = (check(added, r.limit, r.window, now))
      if r.prev_counter then
        local st = load(r.prev_counter, r.limit, r.window, now, seen)
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

-- FCALL_RO callsign_login_counts numkeys counter... ; ARGV: now_ms, then (limit, window_ms) per
-- counter. Read-only (registered no-writes): each counter's count as callsign_login_record's
-- check measures it (a changed limit on a copy), as decimal strings; an absent key counts 0.
local function login_counts(keys, args)
  local now = arg_number(args[1])
  if #args ~= 1 + 2 * #keys then error('callsign: bad argument') end
  arg_numbers(args, 2)
  local out, seen = {}, {}
  for i = 1, #keys do
    local limit, window = tonumber(args[2 * i]), tonumber(args[2 * i + 1])
    if limit < 1 or window < 1 then error('callsign: bad argument') end
    local st = load(keys[i], limit, window, now, seen)
    if not st then return corrupt() end
    out[i] = string.format('%.17g', (check(st, limit, window, now)))
  end
  return out
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
redis.register_function{function_name = 'callsign_login_counts', callback = login_counts, flags = {'no-writes'}}
