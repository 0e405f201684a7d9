-- End every session of one user (with single sign-on, every child of every portal session),
-- and void every API token they made.
-- KEYS[1] the user's session index, KEYS[2] the user's API token epoch (verifier.apitokens);
-- ARGV[1] session key prefix, ARGV[2] retired-set prefix, ARGV[3] revocation channel,
-- ARGV[4] user, ARGV[5] family-set prefix
-- Returns the ids of the sessions of the index that were ended (children are published).
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, sid in ipairs(sids) do
  redis.call('DEL', ARGV[1] .. sid, ARGV[2] .. sid)
  end_children(ARGV[1], ARGV[2], ARGV[5], ARGV[3], ARGV[4], sid)
end
redis.call('DEL', KEYS[1])
-- Every token records the epoch it was made in: without it, none of them is valid any more,
-- in this same step, though the tokens' own records live in other slots.
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], 'u ' .. ARGV[4])
return sids
