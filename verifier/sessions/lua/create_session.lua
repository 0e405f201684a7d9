-- Create a session at login, index it under its user, and prune the index.
-- KEYS[1] session hash, KEYS[2] the user's session index (zset sid -> absolute expiry ms)
-- ARGV[1] session id, ARGV[2] refresh-token hash, ARGV[3] now (ms), ARGV[4] idle timeout (s),
-- ARGV[5] absolute lifetime (s), ARGV[6] max sessions per user,
-- ARGV[7] session key prefix, ARGV[8] retired-set key prefix (same user, same hash tag),
-- ARGV[9] revocation channel, ARGV[10] user,
-- ARGV[11] how the user signed in (comma-joined amr values), ARGV[12] when (auth_time, s)
-- ARGV[13] device summary, ARGV[14] client address (shown on the account page, never trusted)
-- ARGV[15] family-set prefix, ARGV[16] the host the session is bound to ('' for none: without
-- single sign-on; with it, the portal's host)
-- Keys built from ARGV[7]/ARGV[8] share KEYS[2]'s hash tag, so they are in the same slot.
local now = tonumber(ARGV[3])
local absolute_ms = now + tonumber(ARGV[5]) * 1000
redis.call('HSET', KEYS[1], 'created_ms', now, 'absolute_ms', absolute_ms,
           'current', ARGV[2], 'previous', '', 'previous_until_ms', 0, 'generation', 0,
           'amr', ARGV[11], 'auth_time', ARGV[12], 'device', ARGV[13], 'address', ARGV[14])
if ARGV[16] ~= '' then
  redis.call('HSET', KEYS[1], 'host', ARGV[16])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])

-- Drop index entries whose session has ended (absolute expiry, idle TTL, or deleted).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[7] .. sid) == 0 then
    redis.call('ZREM', KEYS[2], sid)
  end
end
redis.call('ZADD', KEYS[2], absolute_ms, ARGV[1])

-- Past the per-user cap, the oldest sessions end: a leaked password cannot pile up sessions.
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
local evicted = {}
if excess > 0 then
  evicted = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  for _, sid in ipairs(evicted) do
    redis.call('DEL', ARGV[7] .. sid, ARGV[8] .. sid)
    redis.call('ZREM', KEYS[2], sid)
    redis.call('PUBLISH', ARGV[9], 's ' .. ARGV[10] .. ' ' .. sid)
    -- An evicted portal session takes the sessions it handed to app hosts with it.
    end_children(ARGV[7], ARGV[8], ARGV[15], ARGV[9], ARGV[10], sid)
  end
end
-- The index must outlive the newest session, which has the furthest absolute expiry.
redis.call('EXPIRE', KEYS[2], ARGV[5])
return evicted
