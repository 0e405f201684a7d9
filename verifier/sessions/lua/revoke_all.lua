-- End every session of one user (with single sign-on, every child of every portal session).
-- KEYS[1] the user's session index; ARGV[1] session key prefix, ARGV[2] retired-set prefix,
-- ARGV[3] revocation channel, ARGV[4] user, ARGV[5] family-set prefix
-- Returns the ids of the sessions of the index that were ended (children are published).
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, sid in ipairs(sids) do
  redis.call('DEL', ARGV[1] .. sid, ARGV[2] .. sid)
  end_children(ARGV[1], ARGV[2], ARGV[5], ARGV[3], ARGV[4], sid)
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], 'u ' .. ARGV[4])
return sids
