-- Check a presented refresh-token hash against a session and rotate it, atomically.
-- KEYS[1] session hash, KEYS[2] the session's retired-hash set, KEYS[3] the user's index,
-- KEYS[4] the user's record (read only: its groups travel back with the answer, so a refresh
-- needs no second round trip to learn them)
-- ARGV[1] presented hash, ARGV[2] new hash, ARGV[3] now (ms), ARGV[4] grace window (ms),
-- ARGV[5] idle timeout (s), ARGV[6] session id, ARGV[7] revocation channel, ARGV[8] user,
-- ARGV[9] the presented token's generation (-1 for a token minted before generations),
-- ARGV[10] '1' when the verifier waits for replicas before answering (see `unconfirmed`)
-- ARGV[11] the host the token was presented on ('' without single sign-on: no binding),
-- ARGV[12] session key prefix, ARGV[13] retired-set prefix, ARGV[14] family-set prefix
-- Returns {outcome, absolute_ms, groups, amr, auth_time, created_ms, generation}; groups is
-- the record's comma-joined `groups` field ('' for none, and on a denial); amr and auth_time
-- are how and when the user signed in (false for a session from before they were recorded:
-- the caller reads that as a password at created_ms), so that the new access token carries
-- them unchanged (a refresh is not a sign-in); generation is the new token's place in the
-- session's chain of tokens (the login's token is 0); outcome is one of:
--   rotated   presented was current: new hash stored, presented kept as "previous" for grace;
--             also the same call again (presented is previous and the new hash is already
--             current: a client retry after a lost reply), and presented previous while
--             nobody is known to hold current (`undelivered`, or `unconfirmed` past the grace)
--   grace     presented was the previous token, inside the grace window: accept, no rotation
--   replayed  a rotated-out token after its grace (or older), whose successor was handed
--             out: the whole session is revoked
--   lost      a token of a later generation than this server's current one: this server
--             never saw the rotation that made it (a failover lost it); deny, change nothing
--   unknown   no such session, or a hash this session never issued: deny, change nothing
--   wrong_host  (single sign-on) the session is bound to another host than the one the
--             token was presented on: deny, change nothing (a refresh token is never rotated
--             on a host it was not made for)
-- A child session (single sign-on) is also denied as unknown once its portal session has
-- ended; its rotation keeps the portal session alive; its replay ends the whole family.
--
-- Two marks say that the holder of `current` may not have it, so that the token it kept is
-- not taken for a replay:
--   unconfirmed  written by the rotation itself, in the same script, when the verifier waits
--                for replicas: whichever server has the rotation (the master, a replica
--                promoted after it) has the mark with it. The verifier clears it once a
--                replica has confirmed the rotation, just before it hands out the new token.
--   undelivered  written after a rotation whose replicas did not confirm (withhold_rotation
--                .lua): the new token was never handed out.
local now = tonumber(ARGV[3])
local session = redis.call('HMGET', KEYS[1], 'current', 'previous', 'previous_until_ms',
                          'absolute_ms', 'amr', 'auth_time', 'created_ms', 'undelivered',
                          'unconfirmed', 'generation', 'host', 'family')
local current, previous = session[1], session[2]
-- The portal session of a child (single sign-on), or false.
local portal = session[12]

local function revoke()
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[6])
  redis.call('PUBLISH', ARGV[7], 's ' .. ARGV[8] .. ' ' .. ARGV[6])
  -- The whole family: the portal session and every child, this one's siblings included.
  local root = portal or ARGV[6]
  if portal then
    redis.call('DEL', ARGV[12] .. portal, ARGV[13] .. portal)
    redis.call('ZREM', KEYS[3], portal)
    redis.call('PUBLISH', ARGV[7], 's ' .. ARGV[8] .. ' ' .. portal)
  end
  end_children(ARGV[12], ARGV[13], ARGV[14], ARGV[7], ARGV[8], root)
end

if not current then
  return {'unknown', '0', ''}
end
if ARGV[11] ~= '' and session[11] ~= ARGV[11] then
  return {'wrong_host', '0', ''}
end
if portal and redis.call('EXISTS', ARGV[12] .. portal) == 0 then
  -- A child never outlives its portal session.
  revoke()
  return {'unknown', '0', ''}
end
local absolute_ms = tonumber(session[4])
if now >= absolute_ms then
  -- The TTL ends the session at absolute_ms anyway; this closes the last-millisecond gap.
  revoke()
  return {'unknown', '0', ''}
end
local generation = tonumber(session[10]) or 0

local function answer(outcome, new_generation)
  return {outcome, tostring(absolute_ms), redis.call('HGET', KEYS[4], 'groups') or '',
          session[5], session[6], session[7], tostring(new_generation)}
end

local function rotated(new_generation)
  -- Rotation renews the idle timeout, never the absolute lifetime counted from login.
  local ttl_ms = math.min(tonumber(ARGV[5]) * 1000, absolute_ms - now)
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('PEXPIRE', KEYS[2], absolute_ms - now)
  if portal then
    -- Activity on any host keeps the portal session alive, at least as long as this child.
    local portal_key = ARGV[12] .. portal
    local portal_absolute_ms = tonumber(redis.call('HGET', portal_key, 'absolute_ms') or '0')
    local wanted_ms = math.min(tonumber(ARGV[5]) * 1000, portal_absolute_ms - now)
    if wanted_ms > 0 and redis.call('PTTL', portal_key) < wanted_ms then
      redis.call('PEXPIRE', portal_key, wanted_ms)
    end
    redis.call('HSET', portal_key, 'used_ms', now)
  end
  return answer('rotated', new_generation)
end

local function mark_unconfirmed()
  if ARGV[10] == '1' then
    redis.call('HSET', KEYS[1], 'unconfirmed', ARGV[2])
  else
    redis.call('HDEL', KEYS[1], 'unconfirmed')
  end
  redis.call('HDEL', KEYS[1], 'undelivered')
end

if ARGV[1] == current then
  if previous ~= '' then
    redis.call('SADD', KEYS[2], previous)
  end
  -- used_ms: the account page's "last used", written only by a rotation, so that an
  -- allowed /auth request never writes to Redis.
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', current,
             'previous_until_ms', now + tonumber(ARGV[4]), 'used_ms', now,
             'generation', generation + 1)
  mark_unconfirmed()
  return rotated(generation + 1)
end

if ARGV[1] == previous and ARGV[2] == current then
  -- The same call again: the new hash comes from a secret this very request minted, so
  -- nobody else can present this pair. Written again (same value) so that a WAIT on the
  -- retry's connection waits for the replication of the first run too.
  redis.call('HSET', KEYS[1], 'current', ARGV[2])
  return rotated(generation)
end

local past_grace = previous ~= '' and now > tonumber(session[3])
if ARGV[1] == previous and (session[8] == current or (session[9] == current and past_grace)) then
  -- Nobody is known to hold current: rotate from presented again, which stays the previous
  -- token, and the new token takes current's place in the chain.
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous_until_ms', now + tonumber(ARGV[4]),
             'used_ms', now)
  mark_unconfirmed()
  return rotated(generation)
end

if ARGV[1] == previous then
  if not past_grace then
    return answer('grace', generation)
  end
  revoke()
  return {'replayed', '0', ''}
end

if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  revoke()
  return {'replayed', '0', ''}
end
if tonumber(ARGV[9]) > generation then
  return {'lost', '0', ''}
end
return {'unknown', '0', ''}
