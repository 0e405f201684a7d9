-- Check a presented refresh-token hash against a session and rotate it, atomically.
-- KEYS[1] session hash, KEYS[2] the session's retired-hash set, KEYS[3] the user's index,
-- KEYS[4] the user's record (read only: its groups travel back with the answer, so a refresh
-- needs no second round trip to learn them)
-- ARGV[1] presented hash, ARGV[2] new hash, ARGV[3] now (ms), ARGV[4] grace window (ms),
-- ARGV[5] idle timeout (s), ARGV[6] session id, ARGV[7] revocation channel, ARGV[8] user
-- Returns {outcome, absolute_ms, groups, amr, auth_time, created_ms}; groups is the record's
-- comma-joined `groups` field ('' for none, and on a denial); amr and auth_time are how and
-- when the user signed in (false for a session from before they were recorded: the caller
-- reads that as a password at created_ms), so that the new access token carries them
-- unchanged (a refresh is not a sign-in); outcome is one of:
--   rotated   presented was current: new hash stored, presented kept as "previous" for grace;
--             also the same call again (presented is previous and the new hash is already
--             current: a client retry after a lost reply), and presented previous while
--             current is marked `undelivered` (see withhold_rotation.lua: the answer that
--             carried current never left the verifier, so presented is still the holder's)
--   grace     presented was the previous token, inside the grace window: accept, no rotation
--   replayed  a rotated-out token after its grace (or older): the whole session is revoked
--   unknown   no such session, or a hash this session never issued: deny, change nothing
local function revoke()
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[6])
  redis.call('PUBLISH', ARGV[7], 's ' .. ARGV[8] .. ' ' .. ARGV[6])
end

local now = tonumber(ARGV[3])
local session = redis.call('HMGET', KEYS[1], 'current', 'previous', 'previous_until_ms',
                          'absolute_ms', 'amr', 'auth_time', 'created_ms', 'undelivered')
local current, previous = session[1], session[2]
if not current then
  return {'unknown', '0', ''}
end
local absolute_ms = tonumber(session[4])
if now >= absolute_ms then
  -- The TTL ends the session at absolute_ms anyway; this closes the last-millisecond gap.
  revoke()
  return {'unknown', '0', ''}
end

local function rotated()
  -- Rotation renews the idle timeout, never the absolute lifetime counted from login.
  local ttl_ms = math.min(tonumber(ARGV[5]) * 1000, absolute_ms - now)
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('PEXPIRE', KEYS[2], absolute_ms - now)
  return {'rotated', tostring(absolute_ms), redis.call('HGET', KEYS[4], 'groups') or '',
          session[5], session[6], session[7]}
end

if ARGV[1] == current then
  if previous ~= '' then
    redis.call('SADD', KEYS[2], previous)
  end
  -- used_ms: the account page's "last used", written only by a rotation, so that an
  -- allowed /auth request never writes to Redis.
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', current,
             'previous_until_ms', now + tonumber(ARGV[4]), 'used_ms', now)
  redis.call('HDEL', KEYS[1], 'undelivered')
  return rotated()
end

if ARGV[1] == previous and ARGV[2] == current then
  -- The same call again: the new hash comes from a secret this very request minted, so
  -- nobody else can present this pair. Written again (same value) so that a WAIT on the
  -- retry's connection waits for the replication of the first run too.
  redis.call('HSET', KEYS[1], 'current', ARGV[2])
  return rotated()
end

if ARGV[1] == previous and session[8] == current then
  -- Nobody holds current: rotate from presented again, which stays the previous token.
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous_until_ms', now + tonumber(ARGV[4]),
             'used_ms', now)
  redis.call('HDEL', KEYS[1], 'undelivered')
  return rotated()
end

if ARGV[1] == previous then
  if now <= tonumber(session[3]) then
    return {'grace', tostring(absolute_ms), redis.call('HGET', KEYS[4], 'groups') or '',
            session[5], session[6], session[7]}
  end
  revoke()
  return {'replayed', '0', ''}
end

if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  revoke()
  return {'replayed', '0', ''}
end
return {'unknown', '0', ''}
