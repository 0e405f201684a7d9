-- End one session and its whole family (single sign-on: a child ends its portal session and
-- every sibling; a portal session ends its children).
-- KEYS[1] session hash, KEYS[2] retired set, KEYS[3] index
-- ARGV[1] session id, ARGV[2] revocation channel, ARGV[3] user, ARGV[4] session key prefix,
-- ARGV[5] retired-set prefix, ARGV[6] family-set prefix (same user, same hash tag)
-- Returns {existed, ended ids...}: existed is 1 when the session was live; every ended id is
-- published, so workers caching "this session is live" hear it at once.
local root = redis.call('HGET', KEYS[1], 'family') or ARGV[1]
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], 's ' .. ARGV[3] .. ' ' .. ARGV[1])
local ended = {existed, ARGV[1]}
if root ~= ARGV[1] then
  redis.call('DEL', ARGV[4] .. root, ARGV[5] .. root)
  redis.call('ZREM', KEYS[3], root)
  redis.call('PUBLISH', ARGV[2], 's ' .. ARGV[3] .. ' ' .. root)
  ended[#ended + 1] = root
end
for _, child in ipairs(end_children(ARGV[4], ARGV[5], ARGV[6], ARGV[2], ARGV[3], root)) do
  if child ~= ARGV[1] then
    ended[#ended + 1] = child
  end
end
return ended
