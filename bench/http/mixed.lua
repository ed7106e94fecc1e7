-- A mixed workload: 70% GET by id, 20% POST, 10% PUT (cancel; a 409 once final is still an answer).
package.path = os.getenv("ORDERLOG_BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local ids
local body = '{"customer_id": "customer-0042", "product": "Laptop", "quantity": 2}'
init = function(args) ids = common.load_ids() end
request = function()
  local r = math.random(100)
  local id = ids[math.random(#ids)]
  if r <= 70 then
    return wrk.format("GET", "/orders/" .. id .. "/")
  elseif r <= 90 then
    return wrk.format("POST", "/orders/", {["Content-Type"] = "application/json"}, body)
  else
    return wrk.format("PUT", "/orders/" .. id .. "/status/", {["Content-Type"] = "application/json"},
                      '{"new_status": "cancelled"}')
  end
end
done = function(summary, latency, requests) common.report(summary, latency) end
