-- report.lua: loaded by every bench script (dofile). wrk prints its summary for humans;
-- done() below prints one line, "BENCH_JSON {...}", which the harness parses instead.
--
-- Scripts count what they see per thread in the global table `counters` (status codes as
-- "status_NNN", plus their own counts); done() sums them across threads with thread:get,
-- because each wrk thread runs its own Lua state and done() runs in the main one.

local threads = {}

-- Runs in the main state once per thread, before that thread's init(): give each thread a
-- 0-based index so scripts can pick their share of per-connection data.
function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local function encode(value)
  if type(value) == "table" then
    local parts = {}
    for key, item in pairs(value) do
      table.insert(parts, string.format("%q:%s", tostring(key), encode(item)))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  -- %.17g keeps integers integral; a NaN (no samples) would not be valid JSON.
  if value ~= value then
    return "null"
  end
  return string.format("%.17g", value)
end

function done(summary, latency, requests)
  local counters = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("counters")
    if type(counted) == "table" then
      for key, count in pairs(counted) do
        counters[key] = (counters[key] or 0) + count
      end
    end
  end
  local report = {
    requests = summary.requests,
    duration_us = summary.duration,
    errors = {
      connect = summary.errors.connect,
      read = summary.errors.read,
      write = summary.errors.write,
      status = summary.errors.status,
      timeout = summary.errors.timeout,
    },
    latency_us = {
      p50 = latency:percentile(50),
      p90 = latency:percentile(90),
      p99 = latency:percentile(99),
      mean = latency.mean,
      max = latency.max,
    },
    counters = counters,
  }
  io.write("BENCH_JSON ", encode(report), "\n")
end
