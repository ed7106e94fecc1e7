// The log's lifecycle: construction, Close, and the sticky failure. The rest of Log is split by
// the thread that runs it:
//   log_open.cc     opening and recovery (before the threads exist)
//   log_submit.cc   AppendAsync, Append, Sync: the callers' threads
//   log_writer.cc   the writer thread: a batch from the queue to its completions
//   log_rollover.cc the writer thread: sealing a segment and starting the next
//   log_syncer.cc   the syncer thread: fdatasync and finishing seals
//   log_indexer.cc  the indexer thread: .idx files and spare segments
//   log_read.cc     reads and statistics: any thread
#include "engine/log.h"

#include "engine/log_internal.h"

namespace orderlog {

const char* DurabilityName(Durability d) {
  switch (d) {
    case Durability::kSync:
      return "sync";
    case Durability::kInterval:
      return "interval";
    case Durability::kNone:
      return "none";
  }
  return "?";
}

bool ParseDurability(std::string_view s, Durability* out) {
  if (s == "sync") {
    *out = Durability::kSync;
  } else if (s == "interval") {
    *out = Durability::kInterval;
  } else if (s == "none") {
    *out = Durability::kNone;
  } else {
    return false;
  }
  return true;
}

Log::Log(std::string dir, const LogOptions& options)
    : dir_(std::move(dir)),
      options_(options),
      env_(options.env != nullptr ? options.env : Env::Default()),
      preallocate_(options.preallocate && !options.read_only &&
                   options.durability != Durability::kNone) {}

Log::~Log() {
  (void)Close();
}

Status Log::Close() {
  {
    MutexLock lk(&queue_mu_);
    if (closed_) return health();
    closed_ = true;
    stopping_ = true;
  }
  queue_cv_.Signal();
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) {
    // The writer has stopped: this thread stands in for it. Whatever the mode, everything
    // written is synced (pending seals first) before the syncer stops.
    writer_thread_.Assume();
    RequestSync(written_, /*wake=*/true);
    {
      MutexLock lk(&sync_mu_);
      syncer_stop_ = true;
    }
    sync_cv_.Signal();
    syncer_.join();
  }
  if (indexer_.joinable()) {  // finishes the .idx files still queued (the syncer queues them)
    spare_abort_.store(true, std::memory_order_relaxed);
    {
      MutexLock lk(&indexer_mu_);
      indexer_stop_ = true;
    }
    indexer_cv_.Signal();
    indexer_.join();
  }
  lock_.reset();
  return health();
}

Status Log::health() const {
  if (!failed_.load(std::memory_order_acquire)) return Status::Ok();
  MutexLock lk(&fail_mu_);
  return failure_;
}

void Log::Fail(const Status& why) {
  MutexLock lk(&fail_mu_);
  if (failed_.load(std::memory_order_relaxed)) return;
  failure_ =
      Status(why.code() == StatusCode::kNoSpace ? StatusCode::kNoSpace : StatusCode::kReadOnly,
             "log is read-only after a failed write: " + why.message());
  failed_.store(true, std::memory_order_release);
}

}  // namespace orderlog
