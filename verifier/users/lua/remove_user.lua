-- Delete a user's record and void every API token they made, in one step, and announce it.
-- KEYS[1] the user's record, KEYS[2] the user's API token epoch (verifier.apitokens);
-- ARGV[1] revocation channel, ARGV[2] user
-- Returns 1 if the user existed. A new account of the same name starts without an epoch, so
-- no token of this one can pass for one of its own.
redis.call('DEL', KEYS[2])
local removed = redis.call('DEL', KEYS[1])
if removed == 1 then
  redis.call('PUBLISH', ARGV[1], 'g ' .. ARGV[2])
end
return removed
