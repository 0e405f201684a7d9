-- End every session of one user but one (the caller's: "end all other sessions"), with
-- their families; the caller's family stays whole (a child keeps its portal session).
-- KEYS[1] the user's session index; ARGV[1] session key prefix, ARGV[2] retired-set prefix,
-- ARGV[3] revocation channel, ARGV[4] user, ARGV[5] the session id to keep,
-- ARGV[6] family-set prefix
-- Keys built from the prefixes share KEYS[1]'s hash tag, so they are in the same slot.
-- Returns the ids of the sessions that were live and are now ended (children included);
-- each is published, so every worker forgets it at once.
local keep = redis.call('HGET', ARGV[1] .. ARGV[5], 'family') or ARGV[5]
local ended = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= keep then
    local existed = redis.call('DEL', ARGV[1] .. sid)
    redis.call('DEL', ARGV[2] .. sid)
    redis.call('ZREM', KEYS[1], sid)
    redis.call('PUBLISH', ARGV[3], 's ' .. ARGV[4] .. ' ' .. sid)
    if existed == 1 then
      ended[#ended + 1] = sid
    end
    for _, child in ipairs(end_children(ARGV[1], ARGV[2], ARGV[6], ARGV[3], ARGV[4], sid)) do
      ended[#ended + 1] = child
    end
  end
end
return ended
