-- Write an API token's record, which Redis deletes by itself when the token expires.
-- KEYS[1] the token's record; ARGV[1] its expiry (ms since the epoch), then field, value...
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
