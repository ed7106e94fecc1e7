// Prometheus metrics of the server (text exposition format 0.0.4). Counters and histograms are
// lock-free on the hot path except the per-(route, method, code) request counter map.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "engine/latency_histogram.h"
#include "engine/log.h"
#include "server/http/routes.h"

namespace orderlog::http {

// Appends the _bucket/_sum/_count lines of a histogram (its bounds in seconds); labels is "" or
// `route="..."`. _count is the sum of the buckets, so the lines agree with each other even when
// the counts were read while observations went on.
void RenderHistogram(std::string* out, const std::string& name, const std::string& labels,
                     const LatencyHistogram::Snapshot& h);

// Why a connection was closed (orderlog_http_connections_closed_total{reason=...}).
enum class CloseReason : unsigned char {
  kClient,         // the client closed it
  kRequested,      // Connection: close, or HTTP/1.0 without keep-alive: closed after the answer
  kIdle,           // quiet for the idle timeout
  kTimedOut,       // a request head or body not in within its timeout (408)
  kRefused,        // a request refused by the framing rules (4xx), closed after the answer
  kOverCapacity,   // beyond --max-connections (503)
  kEvicted,        // quiet, and closed to make room for a new connection at the cap
  kSlowReader,     // kept sending while not reading its answers, past the guard's bound
  kNoDescriptors,  // accepted with the spare descriptor when none was left (503); keep last
};
inline constexpr int kCloseReasonCount = static_cast<int>(CloseReason::kNoDescriptors) + 1;
const char* CloseReasonLabel(CloseReason reason);

class Metrics {
 public:
  void CountRequest(RouteId route, std::string_view method, int code, std::chrono::nanoseconds d);
  void ObserveAppend(std::chrono::nanoseconds d) { append_.Observe(d); }
  void SetReplaySeconds(double s) { replay_seconds_ = s; }
  // Connections across reactor threads. Opened returns the count with this one.
  size_t ConnectionOpened() { return open_connections_.fetch_add(1) + 1; }
  void ConnectionClosed(CloseReason reason) {
    open_connections_.fetch_sub(1);
    CountClose(reason);
  }
  // A connection that was never counted open (refused on accept) closed for `reason`.
  void CountClose(CloseReason reason) {
    closed_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  // Answers being streamed (streamed_answer.h), across reactor threads.
  void StreamOpened() { open_streams_.fetch_add(1, std::memory_order_relaxed); }
  void StreamClosed() { open_streams_.fetch_sub(1, std::memory_order_relaxed); }
  void ConnectionRefused() { refused_connections_.fetch_add(1, std::memory_order_relaxed); }

  // A write the store refused (503), by why.
  enum class WriteRefusal : uint8_t { kReadOnly, kNoSpace, kShuttingDown };
  static constexpr size_t kWriteRefusalCount = 3;
  void CountRefusedWrite(WriteRefusal reason) {
    refused_writes_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }

  struct Gauges {
    LogStats log;
    uint64_t orders = 0;
    uint64_t snapshot_position = 0;
    int frozen_views = 0;
    bool writable = true;
  };
  std::string Render(const Gauges& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<RouteId, std::string, int>, uint64_t> requests_;  // GUARDED_BY(mu_)
  std::array<LatencyHistogram, kRouteCount> request_seconds_;
  LatencyHistogram append_;
  std::atomic<double> replay_seconds_{0};
  std::atomic<size_t> open_connections_{0};
  std::atomic<uint64_t> refused_connections_{0};
  std::atomic<int64_t> open_streams_{0};
  std::array<std::atomic<uint64_t>, kWriteRefusalCount> refused_writes_{};
  std::array<std::atomic<uint64_t>, kCloseReasonCount> closed_{};
};

}  // namespace orderlog::http
