-- A mixed workload: 70% GET by id, 20% POST, 10% PUT that ships an order this thread created
-- (every request is a legal one, so any non-2xx answer is a failure).
package.path = os.getenv("ORDERLOG_BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local ids
local created = {}
local body = '{"customer_id": "customer-0042", "product": "Laptop", "quantity": 2}'
init = function(args) ids = common.load_ids() end
request = function()
  local r = math.random(100)
  if r > 90 and #created > 0 then
    local id = table.remove(created)
    return wrk.format("PUT", "/orders/" .. id .. "/status/", {["Content-Type"] = "application/json"},
                      '{"new_status": "shipped"}')
  elseif r > 70 then
    return wrk.format("POST", "/orders/", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/orders/" .. ids[math.random(#ids)] .. "/")
end
response = function(status, headers, resp_body)
  if status == 201 then
    local id = string.match(resp_body, '"order_id":"([^"]+)"')
    if id and #created < 100000 then created[#created + 1] = id end
  end
end
done = function(summary, latency, requests) common.report(summary, latency) end
