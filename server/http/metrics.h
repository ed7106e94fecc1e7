// Prometheus metrics of the server (text exposition format 0.0.4). Counters and histograms are
// lock-free on the hot path except the per-(route, method, code) request counter map.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <tuple>

#include "engine/log.h"
#include "server/http/routes.h"

namespace orderlog::http {

// Appends the _bucket/_sum/_count lines of a histogram: counts[i] observations up to bounds[i]
// seconds, the last of counts (one more than bounds) above them all; labels is "" or
// `route="..."`. _count is the sum of the buckets, so the lines agree with each other even when
// the counts were read while observations went on.
void RenderHistogram(std::string* out, const std::string& name, const std::string& labels,
                     std::span<const double> bounds, std::span<const uint64_t> counts,
                     double sum_seconds);

class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count lines; labels is "" or `route="..."`.
  void Render(std::string* out, const std::string& name, const std::string& labels) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  void CountRequest(RouteId route, std::string_view method, int code, double seconds);
  void ObserveAppend(double seconds) { append_.Observe(seconds); }
  void SetReplaySeconds(double s) { replay_seconds_ = s; }

  struct Gauges {
    LogStats log;
    uint64_t orders = 0;
    uint64_t snapshot_position = 0;
  };
  std::string Render(const Gauges& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<RouteId, std::string, int>, uint64_t> requests_;  // GUARDED_BY(mu_)
  std::array<Histogram, kRouteCount> request_seconds_;
  Histogram append_;
  std::atomic<double> replay_seconds_{0};
};

}  // namespace orderlog::http
