-- Replace a password hash only if it is still the one that was just verified.
-- KEYS[1] the user's record; ARGV[1] the verified hash, ARGV[2] its replacement
-- Returns 1 if replaced, 0 if the password was changed (or the user removed) meanwhile:
-- upgrading a hash must never undo an administrator's `users passwd`.
if redis.call('HGET', KEYS[1], 'password_hash') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[2])
return 1
