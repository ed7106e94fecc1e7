#include "server/domain/snapshot_scheduler.h"

#include <algorithm>

#include "server/domain/snapshot.h"

namespace orderlog::domain {

SnapshotScheduler::SnapshotScheduler(Options options, const ReadModel* model, Position last)
    : options_(std::move(options)), model_(model), last_(last.value) {
  if (options_.every > 0) next_at_ = NextAfter(model_->position());
}

SnapshotScheduler::~SnapshotScheduler() {
  Stop();
}

void SnapshotScheduler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

// Every `every` events, or every order_count/4 events once the model is larger than that: a
// snapshot's cost grows with the model, so a fixed interval would have a server with millions of
// orders writing snapshots back to back (the soak showed p99 climbing as the snapshot thread took
// a core). A quarter of the orders keeps snapshot work a small, constant share of the writes, and
// a restart replays at most that many events after loading the snapshot.
uint64_t SnapshotScheduler::NextAfter(Position position) const {
  return position.value + std::max<uint64_t>(options_.every, model_->order_count() / 4);
}

void SnapshotScheduler::AfterCommit(Position position) {
  const uint64_t due = next_at_.load(std::memory_order_relaxed);
  if (due == 0 || position.value < due) return;
  std::lock_guard lk(mu_);
  if (running_ || request_) {  // one at a time: this one once it is done
    due_while_busy_ = true;
    return;
  }
  next_at_ = NextAfter(position);
  request_ = model_->Freeze();  // O(chunks): appends are not held up
  cv_.notify_one();
}

void SnapshotScheduler::Loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || request_ != nullptr; });
    if (!request_) break;
    auto frozen = std::move(request_);
    running_ = true;
    lk.unlock();
    Status s = Write(*frozen);
    if (!s.ok() && options_.info) options_.info("snapshot failed: " + s.ToString());
    frozen.reset();
    lk.lock();
    running_ = false;
    if (due_while_busy_ && !stop_) {
      due_while_busy_ = false;
      next_at_ = NextAfter(model_->position());
      request_ = model_->Freeze();
    }
  }
}

Status SnapshotScheduler::Write(const ReadModel::Frozen& frozen) {
  std::lock_guard w(write_mu_);
  if (frozen.position().value <= last_.load()) return Status::Ok();  // nothing new
  auto written = WriteSnapshot(options_.env, options_.data_dir, frozen);
  if (!written.ok()) return written.status();
  last_ = frozen.position().value;
  return PruneSnapshots(options_.env, options_.data_dir);
}

Status SnapshotScheduler::TakeNow() {
  auto frozen = model_->Freeze();
  return Write(*frozen);
}

void SnapshotScheduler::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

}  // namespace orderlog::domain
