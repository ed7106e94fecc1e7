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
#include "engine/record.h"
#include "engine/segment_index.h"
#include "engine/status.h"
#include "engine/stream_table.h"
#include "engine/types.h"

namespace orderlog {

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
  // journal (a small fdatasync here: 140 us appending, 97 us into a zero-filled file). Applies to
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

// Upper bounds (µs) of the buckets of LogStats::fsync_buckets; the last bucket has none. Fine
// around this class of disk's 100-200 µs, so that a percentile under load can be read off it.
inline constexpr std::array<uint32_t, 23> kFsyncBucketMicros = {
    25,   50,   75,   100,  125,  150,   200,   250,   300,    400,    500,    750,
    1000, 1500, 2000, 3000, 5000, 10000, 20000, 50000, 100000, 250000, 1000000};
inline constexpr size_t kFsyncBuckets = kFsyncBucketMicros.size() + 1;

struct LogStats {
  Position committed;
  uint64_t streams = 0;
  uint64_t segments = 0;
  uint64_t index_memory_bytes = 0;  // offsets, stream links and the stream table
  uint64_t stream_table_bytes = 0;  // the part of index_memory_bytes that grows per stream
  uint64_t appended_events = 0;     // since open
  uint64_t appended_bytes = 0;      // since open
  uint64_t fsyncs = 0;              // since open
  uint64_t fsync_micros = 0;        // since open: time spent in those fdatasync calls
  // Since open: those fdatasync calls by duration (bucket i: up to kFsyncBucketMicros[i] µs).
  std::array<uint64_t, kFsyncBuckets> fsync_buckets{};
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
  Position committed_position() const {
    return Position(committed_.load(std::memory_order_acquire));
  }
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

  Log(std::string dir, const LogOptions& options);

  // Writer thread.
  void WriterLoop();
  void ProcessBatch(std::vector<Pending>& batch, const std::string& bytes);
  void CompleteDurable();
  void SyncerLoop();
  void RequestSync(uint64_t target, bool wake);
  // fdatasync of file, then durable_ = max(durable_, target); a failure fails the log.
  void SyncTo(File& file, uint64_t target);
  // file.Sync(), counted and timed in fsyncs_ and fsync_micros_.
  Status TimedSync(File& file);
  bool FlushPending();
  // Publishes one record to the in-memory index; caller holds index_mu_ exclusively (or is Open).
  void IndexRecord(Segment& seg, StreamState* st, Position pos, StreamVersion version,
                   uint64_t offset);
  void Commit();
  bool Roll();
  Status SealActive();
  struct PendingSeal;
  // Syncer thread: makes a sealed segment durable, then its successor visible (see Roll).
  void FinishSeal(const PendingSeal& seal);
  void IndexerLoop();
  Status WriteSegmentIndex(Segment& seg);
  // Indexer thread: writes the zero-filled spare segment file (LogOptions::preallocate).
  Status PrepareSpare();
  // Writer thread: asks for a spare once the active segment is an eighth full (once per segment:
  // one that failed is asked for again in the next segment).
  void MaybeRequestSpare();
  // pending: created under its ".pending" name, renamed by FinishSeal (Roll); otherwise created
  // under its own name and synced with its directory before this returns.
  Status CreateSegment(Position base, bool pending);
  Status LoadSegment(Position base, bool is_last, Position expected_base);
  Status LoadActive(std::unique_ptr<Segment> seg, uint64_t size);
  Status RebuildIndex(Segment* seg, uint64_t end, std::vector<SegmentStreamEntry>* entries);
  void Fail(const Status& why);

  // Index lookups; callers hold index_mu_ (shared is enough).
  const Segment* FindSegment(Position p) const;
  bool Locate(Position p, std::shared_ptr<File>* file, uint64_t* offset, uint64_t* end) const;
  uint64_t PrevOf(Position p) const;
  // The newest event of a stream that readers may see (position <= committed): its position and
  // version, both 0 when there is none.
  StreamState LastVisible(const StreamState& st, uint64_t committed) const;
  // Where the records from position `from` on, up to `to` or the end of from's segment, lie.
  struct Span {
    std::shared_ptr<File> file;
    uint64_t start = 0;  // byte offset of record `from`
    uint64_t end = 0;    // byte offset just past record `last`
    uint64_t last = 0;
  };
  // Takes index_mu_ (shared) itself.
  Status LocateSpan(uint64_t from, uint64_t to, Span* out) const;
  Status ReadAt(const File& file, uint64_t offset, uint64_t end, Position expect, Event* out) const;

  const std::string dir_;
  LogOptions options_;
  Env* env_;
  std::unique_ptr<DirLock> lock_;
  std::vector<Status> open_problems_;

  // The index: guarded by index_mu_; mutated only by the writer thread (and Open).
  mutable std::shared_mutex index_mu_;
  std::vector<std::unique_ptr<Segment>> segments_;  // GUARDED_BY(index_mu_), by base position
  StreamTable streams_;                             // GUARDED_BY(index_mu_)

  // Invariant (checked in debug builds): durable <= written <= assigned, committed <= written.
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> durable_{0};  // syncer thread: last position fdatasync()ed
  uint64_t written_ = 0;              // writer thread: last position written to the OS
  uint64_t assigned_ = 0;             // writer thread: last position handed out
  int64_t last_timestamp_ms_ = 0;

  // Writer-thread state of the active segment.
  struct ActiveState;
  std::unique_ptr<ActiveState> active_;

  // Submission queue.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  // Set (under queue_mu_) when an append lands in an empty queue; the writer polls it for a few
  // microseconds before it sleeps on queue_cv_, so a steady stream of appends does not pay a
  // futex wake and a context switch every time the writer catches up.
  std::atomic<bool> queue_filled_{false};
  std::vector<Pending> queue_;     // GUARDED_BY(queue_mu_)
  std::string queue_bytes_;        // GUARDED_BY(queue_mu_): the queued appends' ids and payloads
  bool stopping_ = false;          // GUARDED_BY(queue_mu_)
  bool sync_progress_ = false;     // GUARDED_BY(queue_mu_): the syncer moved durable_ (or failed)
  std::deque<InFlight> inflight_;  // writer thread: written batches awaiting their sync
  std::vector<std::shared_ptr<BlockingWaiter>> to_wake_;  // writer thread: this batch's waiters

  // Syncer hand-off.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  uint64_t sync_target_ = 0;         // GUARDED_BY(sync_mu_)
  std::shared_ptr<File> sync_file_;  // GUARDED_BY(sync_mu_)
  bool sync_now_ = false;            // GUARDED_BY(sync_mu_)
  bool syncer_stop_ = false;         // GUARDED_BY(sync_mu_)
  bool syncer_busy_ = false;         // GUARDED_BY(sync_mu_): the syncer is in fdatasync
  // Rolled-over segments whose seal is not yet durable, oldest first. The syncer finishes them
  // before it syncs anything newer, so durable_ never passes an unsynced seal.
  std::deque<PendingSeal> seals_;  // GUARDED_BY(sync_mu_)
  bool closed_ = false;            // GUARDED_BY(queue_mu_)

  mutable std::mutex fail_mu_;
  Status failure_;  // GUARDED_BY(fail_mu_); sticky
  std::atomic<bool> failed_{false};

  std::atomic<uint64_t> appended_events_{0};
  std::atomic<uint64_t> appended_bytes_{0};
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> fsync_micros_{0};
  std::array<std::atomic<uint64_t>, kFsyncBuckets> fsync_buckets_{};

  // Writes the .idx files of sealed segments off the append path.
  std::mutex indexer_mu_;
  std::condition_variable indexer_cv_;
  std::deque<Segment*> indexer_queue_;  // GUARDED_BY(indexer_mu_)
  bool indexer_stop_ = false;           // GUARDED_BY(indexer_mu_)
  bool spare_wanted_ = false;           // GUARDED_BY(indexer_mu_)
  // Preallocation (LogOptions::preallocate, in kSync/kInterval mode, writable).
  bool preallocate_ = false;
  // The spare: none (or it failed), being written by the indexer, or whole under its final name.
  enum SpareState : int { kNoSpare, kSpareInProgress, kSpareReady };
  std::atomic<int> spare_state_{kNoSpare};
  std::atomic<uint64_t> active_bytes_{0};  // the active segment's size, for PrepareSpare's pace
  bool spare_asked_ = false;  // writer thread: asked for one while this segment was active
  std::atomic<bool> spare_abort_{false};  // Close: stop filling
  std::atomic<uint64_t> preallocated_segments_{0};
  std::atomic<uint64_t> spare_failures_{0};
  std::atomic<uint64_t> index_write_failures_{0};

  std::thread writer_;
  std::thread syncer_;
  std::thread indexer_;
};

}  // namespace orderlog
