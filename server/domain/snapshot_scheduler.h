// When a snapshot of the read model falls due, and writing it: from a frozen copy, on a thread of
// its own, so that appends are never held up by it; one at a time, and the newest two kept.
//
// Threads: AfterCommit on the log's writer thread; TakeNow and Stop on any; the snapshot thread
// writes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/env.h"
#include "engine/status.h"
#include "engine/types.h"
#include "server/domain/read_model.h"

namespace orderlog::domain {

class SnapshotScheduler {
 public:
  struct Options {
    std::string data_dir;
    Env* env = nullptr;
    uint64_t every = 0;  // 0: only TakeNow (the service's closing snapshot)
    std::function<void(const std::string&)> info;
  };

  // `model` outlives the scheduler; `last` is the position of the newest snapshot on disk.
  SnapshotScheduler(Options options, const ReadModel* model, Position last);
  ~SnapshotScheduler();  // Stop()
  SnapshotScheduler(const SnapshotScheduler&) = delete;
  SnapshotScheduler& operator=(const SnapshotScheduler&) = delete;

  // Starts the snapshot thread (not for read-only opens, which never write).
  void Start();
  // The writer thread, after every commit: asks for a snapshot if one is due.
  void AfterCommit(Position position);
  // Writes a snapshot now and waits for it.
  Status TakeNow();
  // Stops the thread; a snapshot being written is finished first. Idempotent.
  void Stop();

  Position last() const { return Position(last_.load()); }

 private:
  uint64_t NextAfter(Position position) const;
  void Loop();
  Status Write(const ReadModel::Frozen& frozen);

  const Options options_;
  const ReadModel* const model_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<ReadModel::Frozen> request_;  // GUARDED_BY(mu_)
  bool running_ = false;                        // GUARDED_BY(mu_)
  // A snapshot fell due while one was being written: taken as soon as that one is done (else a
  // burst of writes that ends meanwhile would leave the newest snapshot far behind).
  bool due_while_busy_ = false;  // GUARDED_BY(mu_)
  bool stop_ = false;            // GUARDED_BY(mu_)
  std::mutex write_mu_;          // one snapshot write at a time
  std::atomic<uint64_t> last_;
  std::atomic<uint64_t> next_at_{0};  // 0: none scheduled
  std::thread thread_;
};

}  // namespace orderlog::domain
