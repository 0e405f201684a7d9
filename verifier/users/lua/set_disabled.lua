-- Disable a user (or enable them again), and announce the change in the same step.
-- KEYS[1] the user's record; ARGV[1] '1' to disable, '' to enable, ARGV[2] revocation
-- channel, ARGV[3] user
-- Returns -1 if there is no such user, 0 if nothing changed, 1 when the change is made.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local current = redis.call('HGET', KEYS[1], 'disabled') or ''
if current == ARGV[1] then
  return 0
end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'disabled')
else
  redis.call('HSET', KEYS[1], 'disabled', ARGV[1])
end
-- No worker may keep what it cached for the user (their tokens' checks above all) past it.
redis.call('PUBLISH', ARGV[2], 'g ' .. ARGV[3])
return 1
