-- get.lua: the same GET on every request (headers from wrk -H), with every status counted.
--
-- Counting needs response(), which makes wrk hand each response to Lua; without it wrk only
-- counts statuses >= 400, and a 3xx (say, a redirect to the login page) would pass for a
-- success.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

counters = {}

function response(status, headers, body)
  local key = "status_" .. status
  counters[key] = (counters[key] or 0) + 1
end
