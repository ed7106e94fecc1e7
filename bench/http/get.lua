-- GET /orders/{id}/ over the seeded orders.
package.path = os.getenv("ORDERLOG_BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local ids, n
init = function(args) ids = common.load_ids(); n = math.random(#ids) end
request = function()
  n = n % #ids + 1
  return wrk.format("GET", "/orders/" .. ids[n] .. "/")
end
done = function(summary, latency, requests) common.report(summary, latency) end
