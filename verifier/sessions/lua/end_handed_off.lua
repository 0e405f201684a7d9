-- Single sign-on: a redeemed hand-off code came back (RFC 6749 section 4.1.2): end the child
-- session it made, and make sure it can no longer be made if the redemption is still under
-- way (create_child_session.lua refuses a child with this marker).
-- KEYS[1] the child's hash, KEYS[2] its retired set, KEYS[3] its revoked marker
-- ARGV[1] child id, ARGV[2] revocation channel, ARGV[3] user, ARGV[4] family-set prefix,
-- ARGV[5] how long the marker stays (s: longer than a code lives)
-- Returns 1 when the child existed.
redis.call('SET', KEYS[3], '1', 'EX', ARGV[5])
local family = redis.call('HGET', KEYS[1], 'family')
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
if family then
  redis.call('SREM', ARGV[4] .. family, ARGV[1])
end
redis.call('PUBLISH', ARGV[2], 's ' .. ARGV[3] .. ' ' .. ARGV[1])
return existed
