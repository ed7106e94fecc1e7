-- POST /orders/ with a 117-byte order.
package.path = os.getenv("ORDERLOG_BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
wrk.method = "POST"
wrk.path = "/orders/"
wrk.body = '{"customer_id": "customer-0042", "product": "Laptop with a long product name", "quantity": 2, "note": "x"}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests) common.report(summary, latency) end
