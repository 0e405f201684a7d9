-- Give a user name to an upstream identity (`verifier users link`), creating the record if
-- there is none. A name belongs to one source: a local password is removed, and upstream
-- groups of a former link are dropped (the new source writes its own at the next sign-in).
-- KEYS[1] the user's record; ARGV[1] source, ARGV[2] its id for the user, ARGV[3] now (s),
-- ARGV[4] the revocation channel, ARGV[5] user
-- Returns the record's former source: 'local', another source's name, or '' if it was new.
local former = redis.call('HMGET', KEYS[1], 'created', 'source')
local was = ''
if former[1] then
  was = former[2] or 'local'
else
  redis.call('HSET', KEYS[1], 'created', ARGV[3])
end
redis.call('HDEL', KEYS[1], 'password_hash', 'upstream_groups')
redis.call('HSET', KEYS[1], 'source', ARGV[1], 'source_id', ARGV[2])
redis.call('PUBLISH', ARGV[4], 'g ' .. ARGV[5])
return was
