-- Void every API token of one owner at once: no record made under the old epoch is valid.
-- KEYS[1] the owner's token epoch; ARGV[1] revocation channel, ARGV[2] owner
-- Announced as a change of the owner: workers forget all they cached for them.
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], 'g ' .. ARGV[2])
return 1
