-- Create a user record unless the name is taken.
-- KEYS[1] the user's record; ARGV[1] password hash, ARGV[2] creation time (s), ARGV[3] groups
-- ('' for none), ARGV[4] revocation channel, ARGV[5] user, ARGV[6] '1' for a disabled
-- account (an export of one), else ''
-- Returns 1 if the user was created, 0 if the name was taken (nothing written).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[1], 'created', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'groups', ARGV[3])
end
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'disabled', '1')
end
-- A worker may still hold what it read about an earlier user of the same name.
redis.call('PUBLISH', ARGV[4], 'g ' .. ARGV[5])
return 1
