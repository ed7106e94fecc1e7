// The syncer thread: fdatasync()s what the writer has written, back to back, so that a batch is
// encoded and written while the previous one is being synced; and finishes roll-overs (a sealed
// segment made durable before its successor gets its name). The writer syncs small batches
// itself (Log::StartSync); SyncTo and TimedSync serve both threads.
#include <optional>

#include "engine/log.h"
#include "engine/log_internal.h"

namespace orderlog {

void Log::SyncerLoop() {
  syncer_thread_.Assume();
  const Durability mode = options_.durability;
  MutexLock lk(&sync_mu_);
  for (;;) {
    const auto ready = [&]() ORDERLOG_REQUIRES(sync_mu_) {
      return syncer_stop_ || sync_now_ || !seals_.empty() ||
             (mode == Durability::kSync && sync_target_ > durable_.load() &&
              !failed_.load(std::memory_order_acquire));
    };
    if (mode == Durability::kInterval) {
      const auto deadline = std::chrono::steady_clock::now() + options_.sync_interval;
      while (!ready()) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds(0)) break;
        sync_cv_.WaitFor(&sync_mu_, left);
      }
    } else {
      while (!ready()) sync_cv_.Wait(&sync_mu_);
    }
    // Pending seals first: nothing newer may become durable before them.
    std::optional<PendingSeal> seal;
    Position target;
    std::shared_ptr<File> file;
    if (!seals_.empty()) {
      seal = std::move(seals_.front());
      seals_.pop_front();
    } else {
      sync_now_ = false;
      target = sync_target_;
      file = sync_file_;
      if (target <= durable_.load() || !file || failed_.load(std::memory_order_acquire)) {
        if (syncer_stop_) break;
        continue;
      }
    }
    syncer_busy_ = true;
    lk.Unlock();
    if (seal) {
      FinishSeal(*seal);
    } else {
      SyncTo(*file, target);
    }
    // The writer waits for durable_ to move (a seal does not move it) or for a failure.
    if (!seal || failed_.load(std::memory_order_acquire)) {
      {
        MutexLock q(&queue_mu_);
        sync_progress_ = true;
      }
      queue_cv_.Signal();
    }
    lk.Lock();
    syncer_busy_ = false;
  }
}

Status Log::TimedSync(File& file) {
  const auto t0 = std::chrono::steady_clock::now();
  Status s = file.Sync();
  fsync_latency_.Observe(std::chrono::steady_clock::now() - t0);
  return s;
}

void Log::SyncTo(File& file, Position target) {
  Status s = TimedSync(file);
  if (!s.ok()) {
    Fail(s);
    return;
  }
  Position cur = durable_.load(std::memory_order_relaxed);
  while (cur < target && !durable_.compare_exchange_weak(cur, target, std::memory_order_release)) {
  }
}

// Earlier segments are synced by their seals, which the syncer finishes first, so syncing the
// active file is enough.
void Log::RequestSync(Position target, bool wake) {
  {
    MutexLock lk(&sync_mu_);
    sync_target_ = std::max(sync_target_, target);
    sync_file_ = active_->segment->file;
    if (wake) sync_now_ = true;
  }
  if (wake) sync_cv_.Signal();
}

void Log::FinishSeal(const PendingSeal& seal) {
  if (failed_.load(std::memory_order_acquire)) return;
  Status s = TimedSync(*seal.sealed->file);
  if (s.ok()) s = env_->Rename(seal.next_pending_path, seal.next_path);
  if (s.ok()) s = env_->SyncDir(dir_);
  if (!s.ok()) {
    Fail(s);
    return;
  }
  // The .idx file is written by the indexer thread: building one for a full segment takes long
  // enough to hold up appends. Until it exists, a restart rebuilds it.
  {
    MutexLock lk(&indexer_mu_);
    indexer_queue_.push_back(seal.sealed);
  }
  indexer_cv_.Signal();
}

}  // namespace orderlog
