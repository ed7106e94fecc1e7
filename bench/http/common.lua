-- Shared by the wrk scripts: order ids loaded from $ORDERLOG_IDS (one per line), and latency
-- output that bench/http/run parses.
local M = {}

function M.load_ids()
  local ids = {}
  local path = os.getenv("ORDERLOG_IDS")
  if path then
    for line in io.lines(path) do ids[#ids + 1] = line end
  end
  return ids
end

function M.report(summary, latency)
  io.write(string.format("RESULT requests=%d duration_s=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d timeouts=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end

return M
