-- Single sign-on: make a child session on an app host for a live portal session, in one step.
-- The child is an ordinary session (its own rotating refresh token, idle and absolute
-- lifetimes) bound to its host and tied to its portal session: it never outlives it, and
-- making it counts as activity on the portal session.
-- KEYS[1] portal session hash, KEYS[2] the new child's hash, KEYS[3] the portal session's
-- family set, KEYS[4] the child's revoked marker (its code came back: end_handed_off.lua)
-- ARGV[1] child id, ARGV[2] its refresh-token hash, ARGV[3] now (ms), ARGV[4] idle timeout (s),
-- ARGV[5] absolute lifetime (s), ARGV[6] the child's host, ARGV[7] portal session id,
-- ARGV[8] device summary, ARGV[9] client address, ARGV[10] the portal's host,
-- ARGV[11] the child this browser held on this host until now ('' for none), ARGV[12]
-- session key prefix, ARGV[13] retired-set prefix, ARGV[14] revocation channel, ARGV[15] user
-- Returns {amr, auth_time, absolute_ms} of the child, or false when the portal session is
-- not live (ended, past its lifetime, not a portal session) or the child was revoked.
local now = tonumber(ARGV[3])
local portal = redis.call('HMGET', KEYS[1], 'absolute_ms', 'amr', 'auth_time', 'created_ms',
                          'host', 'family')
if not portal[1] then
  return false
end
local portal_absolute_ms = tonumber(portal[1])
if now >= portal_absolute_ms then
  return false
end
-- Only a session signed in on the portal hands off: never a child, never another host's.
if portal[6] or portal[5] ~= ARGV[10] then
  return false
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  return false
end
-- How and when the user signed in is the portal session's, as of now: a step-up made on
-- the portal reaches each host at its next hand-off.
local amr = portal[2] or 'pwd'
local auth_time = portal[3] or tostring(math.floor(tonumber(portal[4] or '0') / 1000))
local absolute_ms = math.min(now + tonumber(ARGV[5]) * 1000, portal_absolute_ms)
redis.call('HSET', KEYS[2], 'created_ms', now, 'absolute_ms', absolute_ms,
           'current', ARGV[2], 'previous', '', 'previous_until_ms', 0, 'generation', 0,
           'amr', amr, 'auth_time', auth_time, 'device', ARGV[8], 'address', ARGV[9],
           'host', ARGV[6], 'family', ARGV[7])
local idle_ms = tonumber(ARGV[4]) * 1000
redis.call('PEXPIRE', KEYS[2], math.min(idle_ms, absolute_ms - now))
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[3], portal_absolute_ms)

-- Activity on any host keeps the portal session alive, at least as long as this child.
local wanted_ms = math.min(idle_ms, portal_absolute_ms - now)
if redis.call('PTTL', KEYS[1]) < wanted_ms then
  redis.call('PEXPIRE', KEYS[1], wanted_ms)
end
redis.call('HSET', KEYS[1], 'used_ms', now)

-- The child it replaces on this host (a step-up's new hand-off), if it is of this family.
if ARGV[11] ~= '' and ARGV[11] ~= ARGV[1] and redis.call('SREM', KEYS[3], ARGV[11]) == 1 then
  redis.call('DEL', ARGV[12] .. ARGV[11], ARGV[13] .. ARGV[11])
  redis.call('PUBLISH', ARGV[14], 's ' .. ARGV[15] .. ' ' .. ARGV[11])
end
return {amr, tostring(auth_time), tostring(absolute_ms)}
