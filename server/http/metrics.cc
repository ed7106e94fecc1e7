#include "server/http/metrics.h"

#include <cstdio>

namespace orderlog::http {

const char* CloseReasonLabel(CloseReason reason) {
  switch (reason) {
    case CloseReason::kClient:
      return "client";
    case CloseReason::kRequested:
      return "requested";
    case CloseReason::kIdle:
      return "idle";
    case CloseReason::kTimedOut:
      return "timed_out";
    case CloseReason::kRefused:
      return "refused";
    case CloseReason::kOverCapacity:
      return "over_capacity";
    case CloseReason::kEvicted:
      return "evicted";
    case CloseReason::kSlowReader:
      return "slow_reader";
    case CloseReason::kNoDescriptors:
      return "no_descriptors";
  }
  return "unknown";
}

void RenderHistogram(std::string* out, const std::string& name, const std::string& labels,
                     const LatencyHistogram::Snapshot& h) {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  char buf[512];
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    if (i < LatencyHistogram::kBoundMicros.size()) {
      std::snprintf(buf, sizeof(buf), "%s_bucket{%s%sle=\"%g\"} %llu\n", name.c_str(),
                    labels.c_str(), sep.c_str(), LatencyHistogram::kBoundMicros[i] / 1e6,
                    static_cast<unsigned long long>(cumulative));
    } else {
      std::snprintf(buf, sizeof(buf), "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name.c_str(),
                    labels.c_str(), sep.c_str(), static_cast<unsigned long long>(cumulative));
    }
    *out += buf;
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  std::snprintf(buf, sizeof(buf), "%s_sum%s %.6f\n%s_count%s %llu\n", name.c_str(), braces.c_str(),
                static_cast<double>(h.sum_micros) / 1e6, name.c_str(), braces.c_str(),
                static_cast<unsigned long long>(cumulative));
  *out += buf;
}

void Metrics::CountRequest(RouteId route, std::string_view method, int code,
                           std::chrono::nanoseconds d) {
  {
    std::lock_guard lk(mu_);
    ++requests_[{route, std::string(method), code}];
  }
  request_seconds_[static_cast<size_t>(route)].Observe(d);
}

std::string Metrics::Render(const Gauges& g) const {
  std::string out;
  char buf[256];
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    std::snprintf(buf, sizeof(buf), "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
                  name, static_cast<unsigned long long>(v));
    out += buf;
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    std::snprintf(buf, sizeof(buf), "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name,
                  name, v);
    out += buf;
  };
  counter("orderlog_events_appended_total", "Events appended to the log since start.",
          g.log.appended_events);
  counter("orderlog_bytes_appended_total", "Bytes appended to the log since start.",
          g.log.appended_bytes);
  counter("orderlog_fsyncs_total", "fdatasync calls on the log since start.", g.log.fsync.count());
  std::snprintf(buf, sizeof(buf), "# HELP %s %s\n# TYPE %s counter\n%s %.6f\n",
                "orderlog_fsync_seconds_total", "Time spent in those fdatasync calls.",
                "orderlog_fsync_seconds_total", "orderlog_fsync_seconds_total",
                static_cast<double>(g.log.fsync.sum_micros) / 1e6);
  out += buf;
  // The engine's own histogram of those calls.
  out +=
      "# HELP orderlog_fsync_duration_seconds fdatasync calls on the log by duration.\n"
      "# TYPE orderlog_fsync_duration_seconds histogram\n";
  RenderHistogram(&out, "orderlog_fsync_duration_seconds", "", g.log.fsync);
  out +=
      "# HELP orderlog_append_duration_seconds Time from submitting an append to its "
      "acknowledgement (group commit included).\n# TYPE orderlog_append_duration_seconds "
      "histogram\n";
  RenderHistogram(&out, "orderlog_append_duration_seconds", "", append_.Read());
  out +=
      "# HELP orderlog_http_requests_total HTTP requests by route, method and status code.\n"
      "# TYPE orderlog_http_requests_total counter\n";
  {
    std::lock_guard lk(mu_);
    for (const auto& [key, n] : requests_) {
      std::snprintf(buf, sizeof(buf),
                    "orderlog_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
                    RouteLabel(std::get<0>(key)), std::get<1>(key).c_str(), std::get<2>(key),
                    static_cast<unsigned long long>(n));
      out += buf;
    }
  }
  out +=
      "# HELP orderlog_http_request_duration_seconds HTTP request latency by route.\n"
      "# TYPE orderlog_http_request_duration_seconds histogram\n";
  for (int r = 0; r < kRouteCount; ++r) {
    RenderHistogram(&out, "orderlog_http_request_duration_seconds",
                    std::string("route=\"") + RouteLabel(static_cast<RouteId>(r)) + "\"",
                    request_seconds_[static_cast<size_t>(r)].Read());
  }
  gauge("orderlog_http_open_connections", "Open client connections.",
        static_cast<double>(open_connections_.load()));
  gauge("orderlog_http_streamed_answers", "Answers being streamed to their clients.",
        static_cast<double>(open_streams_.load(std::memory_order_relaxed)));
  counter("orderlog_http_connections_refused_total",
          "Connections answered 503 and closed because --max-connections were open.",
          refused_connections_.load(std::memory_order_relaxed));
  out +=
      "# HELP orderlog_http_connections_closed_total Client connections closed, by reason.\n"
      "# TYPE orderlog_http_connections_closed_total counter\n";
  for (int r = 0; r < kCloseReasonCount; ++r) {
    out += std::string("orderlog_http_connections_closed_total{reason=\"") +
           CloseReasonLabel(static_cast<CloseReason>(r)) + "\"} " +
           std::to_string(closed_[static_cast<size_t>(r)].load(std::memory_order_relaxed)) + "\n";
  }
  gauge("orderlog_writable", "1 while the log accepts writes, 0 while it refuses them.",
        g.writable ? 1.0 : 0.0);
  out +=
      "# HELP orderlog_writes_refused_total Writes answered 503 because the store refused them, "
      "by reason.\n"
      "# TYPE orderlog_writes_refused_total counter\n";
  static constexpr const char* kRefusalLabels[kWriteRefusalCount] = {"read_only", "no_space",
                                                                     "shutting_down"};
  for (size_t r = 0; r < kWriteRefusalCount; ++r) {
    out += std::string("orderlog_writes_refused_total{reason=\"") + kRefusalLabels[r] + "\"} " +
           std::to_string(refused_writes_[r].load(std::memory_order_relaxed)) + "\n";
  }
  gauge("orderlog_log_position", "Last committed log position.",
        static_cast<double>(g.log.committed.value));
  gauge("orderlog_orders", "Orders ever created.", static_cast<double>(g.orders));
  gauge("orderlog_replay_duration_seconds", "Start-up replay time (snapshot load and tail).",
        replay_seconds_.load());
  gauge("orderlog_read_model_frozen_views",
        "Consistent views of the read model held by snapshots being written and lists being "
        "streamed.",
        static_cast<double>(g.frozen_views));
  gauge("orderlog_snapshot_position", "Log position covered by the last snapshot.",
        static_cast<double>(g.snapshot_position));
  return out;
}

}  // namespace orderlog::http
