-- End every session of one user.
-- KEYS[1] the user's session index; ARGV[1] session key prefix, ARGV[2] retired-set prefix,
-- ARGV[3] revocation channel, ARGV[4] user
-- Returns the ids of the sessions that were ended.
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, sid in ipairs(sids) do
  redis.call('DEL', ARGV[1] .. sid, ARGV[2] .. sid)
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], 'u ' .. ARGV[4])
return sids
