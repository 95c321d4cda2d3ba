/*
 * Lua scripts, one per store operation. Each runs atomically on the one Redis node that owns the
 * feed's hash tag, so every operation on a feed is a single round trip, and every key a script
 * touches is passed in KEYS with the same `{tenant:user}` tag (single-slot, Redis Cluster safe).
 *
 * Feed keys, in the order of FEED_KEYS (redis-store.ts):
 *   1 f  zset  every item, scored by its feed position (seq)
 *   2 a  zset  active (not archived) items            -> counts.total = ZCARD a
 *   3 u  zset  active unread items                    -> counts.unread = ZCARD u
 *   4 n  zset  active unseen items                    -> counts.unseen = ZCARD n
 *   5 x  zset  archived items
 *   6 e  zset  items with an expiry, scored by expiresAt
 *   7 d  zset  delivery markers of idempotent sends, scored by when they lapse
 *   8 i  hash  id -> immutable content JSON
 *   9 s  hash  id -> state "seq|seenAt|readAt|archivedAt|category" (empty field = not set)
 *  10 q  string  the feed's sequence counter, bumped by every change
 *
 * Invariant of every script: after it runs, membership of f/a/u/n/x equals what the s hash says
 * (put/drop are the only writers), so the counts are ZCARDs: exact, O(1), never scanned.
 */

const PRELUDE = `
local F, A, U, N, X, E, D, I, S, Q = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local now = tonumber(ARGV[1])

local function parse(state)
  local seq, seen, read, arch, cat = string.match(state, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return { seq = seq, seen = seen, read = read, arch = arch, cat = cat }
end

-- The only writer of item state: rewrites s and the four state sets from one parsed state.
local function put(id, st)
  redis.call('HSET', S, id, st.seq .. '|' .. st.seen .. '|' .. st.read .. '|' .. st.arch .. '|' .. st.cat)
  if st.arch == '' then
    redis.call('ZADD', A, st.seq, id)
    redis.call('ZREM', X, id)
    if st.read == '' then redis.call('ZADD', U, st.seq, id) else redis.call('ZREM', U, id) end
    if st.seen == '' then redis.call('ZADD', N, st.seq, id) else redis.call('ZREM', N, id) end
  else
    redis.call('ZREM', A, id)
    redis.call('ZREM', U, id)
    redis.call('ZREM', N, id)
    redis.call('ZADD', X, st.seq, id)
  end
end

local function drop(id)
  redis.call('HDEL', I, id)
  redis.call('HDEL', S, id)
  redis.call('ZREM', F, id)
  redis.call('ZREM', A, id)
  redis.call('ZREM', U, id)
  redis.call('ZREM', N, id)
  redis.call('ZREM', X, id)
  redis.call('ZREM', E, id)
end

-- Lazy expiry: every script first removes what has expired, so reads never see it.
local function purge()
  local gone = redis.call('ZRANGEBYSCORE', E, '-inf', now)
  for _, id in ipairs(gone) do drop(id) end
end

local function counts()
  return { redis.call('ZCARD', A), redis.call('ZCARD', U), redis.call('ZCARD', N) }
end

local function changed()
  redis.call('INCR', Q)
end
`;

/** ARGV: now, id, content, expiresAt|'', category|'', dedupeMs|'', feedMax → 1 inserted, 0 not. */
const DELIVER = `
purge()
local id, content, exp, cat, dedupe, max = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
if dedupe ~= '' then
  redis.call('ZREMRANGEBYSCORE', D, '-inf', now)
  if redis.call('ZSCORE', D, id) then return 0 end
  redis.call('ZADD', D, now + tonumber(dedupe), id)
  redis.call('PEXPIRE', D, tonumber(dedupe))
end
if exp ~= '' and tonumber(exp) <= now then return 0 end
if redis.call('HEXISTS', I, id) == 1 then return 0 end
local seq = redis.call('INCR', Q)
redis.call('HSET', I, id, content)
redis.call('ZADD', F, seq, id)
if exp ~= '' then redis.call('ZADD', E, exp, id) end
put(id, { seq = seq, seen = '', read = '', arch = '', cat = cat })
local excess = redis.call('ZCARD', F) - max
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', F, 0, excess - 1)) do drop(old) end
end
return 1
`;

/**
 * ARGV: now, before|'', limit, status, archived, category|''
 * → { total, unread, unseen, next|'', state1, content1, state2, content2, ... }
 *
 * Cost matters here (half of a typical workload): one range read, one HMGET of states, one HMGET of
 * contents; states are parsed only when a filter remains to check per item.
 */
const LIST = `
purge()
local before, limit, status, archived, cat = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local max = before == '' and '+inf' or ('(' .. before)
local base = F
if archived == 'exclude' then base = (status == 'unread') and U or A end
if archived == 'only' then base = X end
-- The base set answers exactly unless a filter remains to check per item.
local filtered = cat ~= '' or status == 'read' or (status == 'unread' and archived ~= 'exclude')
local batch = filtered and 100 or (limit + 1)
local matched, matchedStates = {}, {}
local next, full = '', false
-- No WITHSCORES: Redis formats each score as a double (measured: it tripled the range's cost);
-- an item's position is the first field of its state instead.
local function seqOf(state)
  return string.match(state, '^([^|]*)')
end
while not full do
  local ids = redis.call('ZREVRANGEBYSCORE', base, max, '-inf', 'LIMIT', 0, batch)
  local n = #ids
  if n == 0 then break end
  local states = redis.call('HMGET', S, unpack(ids))
  for j = 1, n do
    local ok = true
    if filtered then
      local st = parse(states[j])
      ok = (cat == '' or st.cat == cat) and (status ~= 'read' or st.read ~= '') and (status ~= 'unread' or st.read == '')
    end
    if ok then
      if #matched == limit then
        next = seqOf(matchedStates[limit])
        full = true
        break
      end
      matched[#matched + 1] = ids[j]
      matchedStates[#matchedStates + 1] = states[j]
    end
  end
  if n < batch then break end
  max = '(' .. seqOf(states[n])
end
local out = counts()
out[4] = next
if #matched > 0 then
  local contents = redis.call('HMGET', I, unpack(matched))
  for j = 1, #matched do
    out[#out + 1] = matchedStates[j]
    out[#out + 1] = contents[j]
  end
end
return out
`;

/** ARGV: now → { total, unread, unseen } */
const COUNTS = `
purge()
return counts()
`;

/** ARGV: now, id, read ('1'|'0'|''), seen, archived → { content, state } or false when missing. */
const UPDATE = `
purge()
local id, read, seen, arch = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local state = redis.call('HGET', S, id)
if not state then return false end
local st = parse(state)
local before = state
local t = tostring(now)
if seen == '0' then st.seen = ''; st.read = '' end
if seen == '1' and st.seen == '' then st.seen = t end
if read == '0' then st.read = '' end
if read == '1' and st.read == '' then st.read = t; if st.seen == '' then st.seen = t end end
if arch == '1' and st.arch == '' then st.arch = t end
if arch == '0' then st.arch = '' end
local after = st.seq .. '|' .. st.seen .. '|' .. st.read .. '|' .. st.arch .. '|' .. st.cat
if after ~= before then
  put(id, st)
  changed()
end
return { redis.call('HGET', I, id), after }
`;

/** ARGV: now, action, id... (no ids = the whole feed) → number of items whose state changed. */
const MARK = `
purge()
local action = ARGV[2]
local t = tostring(now)
local function apply(id)
  local state = redis.call('HGET', S, id)
  if not state then return 0 end
  local st = parse(state)
  if action == 'read' then
    if st.read ~= '' then return 0 end
    st.read = t
    if st.seen == '' then st.seen = t end
  elseif action == 'unread' then
    if st.read == '' then return 0 end
    st.read = ''
  elseif action == 'seen' then
    if st.seen ~= '' then return 0 end
    st.seen = t
  elseif action == 'archive' then
    if st.arch ~= '' then return 0 end
    st.arch = t
  elseif action == 'unarchive' then
    if st.arch == '' then return 0 end
    st.arch = ''
  end
  put(id, st)
  return 1
end
local updated = 0
if #ARGV > 2 then
  for k = 3, #ARGV do updated = updated + apply(ARGV[k]) end
else
  -- Visit only the sets that can hold items the action changes; archived items are few.
  local candidates
  if action == 'read' then candidates = { U, X }
  elseif action == 'seen' then candidates = { N, X }
  elseif action == 'archive' then candidates = { A }
  elseif action == 'unarchive' then candidates = { X }
  else candidates = { F } end
  for _, set in ipairs(candidates) do
    for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do updated = updated + apply(id) end
  end
end
if updated > 0 then changed() end
return updated
`;

/** ARGV: now, id → 1 deleted, 0 missing. */
const REMOVE = `
purge()
local id = ARGV[2]
if redis.call('HEXISTS', S, id) == 0 then return 0 end
drop(id)
changed()
return 1
`;

/*
 * The Idempotency-Key record lives under its own tag {tenant:key}: it is one key, so the script is
 * single-slot. Fields: fp (request fingerprint), id, at (createdAt), done ('1' when completed),
 * lease (ms until which the current attempt holds it). The key expires with the retention window.
 *
 * ARGV: now, fingerprint, id, createdAt, leaseMs, ttlMs → { state, id?, createdAt? }
 */
const RESERVE = `
local K = KEYS[1]
local now, fp, id, at, lease, ttl = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local r = redis.call('HMGET', K, 'fp', 'id', 'at', 'done', 'lease')
if not r[1] then
  redis.call('HSET', K, 'fp', fp, 'id', id, 'at', at, 'done', '0', 'lease', now + lease)
  redis.call('PEXPIRE', K, ttl)
  return { 'new' }
end
if r[1] ~= fp then return { 'mismatch' } end
if r[4] == '1' then return { 'done', r[2], r[3] } end
if tonumber(r[5]) > now then return { 'in-flight' } end
redis.call('HSET', K, 'lease', now + lease)
return { 'resume', r[2], r[3] }
`;

export const SCRIPTS = {
  deliver: { keys: "feed", source: PRELUDE + DELIVER },
  list: { keys: "feed", source: PRELUDE + LIST },
  counts: { keys: "feed", source: PRELUDE + COUNTS },
  update: { keys: "feed", source: PRELUDE + UPDATE },
  mark: { keys: "feed", source: PRELUDE + MARK },
  remove: { keys: "feed", source: PRELUDE + REMOVE },
  reserve: { keys: "idempotency", source: RESERVE },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
