-- End one session. KEYS[1] session hash, KEYS[2] retired set, KEYS[3] index
-- ARGV[1] session id, ARGV[2] revocation channel, ARGV[3] user
-- Returns 1 when the session existed. Workers caching "this session is live" hear it at once.
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], 's ' .. ARGV[3] .. ' ' .. ARGV[1])
return existed
