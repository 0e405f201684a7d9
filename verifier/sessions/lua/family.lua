-- Session families (single sign-on), prepended to every script that ends sessions.
-- A portal session hands app hosts child sessions: each child's hash names its portal
-- session in `family`, and the portal session's family set (family prefix .. portal id)
-- lists its children. Ending any member of a family ends all of it, in the same script.
-- Without single sign-on no session has a family and no family set exists: these
-- functions then find nothing and change nothing. Every key they build carries the user's
-- hash tag, like the calling script's own keys, so a script stays in one Cluster slot.

-- End every child of `root` (and its family set); returns the ids that were ended.
local function end_children(session_prefix, retired_prefix, family_prefix, channel, user, root)
  local family = family_prefix .. root
  local children = redis.call('SMEMBERS', family)
  for _, child in ipairs(children) do
    redis.call('DEL', session_prefix .. child, retired_prefix .. child)
    redis.call('PUBLISH', channel, 's ' .. user .. ' ' .. child)
  end
  redis.call('DEL', family)
  return children
end
