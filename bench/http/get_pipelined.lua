-- GET /orders/{id}/ over the seeded orders, 16 requests pipelined per write (HTTP/1.1
-- pipelining; wrk counts each answer). Compare with get.lua in the same run.
package.path = os.getenv("ORDERLOG_BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local depth = 16
local batches
init = function(args)
  local ids = common.load_ids()
  batches = {}
  local n = math.random(#ids)
  for b = 1, 64 do  -- a few distinct batches, built once
    local parts = {}
    for i = 1, depth do
      n = n % #ids + 1
      parts[i] = wrk.format("GET", "/orders/" .. ids[n] .. "/")
    end
    batches[b] = table.concat(parts)
  end
end
local b = 0
request = function()
  b = b % #batches + 1
  return batches[b]
end
done = function(summary, latency, requests) common.report(summary, latency) end
