-- Replace a user's groups if they are still what the caller read, and announce the change.
-- KEYS[1] the user's record; ARGV[1] the groups field as the caller read it ('' if absent),
-- ARGV[2] its new value ('' for none), ARGV[3] revocation channel, ARGV[4] user
-- Returns -1 if there is no such user, 0 if the field changed since it was read (read it
-- again and retry), 1 when the new value is in place.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local current = redis.call('HGET', KEYS[1], 'groups') or ''
if current ~= ARGV[1] then
  return 0
end
if ARGV[2] == current then
  return 1
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'groups')
else
  redis.call('HSET', KEYS[1], 'groups', ARGV[2])
end
-- In the same atomic step as the write: no worker can keep the old groups past it.
redis.call('PUBLISH', ARGV[3], 'g ' .. ARGV[4])
return 1
