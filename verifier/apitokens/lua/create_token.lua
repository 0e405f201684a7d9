-- Index a new API token under its owner, and hand back the owner's token epoch.
-- KEYS[1] the owner's record, KEYS[2] the owner's token index (id -> digest), KEYS[3] the
-- owner's token epoch (all three under the owner's hash tag: one slot)
-- ARGV[1] token id, ARGV[2] token digest, ARGV[3] a fresh epoch (kept only if the owner has
-- none), ARGV[4] the most tokens one owner may have
-- Returns {1, epoch}; {0, ''} no such user; {-1, ''} too many tokens; {-2, ''} disabled.
-- The token's own record is written next, with this epoch: if every session and token of
-- the owner ends in between (the epoch deleted), the record is born void.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, ''}
end
if redis.call('HGET', KEYS[1], 'disabled') == '1' then
  return {-2, ''}
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then
  return {-1, ''}
end
redis.call('SET', KEYS[3], ARGV[3], 'NX')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return {1, redis.call('GET', KEYS[3])}
