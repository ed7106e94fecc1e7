-- GET against pistache-hello (Pistache's minimal handler): the HTTP ceiling of the machine.
package.path = os.getenv("ORDERLOG_BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
request = function() return wrk.format("GET", "/hello") end
done = function(summary, latency, requests) common.report(summary, latency) end
