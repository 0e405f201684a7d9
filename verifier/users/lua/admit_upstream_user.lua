-- Admit a user an upstream source vouches for into the user record of their name.
-- KEYS[1] the user's record; ARGV[1] source (e.g. ldap:corp), ARGV[2] its immutable id for the
-- user, ARGV[3] their upstream groups, mapped ('' for none), ARGV[4] now (s), ARGV[5] the
-- revocation channel, ARGV[6] user, ARGV[7] '1' to create the record when there is none
-- Returns {'created'}, {'ok'} (the record is this identity's; groups brought up to date),
-- {'absent'} (no record, and ARGV[7] is not '1') or {'taken', owner}: the name belongs to
-- another source, or to another identity of the same one (owner 'local' for a local user).
-- Identity is (source, id), never the name: a name another identity holds is never taken over.
local record = redis.call('HMGET', KEYS[1], 'created', 'source', 'source_id', 'upstream_groups')
if not record[1] then
  if ARGV[7] ~= '1' then
    return {'absent'}
  end
  redis.call('HSET', KEYS[1], 'created', ARGV[4], 'source', ARGV[1], 'source_id', ARGV[2])
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[1], 'upstream_groups', ARGV[3])
  end
  -- A worker may still hold what it read about an earlier user of the same name.
  redis.call('PUBLISH', ARGV[5], 'g ' .. ARGV[6])
  return {'created'}
end
if record[2] ~= ARGV[1] or record[3] ~= ARGV[2] then
  return {'taken', record[2] or 'local'}
end
if (record[4] or '') ~= ARGV[3] then
  if ARGV[3] == '' then
    redis.call('HDEL', KEYS[1], 'upstream_groups')
  else
    redis.call('HSET', KEYS[1], 'upstream_groups', ARGV[3])
  end
  -- In the same step as the write: no worker keeps the old groups past it.
  redis.call('PUBLISH', ARGV[5], 'g ' .. ARGV[6])
end
return {'ok'}
