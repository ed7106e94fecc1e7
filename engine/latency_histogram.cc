#include "engine/latency_histogram.h"

#include <algorithm>

namespace orderlog {

size_t LatencyHistogram::BucketOf(uint64_t micros) {
  return static_cast<size_t>(std::lower_bound(kBoundMicros.begin(), kBoundMicros.end(), micros) -
                             kBoundMicros.begin());
}

LatencyHistogram::Snapshot LatencyHistogram::Read() const {
  Snapshot s;
  for (size_t i = 0; i < kBuckets; ++i) s.counts[i] = buckets_[i].load(std::memory_order_relaxed);
  s.sum_micros = sum_micros_.load(std::memory_order_relaxed);
  return s;
}

uint64_t LatencyHistogram::Snapshot::count() const {
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  return n;
}

LatencyHistogram::Snapshot LatencyHistogram::Snapshot::Since(const Snapshot& earlier) const {
  Snapshot d;
  for (size_t i = 0; i < kBuckets; ++i) d.counts[i] = counts[i] - earlier.counts[i];
  d.sum_micros = sum_micros - earlier.sum_micros;
  return d;
}

double LatencyHistogram::Snapshot::PercentileMicros(double p) const {
  const uint64_t total = count();
  if (total == 0) return 0;
  const double rank = p * static_cast<double>(total);
  double seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    const double in = static_cast<double>(counts[i]);
    if (in > 0 && seen + in >= rank) {
      const double lo = i == 0 ? 0 : kBoundMicros[i - 1];
      if (i == kBoundMicros.size()) return lo;
      const double hi = kBoundMicros[i];
      return lo + (hi - lo) * std::clamp((rank - seen) / in, 0.0, 1.0);
    }
    seen += in;
  }
  return kBoundMicros.back();
}

}  // namespace orderlog
