-- End one session. KEYS[1] session hash, KEYS[2] retired set, KEYS[3] index; ARGV[1] session id
-- Returns 1 when the session existed.
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return existed
