#!lua name=callsign_directory
-- The user and authenticator directory on Redis/Valkey (docs/shared-state-redis.md, "Users and
-- authenticators"). Every change is one function call, so it is atomic: the version check, the
-- email index and the enrollment move together or not at all. Records are opaque bytes in the
-- embedded backend's encoding (sealed secrets stay sealed); the C++ side encodes the new version
-- into them, Lua keeps the version in a field of its own to compare.
--
-- Keys (user ids are [A-Za-z0-9._@:-], so they never hold a brace):
--   cs:{u:<id>}:user   hash: version, record, email
--   cs:{u:<id>}:auth   hash: version, record
--   cs:email:<email>   string: the id of the user holding that normalized email
--   cs:users           sorted set of ids, all with score 0, for ZRANGEBYLEX paging
-- Keys derived inside a function (another user's record, an old email) are not in KEYS: fine on
-- one primary (with or without Sentinel); a Redis Cluster would need the email index reworked.
-- Replies: a first element "ok" (then the values) or the refusal: "conflict_version",
-- "conflict_email", "not_found".

local events = 'cs:events'

local function user_key(id) return 'cs:{u:' .. id .. '}:user' end
local function email_key(email) return 'cs:email:' .. email end

local function version_of(key)
  return tonumber(redis.call('HGET', key, 'version') or '0') or 0
end

local function publish(event)
  redis.call('PUBLISH', events, cjson.encode(event))
end

-- KEYS: user hash. Reply: {version, record} or nil.
local function user_find(keys)
  local found = redis.call('HMGET', keys[1], 'version', 'record')
  if not found[1] then return nil end
  return {found[1], found[2]}
end

-- KEYS: email key. Reply: {id, version, record} or nil. The record must still hold the email.
local function user_find_by_email(keys, args)
  local id = redis.call('GET', keys[1])
  if not id then return nil end
  local found = redis.call('HMGET', user_key(id), 'version', 'record', 'email')
  if not found[1] or found[3] ~= args[1] then return nil end
  return {id, found[1], found[2]}
end

-- KEYS: cs:users. ARGV: after ('' = from the first), limit. Reply: {more, id1, version1,
-- record1, ...}: up to `limit` users after `after` in byte order, read at one instant; more is
-- 1 when at least one user follows.
local function user_list(keys, args)
  local limit = tonumber(args[2])
  local from = args[1] == '' and '-' or '(' .. args[1]
  local ids = redis.call('ZRANGEBYLEX', keys[1], from, '+', 'LIMIT', 0, limit + 1)
  local reply = {#ids > limit and 1 or 0}
  for i = 1, math.min(#ids, limit) do
    local found = redis.call('HMGET', user_key(ids[i]), 'version', 'record')
    if found[1] then
      reply[#reply + 1] = ids[i]
      reply[#reply + 1] = found[1]
      reply[#reply + 1] = found[2]
    end
  end
  return reply
end

-- KEYS: user hash, cs:users, new email key. ARGV: id, expected version, record, email.
-- Reply: {"ok", new version} or a refusal; nothing is written on a refusal.
local function user_put(keys, args)
  local id, expected, record, email = args[1], tonumber(args[2]), args[3], args[4]
  local stored = version_of(keys[1])
  if stored ~= expected then return {'conflict_version'} end
  local owner = redis.call('GET', keys[3])
  if owner and owner ~= id then return {'conflict_email'} end
  local old_email = redis.call('HGET', keys[1], 'email')
  if old_email and old_email ~= email and redis.call('GET', email_key(old_email)) == id then
    redis.call('DEL', email_key(old_email))
  end
  local new_version = stored + 1
  redis.call('SET', keys[3], id)
  redis.call('HSET', keys[1], 'version', tostring(new_version), 'record', record, 'email', email)
  redis.call('ZADD', keys[2], 0, id)
  publish({type = 'user', id = id, version = new_version})
  return {'ok', new_version}
end

-- KEYS: user hash, cs:users, auth hash. ARGV: id, expected version.
-- Removes the user, its email index entry (while it names this user) and its enrollment.
local function user_remove(keys, args)
  local id, expected = args[1], tonumber(args[2])
  local stored = version_of(keys[1])
  if stored == 0 then return {'not_found'} end
  if stored ~= expected then return {'conflict_version'} end
  local email = redis.call('HGET', keys[1], 'email')
  if email and redis.call('GET', email_key(email)) == id then
    redis.call('DEL', email_key(email))
  end
  local enrolled = redis.call('DEL', keys[3])
  redis.call('DEL', keys[1])
  redis.call('ZREM', keys[2], id)
  publish({type = 'user', id = id, version = 0})
  if enrolled == 1 then publish({type = 'authenticator', user = id, version = 0}) end
  return {'ok', 0}
end

-- KEYS: auth hash. Reply: {version, record} or nil.
local function auth_find(keys)
  local found = redis.call('HMGET', keys[1], 'version', 'record')
  if not found[1] then return nil end
  return {found[1], found[2]}
end

-- KEYS: email key. Reply: {id} when the email names a user with no enrollment, {id, version,
-- record} when it names one with an enrollment, nil when it names nobody. Sent with
-- callsign_user_find_by_email in one exec, so a lookup by email brings the enrollment along;
-- the caller keeps it only when the id is the user that lookup found.
local function auth_find_by_email(keys)
  local id = redis.call('GET', keys[1])
  if not id then return nil end
  local found = redis.call('HMGET', 'cs:{u:' .. id .. '}:auth', 'version', 'record')
  if not found[1] then return {id} end
  return {id, found[1], found[2]}
end

-- KEYS: auth hash, user hash. ARGV: user id, expected version, record ('' removes).
-- Reply: {"ok", new version (0 after a removal)} or a refusal.
local function auth_put(keys, args)
  local id, expected, record = args[1], tonumber(args[2]), args[3]
  local stored = version_of(keys[1])
  if stored ~= expected then return {'conflict_version'} end
  local new_version = 0
  if record == '' then
    redis.call('DEL', keys[1])
  else
    if redis.call('EXISTS', keys[2]) == 0 then return {'not_found'} end
    new_version = stored + 1
    redis.call('HSET', keys[1], 'version', tostring(new_version), 'record', record)
  end
  publish({type = 'authenticator', user = id, version = new_version})
  return {'ok', new_version}
end

local read_only = {'no-writes'}
redis.register_function{function_name = 'callsign_user_find', callback = user_find, flags = read_only}
redis.register_function{function_name = 'callsign_user_find_by_email', callback = user_find_by_email, flags = read_only}
redis.register_function{function_name = 'callsign_user_list', callback = user_list, flags = read_only}
redis.register_function('callsign_user_put', user_put)
redis.register_function('callsign_user_remove', user_remove)
redis.register_function{function_name = 'callsign_authenticator_find', callback = auth_find, flags = read_only}
redis.register_function{function_name = 'callsign_authenticator_find_by_email', callback = auth_find_by_email,
                        flags = read_only}
redis.register_function('callsign_authenticator_put', auth_put)
