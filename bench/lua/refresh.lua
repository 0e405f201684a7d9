-- refresh.lua: the silent-refresh path. Every request carries what a browser sends when it
-- comes back after the access lifetime: an expired access token and a fresh refresh token.
-- The verifier rotates the refresh token; the rotated one (from the response's Set-Cookie)
-- is what the session sends next. The fresh access token it also sets is ignored on
-- purpose, so that every request takes the refresh path.
--
-- wrk does not tell response() which connection it belongs to, so each thread keeps a pool
-- of refresh tokens, one per session it was seeded with: a request takes a token out, its
-- response puts the rotated token back. With at least one session per connection, every
-- connection always has a token and no token is ever used twice (no grace-window reuse).
-- The harness adds one spare per thread: wrk calls request() once on the first thread
-- before the run, to check that the request parses, and never sends it.
--
-- Arguments (after wrk's "--"): sessions file (per line: refresh token, a space, that
-- session's expired access token), access cookie name, refresh cookie name, thread count.
-- Thread i takes lines i, i + threads, i + 2 * threads, ...

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

counters = { rotations = 0, lost = 0, starved = 0, seeded = 0 }

local pool = {}
local expired_access = {} -- session id -> that session's expired access token
local access_name, refresh_name
local set_cookie_pattern
local path

-- Refresh tokens are "user.session_id.secret"; neither the id nor the secret holds a dot.
local function session_id(refresh_token)
  return refresh_token:match("%.([^.]+)%.[^.]+$")
end

function init(args)
  local sessions_file, thread_count = args[1], tonumber(args[4])
  access_name, refresh_name = args[2], args[3]
  -- The name holds "-", a magic character in Lua patterns.
  set_cookie_pattern = "^" .. refresh_name:gsub("%-", "%%-") .. "=([^;]*)"
  path = wrk.path
  local line_number = 0
  for line in io.lines(sessions_file) do
    if line_number % thread_count == thread_index then
      local refresh, access = line:match("^(%S+) (%S+)$")
      expired_access[session_id(refresh)] = access
      table.insert(pool, refresh)
    end
    line_number = line_number + 1
  end
  counters.seeded = #pool
end

function request()
  local headers = { Accept = "application/json" }
  local refresh = table.remove(pool)
  if refresh then
    headers["Cookie"] = access_name .. "=" .. expired_access[session_id(refresh)]
      .. "; " .. refresh_name .. "=" .. refresh
  else
    -- Only when sessions were lost: sent anyway, so the 401 shows up in the counts.
    counters.starved = counters.starved + 1
  end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  local key = "status_" .. status
  counters[key] = (counters[key] or 0) + 1
  -- wrk keeps one value per header name: the last Set-Cookie, which nginx sends for the
  -- refresh cookie (verifier-protect.conf adds the access cookie first; the harness checks
  -- this order before the run).
  local set_cookie = headers["Set-Cookie"]
  local refresh = set_cookie and set_cookie:match(set_cookie_pattern)
  if refresh and refresh ~= "" and expired_access[session_id(refresh)] then
    table.insert(pool, refresh)
    counters.rotations = counters.rotations + 1
  else
    counters.lost = counters.lost + 1
  end
end
