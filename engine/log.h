// The event log: a directory of segment files with one writer thread, group commit, and an
// in-memory index. Knows nothing of orders or HTTP.
//
// Threads: Append, AppendAsync, Sync and every read may be called from any thread concurrently.
// Appends are executed in submission order by the log's single writer thread, which checks the
// expected version, assigns the position and stream version, writes a batch with one write() and,
// in kSync mode, one fdatasync() for the whole batch; no lock is held while it writes or syncs.
// Completions run on the writer thread, in position order: they must be quick and must not call
// the blocking Append or Sync.
//
// Inside, three threads of the log's own: the writer (log_writer.cc, log_rollover.cc), the
// syncer (log_syncer.cc: fdatasync of big batches, finishing seals) and the indexer
// (log_indexer.cc: .idx files and spare segments). Which of them owns a member, and which mutex
// guards it, is in the member's annotation below, checked by clang (-Wthread-safety).
//
// Visibility: reads see exactly the events whose appends have been acknowledged (committed):
// durable in kSync mode, written to the OS in kInterval and kNone mode. Position and stream
// version of committed events never change.
//
// Failure: a failed write or sync makes the log read-only for good (health() says why); every
// later append fails with kReadOnly. Reads keep working.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/env.h"
#include "engine/format.h"
#include "engine/latency_histogram.h"
#include "engine/mutex.h"
#include "engine/record.h"
#include "engine/segment_index.h"
#include "engine/status.h"
#include "engine/stream_table.h"
#include "engine/types.h"

namespace orderlog {

// committed_ and durable_ are read on every append and read: a lock inside the atomic would not do.
static_assert(std::atomic<Position>::is_always_lock_free);

enum class Durability : unsigned char {
  kSync,      // acknowledged once fdatasync()ed (group commit); survives power loss
  kInterval,  // acknowledged once written; fdatasync() every sync_interval
  kNone,      // acknowledged once written; synced only when a segment is sealed and at Close
};
const char* DurabilityName(Durability d);
bool ParseDurability(std::string_view s, Durability* out);

struct LogOptions {
  Durability durability = Durability::kSync;
  std::chrono::milliseconds sync_interval{10};
  uint64_t segment_size = format::kDefaultSegmentSize;
  // Segments become zero-filled files of segment_size bytes, prepared by a background thread
  // before they are needed, so that appending overwrites blocks the file already has and an
  // fdatasync writes only data: no size change or block allocation to commit to the filesystem
  // journal (bench/PERFORMANCE.md has what that saves). Applies to
  // kSync and kInterval; the first segment of a new log is an ordinary file, rolled over early
  // once the first spare is ready. Costs segment_size bytes of zeros written per segment.
  bool preallocate = false;
  // Inspect only: take no lock, never write, report damage in open_problems() instead of failing.
  bool read_only = false;
  Env* env = nullptr;  // nullptr: Env::Default()
};

struct AppendRequest {
  std::string stream;  // 1..format::kMaxStreamIdSize bytes
  ExpectedVersion expected;
  uint16_t type = 0;
  std::string payload;  // at most format::kMaxPayloadSize bytes
};

// An append by reference: the log copies the bytes into its queue before AppendAsync returns, so
// the caller's buffers may go at once (and no allocation is made per append).
struct AppendView {
  std::string_view stream;
  ExpectedVersion expected;
  uint16_t type = 0;
  std::string_view payload;
};

using AppendCallback = std::function<void(const Result<AppendResult>&)>;

struct SegmentInfo {
  std::string path;
  Position base;
  Position last;  // base - 1 when empty
  uint64_t records = 0;
  uint64_t bytes = 0;  // file size, header and footer included
  bool sealed = false;
};

struct LogStats {
  Position committed;
  uint64_t streams = 0;
  uint64_t segments = 0;
  uint64_t index_memory_bytes = 0;  // offsets, stream links and the stream table
  uint64_t stream_table_bytes = 0;  // the part of index_memory_bytes that grows per stream
  uint64_t appended_events = 0;     // since open
  uint64_t appended_bytes = 0;      // since open
  // Since open: every fdatasync of the log by duration (count() is the number of them).
  LatencyHistogram::Snapshot fsync;
  // .idx files the indexer could not write (not fatal: the next open rebuilds them).
  uint64_t index_write_failures = 0;
  // LogOptions::preallocate: segments started in a zero-filled spare, spares that could not be
  // prepared (not fatal: the next segment is an ordinary file), and whether one is ready now.
  uint64_t preallocated_segments = 0;
  uint64_t spare_failures = 0;
  bool spare_ready = false;
};

class Log {
 public:
  // Opens (creating if needed) the log in dir and recovers it: sealed segments are loaded from
  // their .idx files, the active segment is scanned and a torn tail is truncated. Corruption
  // anywhere else fails the open with a kCorruption naming the file and byte offset.
  static Result<std::unique_ptr<Log>> Open(const std::string& dir, const LogOptions& options);
  ~Log();  // Close()
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Queues an append; `done` is called once it is acknowledged (see Durability) or failed, on the
  // writer thread — also when the log has failed. Only when the log is closed or read-only is it
  // called at once, on the caller's thread.
  void AppendAsync(const AppendView& request, AppendCallback done);
  void AppendAsync(const AppendRequest& request, AppendCallback done) {
    AppendAsync(AppendView{request.stream, request.expected, request.type, request.payload},
                std::move(done));
  }
  // Blocking append.
  Result<AppendResult> Append(const AppendView& request);
  Result<AppendResult> Append(const AppendRequest& request) {
    return Append(AppendView{request.stream, request.expected, request.type, request.payload});
  }
  // Returns once everything appended before the call is durable, whatever the durability mode.
  Status Sync();
  // Finishes queued appends, syncs and stops the writer; later appends fail with kClosed.
  // Idempotent. Reads keep working.
  Status Close();

  // --- reads (any thread) ---
  Position committed_position() const { return committed_.load(std::memory_order_acquire); }
  Result<Event> Read(Position position) const;
  // Up to max events with positions > after, in position order.
  Status ReadRange(Position after, size_t max, std::vector<Event>* out) const;
  StreamVersion CurrentVersion(std::string_view stream) const;
  // Events of a stream with versions >= from, at most max, in version order.
  Status ReadStream(std::string_view stream, StreamVersion from, size_t max,
                    std::vector<Event>* out) const;
  // Reads every committed record with position > after, sequentially and verified, calling fn
  // for each; fn returns false to stop early. The view is valid only during the call.
  Status Scan(Position after, const std::function<bool(const RecordView&)>& fn) const;

  Status health() const;
  LogStats Stats() const;
  std::vector<SegmentInfo> Segments() const;
  // Read-only opens only: damage found while opening (reads stop before it).
  const std::vector<Status>& open_problems() const { return open_problems_; }
  const std::string& dir() const { return dir_; }
  const LogOptions& options() const { return options_; }

 private:
  struct Segment;
  struct Pending;
  struct InFlight;
  struct BlockingWaiter;
  struct WakeChain;
  struct PendingSeal;
  struct ActiveState;
  struct Span;

  Log(std::string dir, const LogOptions& options);

  // --- opening (log_open.cc): runs before the threads exist, as the writer ---
  Status LoadSegment(Position base, bool is_last, Position expected_base)
      ORDERLOG_REQUIRES(writer_thread_, index_mu_);
  Status LoadActive(std::unique_ptr<Segment> seg, uint64_t size)
      ORDERLOG_REQUIRES(writer_thread_, index_mu_);
  Status RebuildIndex(Segment* seg, uint64_t end, std::vector<SegmentStreamEntry>* entries)
      ORDERLOG_REQUIRES(writer_thread_, index_mu_);
  void StartThreads();

  // --- writer thread (log_writer.cc): a batch is check → roll over → encode and index → write
  // → start its sync → complete ---
  void WriterLoop();
  void WriteBatch(std::vector<Pending>& batch, const std::string& bytes)
      ORDERLOG_REQUIRES(writer_thread_) ORDERLOG_EXCLUDES(index_mu_);
  // Checks, encodes and indexes one append of the batch.
  void EncodeOne(Pending& p, const std::string& bytes, int64_t now_ms, Position durable_before,
                 Status* status, AppendResult* result) ORDERLOG_REQUIRES(writer_thread_, index_mu_);
  // Rolls over first when the record does not fit the active segment (or a spare is waiting);
  // lets index_mu_ go meanwhile.
  bool RollOverIfDue(size_t record_size) ORDERLOG_REQUIRES(writer_thread_, index_mu_);
  // Writes the encoded records not yet written. Their index entries are published already;
  // readers do not look at them until they are committed.
  bool FlushPending() ORDERLOG_REQUIRES(writer_thread_) ORDERLOG_EXCLUDES(index_mu_);
  // kSync mode (or a Sync() barrier): syncs here, or hands the sync to the syncer thread when a
  // big batch is already waiting. Returns what the batch must wait for (0: nothing).
  Position StartSync(bool barrier) ORDERLOG_REQUIRES(writer_thread_)
      ORDERLOG_EXCLUDES(sync_mu_, queue_mu_);
  // Completes, in order, the written batches whose durability wait is over (or that failed).
  void CompleteDurable() ORDERLOG_REQUIRES(writer_thread_);
  void Commit() ORDERLOG_REQUIRES(writer_thread_);
  void WakeBlockedAppenders() ORDERLOG_REQUIRES(writer_thread_);
  // Publishes one record to the in-memory index.
  void IndexRecord(Segment& seg, StreamState* st, Position pos, StreamVersion version,
                   uint64_t offset) ORDERLOG_REQUIRES(writer_thread_, index_mu_);

  // --- writer thread, roll-over (log_rollover.cc) ---
  bool Roll() ORDERLOG_REQUIRES(writer_thread_) ORDERLOG_EXCLUDES(index_mu_);
  Status SealActive() ORDERLOG_REQUIRES(writer_thread_) ORDERLOG_EXCLUDES(index_mu_);
  // pending: created under its ".pending" name, renamed by FinishSeal (Roll); otherwise created
  // under its own name and synced with its directory before this returns.
  Status CreateSegment(Position base, bool pending) ORDERLOG_REQUIRES(writer_thread_)
      ORDERLOG_EXCLUDES(index_mu_);
  // Asks for a spare once the active segment is an eighth full (once per segment: one that
  // failed is asked for again in the next segment).
  void MaybeRequestSpare() ORDERLOG_REQUIRES(writer_thread_) ORDERLOG_EXCLUDES(indexer_mu_);

  // --- syncer thread (log_syncer.cc) ---
  void SyncerLoop();
  // Makes a sealed segment durable, then its successor visible (see Roll).
  void FinishSeal(const PendingSeal& seal) ORDERLOG_REQUIRES(syncer_thread_)
      ORDERLOG_EXCLUDES(indexer_mu_);
  // Writer thread: asks the syncer to make everything up to `target` durable.
  void RequestSync(Position target, bool wake) ORDERLOG_REQUIRES(writer_thread_)
      ORDERLOG_EXCLUDES(sync_mu_);
  // Writer or syncer thread: fdatasync of file, then durable_ = max(durable_, target); a failure
  // fails the log.
  void SyncTo(File& file, Position target);
  // file.Sync(), counted and timed in the fsync histogram.
  Status TimedSync(File& file);

  // --- indexer thread (log_indexer.cc): .idx files and spare segments, off the append path ---
  void IndexerLoop();
  Status WriteSegmentIndex(Segment& seg) ORDERLOG_REQUIRES(indexer_thread_)
      ORDERLOG_EXCLUDES(index_mu_);
  Status PrepareSpare() ORDERLOG_REQUIRES(indexer_thread_);

  // --- any thread (log.cc) ---
  void Fail(const Status& why) ORDERLOG_EXCLUDES(fail_mu_);

  // --- reads, any thread (log_read.cc) ---
  const Segment* FindSegment(Position p) const ORDERLOG_REQUIRES_SHARED(index_mu_);
  Position PrevOf(Position p) const ORDERLOG_REQUIRES_SHARED(index_mu_);
  // The newest event of a stream that readers may see (position <= committed): its position and
  // version, both 0 when there is none.
  StreamState LastVisible(const StreamState& st, Position committed) const
      ORDERLOG_REQUIRES_SHARED(index_mu_);
  // Where the records from position `from` on, up to `to` or the end of from's segment, lie.
  Status LocateSpan(Position from, Position to, Span* out) const ORDERLOG_EXCLUDES(index_mu_);
  Status ReadAt(const File& file, uint64_t offset, uint64_t end, Position expect, Event* out) const;

  const std::string dir_;
  const LogOptions options_;
  Env* const env_;
  // LogOptions::preallocate, in kSync/kInterval mode, writable.
  const bool preallocate_;
  std::unique_ptr<DirLock> lock_;
  std::vector<Status> open_problems_;  // written by Open only

  // The three threads, as capabilities: what only one of them touches is guarded by it.
  ThreadRole writer_thread_;
  ThreadRole syncer_thread_;
  ThreadRole indexer_thread_;

  // The index: mutated only by the writer thread (and Open), under index_mu_ held exclusively;
  // readers hold it shared. The fields of a Segment follow the same rule (the writer also reads
  // its own active segment through active_ without the lock).
  mutable SharedMutex index_mu_;
  // By base position.
  std::vector<std::unique_ptr<Segment>> segments_ ORDERLOG_GUARDED_BY(index_mu_);
  StreamTable streams_ ORDERLOG_GUARDED_BY(index_mu_);

  // Invariant (checked in debug builds): durable <= written <= assigned, committed <= written.
  // committed_: stored by the writer, read by every reader. durable_: raised by whichever of the
  // writer and the syncer ran the fdatasync.
  std::atomic<Position> committed_{Position(0)};
  std::atomic<Position> durable_{Position(0)};
  Position written_ ORDERLOG_GUARDED_BY(writer_thread_);   // last position written to the OS
  Position assigned_ ORDERLOG_GUARDED_BY(writer_thread_);  // last position handed out
  int64_t last_timestamp_ms_ ORDERLOG_GUARDED_BY(writer_thread_) = 0;
  std::unique_ptr<ActiveState> active_ ORDERLOG_GUARDED_BY(writer_thread_);
  // Written batches, awaiting their sync.
  std::deque<InFlight> inflight_ ORDERLOG_GUARDED_BY(writer_thread_);
  std::vector<std::shared_ptr<BlockingWaiter>> to_wake_ ORDERLOG_GUARDED_BY(writer_thread_);
  bool spare_asked_ ORDERLOG_GUARDED_BY(writer_thread_) = false;  // while this segment was active

  // Submission queue: callers' threads -> writer.
  Mutex queue_mu_;
  CondVar queue_cv_;
  // Set (under queue_mu_) when an append lands in an empty queue; the writer polls it for a few
  // microseconds before it sleeps on queue_cv_, so a steady stream of appends does not pay a
  // futex wake and a context switch every time the writer catches up.
  std::atomic<bool> queue_filled_{false};
  std::vector<Pending> queue_ ORDERLOG_GUARDED_BY(queue_mu_);
  std::string queue_bytes_ ORDERLOG_GUARDED_BY(queue_mu_);  // the queued appends' ids and payloads
  bool stopping_ ORDERLOG_GUARDED_BY(queue_mu_) = false;
  bool closed_ ORDERLOG_GUARDED_BY(queue_mu_) = false;
  // The syncer moved durable_ (or failed): the writer has completions to run.
  bool sync_progress_ ORDERLOG_GUARDED_BY(queue_mu_) = false;

  // Syncer hand-off: writer -> syncer.
  Mutex sync_mu_;
  CondVar sync_cv_;
  Position sync_target_ ORDERLOG_GUARDED_BY(sync_mu_);
  std::shared_ptr<File> sync_file_ ORDERLOG_GUARDED_BY(sync_mu_);
  bool sync_now_ ORDERLOG_GUARDED_BY(sync_mu_) = false;
  bool syncer_stop_ ORDERLOG_GUARDED_BY(sync_mu_) = false;
  bool syncer_busy_ ORDERLOG_GUARDED_BY(sync_mu_) = false;  // the syncer is in fdatasync
  // Rolled-over segments whose seal is not yet durable, oldest first. The syncer finishes them
  // before it syncs anything newer, so durable_ never passes an unsynced seal.
  std::deque<PendingSeal> seals_ ORDERLOG_GUARDED_BY(sync_mu_);

  // Indexer hand-off: syncer (.idx of a sealed segment) and writer (a spare) -> indexer.
  Mutex indexer_mu_;
  CondVar indexer_cv_;
  std::deque<Segment*> indexer_queue_ ORDERLOG_GUARDED_BY(indexer_mu_);
  bool indexer_stop_ ORDERLOG_GUARDED_BY(indexer_mu_) = false;
  bool spare_wanted_ ORDERLOG_GUARDED_BY(indexer_mu_) = false;
  // The spare: none (or it failed), being written by the indexer, or whole under its final name.
  // Claimed by the writer (kNoSpare -> kSpareInProgress, kSpareReady -> kNoSpare), finished by
  // the indexer.
  enum SpareState : int { kNoSpare, kSpareInProgress, kSpareReady };
  std::atomic<int> spare_state_{kNoSpare};
  std::atomic<uint64_t> active_bytes_{0};  // the active segment's size, for PrepareSpare's pace
  std::atomic<bool> spare_abort_{false};   // Close: stop filling

  mutable Mutex fail_mu_;
  Status failure_ ORDERLOG_GUARDED_BY(fail_mu_);  // sticky
  std::atomic<bool> failed_{false};

  // Counters for Stats(), relaxed: each is exact, a snapshot of several is not.
  std::atomic<uint64_t> appended_events_{0};
  std::atomic<uint64_t> appended_bytes_{0};
  LatencyHistogram fsync_latency_;
  std::atomic<uint64_t> preallocated_segments_{0};
  std::atomic<uint64_t> spare_failures_{0};
  std::atomic<uint64_t> index_write_failures_{0};

  std::thread writer_;
  std::thread syncer_;
  std::thread indexer_;
};

}  // namespace orderlog
