-- End every session of one user, and void every API token they made.
-- KEYS[1] the user's session index, KEYS[2] the user's API token epoch (verifier.apitokens);
-- ARGV[1] session key prefix, ARGV[2] retired-set prefix, ARGV[3] revocation channel,
-- ARGV[4] user
-- Returns the ids of the sessions that were ended.
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, sid in ipairs(sids) do
  redis.call('DEL', ARGV[1] .. sid, ARGV[2] .. sid)
end
redis.call('DEL', KEYS[1])
-- Every token records the epoch it was made in: without it, none of them is valid any more,
-- in this same step, though the tokens' own records live in other slots.
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], 'u ' .. ARGV[4])
return sids
