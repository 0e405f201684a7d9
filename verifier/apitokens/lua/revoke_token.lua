-- Revoke one API token of one owner, and announce it in the same step.
-- KEYS[1] the token's record; ARGV[1] owner, ARGV[2] token id, ARGV[3] revocation channel
-- Returns 1 if the token was live (and is now deleted), 0 if there was no such token.
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1]
    or redis.call('HGET', KEYS[1], 'id') ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], 'k ' .. ARGV[1] .. ' ' .. ARGV[2])
return 1
