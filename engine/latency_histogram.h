// The one latency histogram of the project: fdatasync times in the log, request and append times
// in the server's metrics, append latencies in the benchmarks. Observing is one relaxed atomic
// add per bucket and sum, so it sits on hot paths; a Snapshot is read while observations go on.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace orderlog {

class LatencyHistogram {
 public:
  // Upper bounds of the buckets in µs; the last bucket has none. Fine from the tens of
  // microseconds of a small fdatasync or an HTTP GET to the seconds of a stalled disk, so that a
  // percentile under load can be read off it; Prometheus's usual bounds (100 µs, 250 µs, 1 ms,
  // 2.5 ms, ...) are among them.
  static constexpr std::array<uint32_t, 27> kBoundMicros = {
      25,    50,    75,    100,   125,    150,    200,    250,     300,
      400,   500,   750,   1000,  1500,   2000,   2500,   3000,    5000,
      10000, 20000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};
  static constexpr size_t kBuckets = kBoundMicros.size() + 1;

  struct Snapshot {
    std::array<uint64_t, kBuckets> counts{};  // counts[i]: up to kBoundMicros[i] µs
    uint64_t sum_micros = 0;

    uint64_t count() const;
    // What was observed between an earlier snapshot and this one.
    Snapshot Since(const Snapshot& earlier) const;
    // The p-th quantile (0 < p <= 1), interpolated linearly inside its bucket; 0 when empty.
    // The last bucket has no upper bound: its quantiles read as its lower bound.
    double PercentileMicros(double p) const;
  };

  void Observe(std::chrono::nanoseconds d) {
    const uint64_t us = static_cast<uint64_t>(d.count() < 0 ? 0 : d.count() / 1000);
    buckets_[BucketOf(us)].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(us, std::memory_order_relaxed);
  }
  Snapshot Read() const;

  static size_t BucketOf(uint64_t micros);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace orderlog
