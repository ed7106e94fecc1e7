// Shared helpers for orderlog-bench: scratch directories, stream ids, sample percentiles.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "engine/format.h"

namespace orderlog::bench {

// Where benchmarks put their data: $ORDERLOG_BENCH_DIR, else /var/tmp/orderlog-bench (a real
// disk: /tmp may be tmpfs, where fdatasync costs nothing).
inline std::string BenchRoot() {
  const char* env = std::getenv("ORDERLOG_BENCH_DIR");
  std::string root = env != nullptr ? env : "/var/tmp/orderlog-bench";
  std::filesystem::create_directories(root);
  return root;
}

// Where a log built once and kept for later runs lives: named with the on-disk format version, so
// a change of format builds it again instead of failing to open it.
inline std::string KeptLogDir(const std::string& name) {
  return BenchRoot() + "/" + name + "-format" + std::to_string(format::kFormatVersion);
}

// A fresh, empty directory under BenchRoot().
inline std::string FreshDir(const std::string& name) {
  const std::string dir = BenchRoot() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The records of the prebuilt replay logs (engine_bench's BuildLog, and the peers' copies of it):
// event i belongs to stream StreamOf(i); streams interleave like real orders (each is created,
// then changed a few times later), `per_stream` events each; stream ids are shaped like order ids.
inline uint64_t StreamOf(uint64_t i, uint64_t per_stream) {
  return (i % 4096) + (i / (4096 * per_stream)) * 4096;
}
inline uint64_t VersionOf(uint64_t i, uint64_t per_stream) {
  return (i / 4096) % per_stream + 1;
}
inline std::string StreamId(uint64_t stream) {
  char id[64];
  std::snprintf(id, sizeof(id), "%08llx-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(stream * 2654435761u),
                static_cast<unsigned long long>(stream));
  return id;
}

// Collects samples that are not latencies (those go to a LatencyHistogram) from many threads;
// exact percentiles once all are in.
class SampleSet {
 public:
  void Add(const std::vector<double>& samples) {
    std::lock_guard lk(mu_);
    all_.insert(all_.end(), samples.begin(), samples.end());
  }
  double Percentile(double p) {
    std::lock_guard lk(mu_);
    if (all_.empty()) return 0;
    const size_t i = std::min(all_.size() - 1, static_cast<size_t>(p * all_.size()));
    std::nth_element(all_.begin(), all_.begin() + static_cast<long>(i), all_.end());
    return all_[i];
  }
  void Clear() {
    std::lock_guard lk(mu_);
    all_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<double> all_;
};

}  // namespace orderlog::bench
