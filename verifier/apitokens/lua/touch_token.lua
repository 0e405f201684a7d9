-- Record when an API token was last used, unless a later use is recorded already.
-- KEYS[1] the token's record; ARGV[1] when (s). Never creates a record: a token revoked or
-- expired since its use stays gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
if tonumber(ARGV[1]) > used then
  redis.call('HSET', KEYS[1], 'used', ARGV[1])
end
return 1
