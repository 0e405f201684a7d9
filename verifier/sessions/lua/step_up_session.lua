-- Strengthen a live session in place after a step-up: add methods, never remove any.
-- KEYS[1] session hash
-- ARGV[1] methods just proven (comma-joined amr values), ARGV[2] their auth_time (s),
-- ARGV[3] now (ms)
-- Returns {amr, auth_time, absolute_ms, source} as now stored, or false when the session is
-- gone (source: false for a local session).
-- The TTLs are left alone: a step-up extends neither the idle timeout nor the lifetime.
local session = redis.call('HMGET', KEYS[1], 'absolute_ms', 'amr', 'auth_time', 'created_ms',
                          'source')
if not session[1] then
  return false
end
local absolute_ms = tonumber(session[1])
if tonumber(ARGV[3]) >= absolute_ms then
  return false  -- past its lifetime: the TTL is about to end it anyway
end

-- A session from before sessions recorded their sign-in: a password, at its creation.
local amr = session[2] or 'pwd'
local seen = {}
local merged = {}
for method in string.gmatch(amr .. ',' .. ARGV[1], '[^,]+') do
  if not seen[method] then
    seen[method] = true
    merged[#merged + 1] = method
  end
end
local auth_time = tonumber(session[3]) or math.floor(tonumber(session[4] or '0') / 1000)
-- The latest sign-in counts; a step-up told of an older one never turns the clock back.
if tonumber(ARGV[2]) > auth_time then
  auth_time = tonumber(ARGV[2])
end
local joined = table.concat(merged, ',')
redis.call('HSET', KEYS[1], 'amr', joined, 'auth_time', auth_time)
return {joined, tostring(auth_time), tostring(absolute_ms), session[5]}
