-- PUT /orders/{id}/status/: each of the two wrk threads walks its half of the seeded orders
-- (tid, tid + 2, ...), shipping each, then a second pass over the same half delivers them (two
-- appends per order; a third pass would only get 409s, so keep runs shorter than that).
package.path = os.getenv("ORDERLOG_BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local ids, n, pass, step
local counter = 0
setup = function(thread) counter = counter + 1; thread:set("tid", counter) end
init = function(args) ids = common.load_ids(); step = 2; n = tid - step; pass = 1 end  -- wrk -t2
request = function()
  n = n + step
  -- The second pass skips the first order of the half: wrk may throw away the very first request
  -- a thread builds (seen: that order was never shipped, so delivering it was a 409).
  if n > #ids then n = tid + step; pass = pass + 1 end
  local status = (pass % 2 == 1) and "shipped" or "delivered"
  return wrk.format("PUT", "/orders/" .. ids[n] .. "/status/", {["Content-Type"] = "application/json"},
                    '{"new_status": "' .. status .. '"}')
end
done = function(summary, latency, requests) common.report(summary, latency) end
