-- A rotation that replicas confirmed is about to be answered: clear its `unconfirmed` mark
-- (rotate_refresh.lua), so that the token it replaced counts as handed over from now on and
-- its reuse past the grace window is a replay again.
-- KEYS[1] session hash; ARGV[1] the confirmed new hash
-- Returns 1 when cleared, 0 when the session has moved on (or ended) since.
if redis.call('HGET', KEYS[1], 'unconfirmed') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'unconfirmed')
  return 1
end
return 0
