-- Mark a rotation whose answer is withheld (its write was not confirmed on enough replicas):
-- the new token never reaches the client, so the token it presented stays its own and may
-- rotate again (rotate_refresh.lua), inside or after the grace window.
-- KEYS[1] session hash; ARGV[1] presented hash, ARGV[2] the withheld new hash
-- Returns 1 when marked, 0 when the session has moved on (or ended) since.
local session = redis.call('HMGET', KEYS[1], 'current', 'previous')
if session[1] == ARGV[2] and session[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'undelivered', ARGV[2])
  return 1
end
return 0
