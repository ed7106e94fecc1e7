// Submission, on the callers' threads: AppendAsync queues an append for the writer thread;
// Append and Sync block on it.
#include <optional>
#include <thread>

#include "engine/log.h"
#include "engine/log_internal.h"
#include "engine/waiter.h"

namespace orderlog {

void Log::AppendAsync(const AppendView& request, AppendCallback done) {
  // Even when the log has failed, the refusal goes through the writer thread: a completion that
  // ran here, inside the caller's call, could deadlock a caller that holds a lock its completion
  // takes (the order service does). Only a closed or read-only log refuses here.
  bool wake = false;
  // Hashed here, outside the lock and off the writer thread, which has the least time to spare.
  const uint64_t hash = StreamTable::Hash(request.stream);
  {
    MutexLock lk(&queue_mu_, MutexLock::Spinning{});
    if (options_.read_only || stopping_) {
      lk.Unlock();
      done(options_.read_only ? Status::ReadOnly("the log was opened read-only")
                              : Status::Closed("the log is closed"));
      return;
    }
    wake = queue_.empty();
    if (wake) queue_filled_.store(true, std::memory_order_relaxed);
    Pending& p = queue_.emplace_back();
    p.stream_hash = hash;
    p.at = queue_bytes_.size();
    p.stream_size = request.stream.size();
    p.payload_size = request.payload.size();
    p.expected = request.expected;
    p.type = request.type;
    p.done = std::move(done);
    queue_bytes_.append(request.stream);
    queue_bytes_.append(request.payload);
  }
  if (wake) queue_cv_.Signal();
}

// Waking the threads blocked in Append is what group commit costs at high concurrency: one futex
// wake takes microseconds, and fifty of them in a row on the writer thread would delay the next
// batch by longer than an fdatasync. So the writer wakes up to eight waiters of a batch, and each
// woken waiter wakes four more: a wake tree, a batch of 64 up in two steps, in parallel
// (bench: BM_AppendThreads).
struct Log::BlockingWaiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
  std::optional<Result<AppendResult>> result;
  std::shared_ptr<WakeChain> chain;  // set by the writer before `done`
};

struct Log::WakeChain {
  std::vector<std::shared_ptr<BlockingWaiter>> waiters;
  std::atomic<size_t> next{0};

  void WakeSome(int n) {
    for (int k = 0; k < n; ++k) {
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= waiters.size()) return;
      BlockingWaiter& w = *waiters[i];
      {
        std::lock_guard lk(w.mu);
        w.done = true;
      }
      w.cv.notify_one();
    }
  }
};

Result<AppendResult> Log::Append(const AppendView& request) {
  auto w = std::make_shared<BlockingWaiter>();  // shared with the completion: outlives the wake
  AppendAsync(request, [this, w](const Result<AppendResult>& r) {
    w->result.emplace(r);
    if (std::this_thread::get_id() == writer_.get_id()) {
      writer_thread_.Assume();
      to_wake_.push_back(w);  // woken with its batch, see WakeBlockedAppenders
    } else {                  // refused before it was queued: on the caller's own thread
      std::lock_guard lk(w->mu);
      w->done = true;
    }
  });
  {
    std::unique_lock lk(w->mu);
    w->cv.wait(lk, [&] { return w->done; });
  }
  // Take the chain out of the waiter: chain -> waiter -> chain is a cycle until every waiter of
  // the batch has done this.
  if (std::shared_ptr<WakeChain> chain = std::move(w->chain)) chain->WakeSome(4);
  return std::move(*w->result);
}

// Writer thread: wakes the Append callers whose appends this round completed.
void Log::WakeBlockedAppenders() {
  if (to_wake_.empty()) return;
  auto chain = std::make_shared<WakeChain>();
  chain->waiters.swap(to_wake_);
  for (auto& w : chain->waiters) w->chain = chain;  // before any of them is woken
  chain->WakeSome(8);
}

Status Log::Sync() {
  Waiter<Status> w;
  {
    MutexLock lk(&queue_mu_);
    if (options_.read_only) return Status::Ok();
    if (stopping_) return health();
    const bool wake = queue_.empty();
    Pending& p = queue_.emplace_back();
    p.barrier = true;
    p.done = [&w](const Result<AppendResult>& r) { w.Set(r.status()); };
    lk.Unlock();
    if (wake) queue_cv_.Signal();
  }
  return w.Wait();
}

}  // namespace orderlog
