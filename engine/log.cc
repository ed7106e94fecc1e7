#include "engine/log.h"

#include <algorithm>
#include <cassert>
#include <optional>
#include <thread>

#include "engine/checksum.h"
#include "engine/log_internal.h"
#include "engine/segment.h"
#include "engine/waiter.h"

namespace orderlog {

namespace f = format;

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

namespace {
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One step of a short busy-wait: tells the core it is spinning (no memory-order speculation to
// unwind, the sibling hyper-thread gets the pipeline).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// queue_mu_ is held for tens of nanoseconds at a time (one enqueue, or the writer's swap), so a
// thread that finds it taken tries again for a moment before it sleeps in the kernel: a glibc
// mutex sleeps at once, and then every unlock by the other side is a futex wake system call.
std::unique_lock<std::mutex> LockBriefly(std::mutex& mu) {
  for (int i = 0; i < 64; ++i) {
    if (mu.try_lock()) return std::unique_lock(mu, std::adopt_lock);
    CpuRelax();
  }
  return std::unique_lock(mu);
}
}  // namespace

Log::Log(std::string dir, const LogOptions& options)
    : dir_(std::move(dir)),
      options_(options),
      env_(options.env != nullptr ? options.env : Env::Default()) {}

Log::~Log() {
  (void)Close();
}

// ---------------------------------------------------------------------------------------------
// Submission (any thread)

void Log::AppendAsync(const AppendView& request, AppendCallback done) {
  // Even when the log has failed, the refusal goes through the writer thread: a completion that
  // ran here, inside the caller's call, could deadlock a caller that holds a lock its completion
  // takes (the order service does).
  bool wake = false;
  // Hashed here, outside the lock and off the writer thread, which has the least time to spare.
  const uint64_t hash = StreamTable::Hash(request.stream);
  {
    std::unique_lock lk = LockBriefly(queue_mu_);
    if (options_.read_only || stopping_) {
      lk.unlock();
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
  if (wake) queue_cv_.notify_one();
}

// Waking the threads blocked in Append is what group commit costs at high concurrency: one futex
// wake is several microseconds here, and fifty of them in a row on the writer thread would delay
// the next batch by longer than an fdatasync. So the writer wakes up to eight waiters of a batch,
// and each woken waiter wakes four more (a wake tree: a batch of 64 is up in two steps, in
// parallel). Measured on the 2-vCPU VM, median of 6: 8 appenders 26 k/s, p99 755 us with a
// fan-out of 2/2 -> 33 k/s, p99 387 us with 8/4; 64 appenders unchanged (~150 k/s, p99 ~610 us).
struct Log::BlockingWaiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // GUARDED_BY(mu)
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
      to_wake_.push_back(w);  // woken with its batch, see CompleteDurable
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

Status Log::Sync() {
  Waiter<Status> w;
  {
    std::unique_lock lk(queue_mu_);
    if (options_.read_only) return Status::Ok();
    if (stopping_) return health();
    const bool wake = queue_.empty();
    Pending& p = queue_.emplace_back();
    p.barrier = true;
    p.done = [&w](const Result<AppendResult>& r) { w.Set(r.status()); };
    lk.unlock();
    if (wake) queue_cv_.notify_one();
  }
  return w.Wait();
}

Status Log::Close() {
  {
    std::lock_guard lk(queue_mu_);
    if (closed_) return health();
    closed_ = true;
    stopping_ = true;
  }
  queue_cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) {
    // Whatever the mode, everything written is synced (pending seals first) before the syncer
    // stops.
    RequestSync(written_, /*wake=*/true);
    {
      std::lock_guard lk(sync_mu_);
      syncer_stop_ = true;
    }
    sync_cv_.notify_one();
    syncer_.join();
  }
  if (indexer_.joinable()) {  // finishes the .idx files still queued (the syncer queues them)
    spare_abort_.store(true, std::memory_order_relaxed);
    {
      std::lock_guard lk(indexer_mu_);
      indexer_stop_ = true;
    }
    indexer_cv_.notify_one();
    indexer_.join();
  }
  lock_.reset();
  return health();
}

Status Log::health() const {
  if (!failed_.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard lk(fail_mu_);
  return failure_;
}

void Log::Fail(const Status& why) {
  std::lock_guard lk(fail_mu_);
  if (failed_.load(std::memory_order_relaxed)) return;
  failure_ =
      Status(why.code() == StatusCode::kNoSpace ? StatusCode::kNoSpace : StatusCode::kReadOnly,
             "log is read-only after a failed write: " + why.message());
  failed_.store(true, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------
// Writer thread: assigns positions, encodes and writes batches, completes appends in order.
// Syncer thread: fdatasync()s what the writer has written, back to back, so that a batch is
// encoded and written while the previous one is being synced.

void Log::WriterLoop() {
  std::vector<Pending> batch;
  std::string bytes;
  for (;;) {
    // Poll before sleeping (see queue_filled_): ~20 us, a fraction of a small fdatasync.
    for (int i = 0; i < 2000 && !queue_filled_.load(std::memory_order_relaxed); ++i) CpuRelax();
    {
      std::unique_lock lk = LockBriefly(queue_mu_);
      queue_cv_.wait(lk, [&] {
        return !queue_.empty() || sync_progress_ || (stopping_ && inflight_.empty());
      });
      sync_progress_ = false;
      if (queue_.empty() && stopping_ && inflight_.empty()) break;
      batch.swap(queue_);
      bytes.swap(queue_bytes_);
      queue_filled_.store(false, std::memory_order_relaxed);
    }
    if (!batch.empty()) {
      ProcessBatch(batch, bytes);
      batch.clear();
      bytes.clear();
    }
    CompleteDurable();
  }
}

void Log::SyncerLoop() {
  const Durability mode = options_.durability;
  std::unique_lock lk(sync_mu_);
  for (;;) {
    auto ready = [&] {
      return syncer_stop_ || sync_now_ || !seals_.empty() ||
             (mode == Durability::kSync && sync_target_ > durable_.load() &&
              !failed_.load(std::memory_order_acquire));
    };
    if (mode == Durability::kInterval) {
      sync_cv_.wait_for(lk, options_.sync_interval, ready);
    } else {
      sync_cv_.wait(lk, ready);
    }
    // Pending seals first: nothing newer may become durable before them.
    std::optional<PendingSeal> seal;
    uint64_t target = 0;
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
    lk.unlock();
    if (seal) {
      FinishSeal(*seal);
    } else {
      SyncTo(*file, target);
    }
    // The writer waits for durable_ to move (a seal does not move it) or for a failure.
    if (!seal || failed_.load(std::memory_order_acquire)) {
      {
        std::lock_guard q(queue_mu_);
        sync_progress_ = true;
      }
      queue_cv_.notify_one();
    }
    lk.lock();
    syncer_busy_ = false;
  }
}

Status Log::TimedSync(File& file) {
  const auto t0 = std::chrono::steady_clock::now();
  Status s = file.Sync();
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  fsync_micros_.fetch_add(static_cast<uint64_t>(us.count()), std::memory_order_relaxed);
  const auto bound = std::lower_bound(kFsyncBucketMicros.begin(), kFsyncBucketMicros.end(),
                                      static_cast<uint64_t>(us.count()));
  fsync_buckets_[static_cast<size_t>(bound - kFsyncBucketMicros.begin())].fetch_add(
      1, std::memory_order_relaxed);
  return s;
}

void Log::SyncTo(File& file, uint64_t target) {
  Status s = TimedSync(file);
  if (!s.ok()) {
    Fail(s);
    return;
  }
  uint64_t cur = durable_.load(std::memory_order_relaxed);
  while (cur < target && !durable_.compare_exchange_weak(cur, target, std::memory_order_release)) {
  }
}

// Asks the syncer to make everything up to `target` (all in the active segment or before it)
// durable. Earlier segments are synced by their seals, which the syncer finishes first, so
// syncing the active file is enough.
void Log::RequestSync(uint64_t target, bool wake) {
  {
    std::lock_guard lk(sync_mu_);
    sync_target_ = std::max(sync_target_, target);
    sync_file_ = segments_.back()->file;
    if (wake) sync_now_ = true;
  }
  if (wake) sync_cv_.notify_one();
}

void Log::ProcessBatch(std::vector<Pending>& batch, const std::string& bytes) {
  InFlight flight;
  flight.outcomes.resize(batch.size());
  bool barrier = false;
  const int64_t now_ms = NowMs();
  // Recorded in each record (its durable gap): what was on disk before this batch was written.
  const uint64_t durable_before = durable_.load(std::memory_order_acquire);
  // Assigning positions mutates the index: hold its lock, but let readers in every few hundred
  // records and never across I/O.
  constexpr int kRecordsPerLockHold = 256;
  constexpr size_t kFlushBytes = 128 << 10;
  std::unique_lock lk(index_mu_);
  int held = 0;

  constexpr size_t kPrefetchAhead = 8;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i + kPrefetchAhead < batch.size()) streams_.Prefetch(batch[i + kPrefetchAhead].stream_hash);
    Pending& p = batch[i];
    InFlight::Outcome& out = flight.outcomes[i];
    if (p.barrier) {
      barrier = true;
      continue;
    }
    if (failed_.load(std::memory_order_relaxed)) {
      out.status = health();
      continue;
    }
    const std::string_view stream(bytes.data() + p.at, p.stream_size);
    const std::string_view payload(bytes.data() + p.at + p.stream_size, p.payload_size);
    if (stream.empty() || stream.size() > f::kMaxStreamIdSize) {
      out.status = Status::InvalidArgument("stream id must be 1 to " +
                                           std::to_string(f::kMaxStreamIdSize) + " bytes");
      continue;
    }
    if (payload.size() > f::kMaxPayloadSize) {
      out.status = Status::InvalidArgument("payload larger than " +
                                           std::to_string(f::kMaxPayloadSize) + " bytes");
      continue;
    }
    const uint64_t hash = p.stream_hash;
    StreamState* found = streams_.Find(stream, hash);
    const StreamVersion current = found != nullptr ? found->version : StreamVersion(0);
    if (!p.expected.Matches(current)) {
      out.status = Status::Conflict("stream " + std::string(stream) + " is at version " +
                                    std::to_string(current.value));
      out.result.version = current;
      continue;
    }
    const size_t rec_size = EncodedRecordSize(stream.size(), payload.size());
    Segment* seg = segments_.back().get();
    // Full, or an ordinary file while a zero-filled spare is ready (LogOptions::preallocate).
    if (seg->count() > 0 &&
        (active_->size + active_->buf.size() + rec_size + f::kFooterSize > options_.segment_size ||
         (!active_->preallocated && spare_state_.load(std::memory_order_relaxed) == kSpareReady))) {
      lk.unlock();
      const bool rolled = FlushPending() && Roll();
      lk.lock();
      if (!rolled) {
        out.status = health();
        continue;
      }
      seg = segments_.back().get();
    }
    if (++held == kRecordsPerLockHold) {
      lk.unlock();
      // A big batch goes out in writes of about kFlushBytes, while the encoded bytes are still
      // in this core's cache: one write of a whole batch (megabytes, in buffered mode) would make
      // the kernel copy it back from memory.
      if (active_->buf.size() >= kFlushBytes) FlushPending();
      lk.lock();
      held = 0;
    }
    // Only the writer inserts, so `found` is still valid: one probe for a stream that exists.
    StreamState* st = found != nullptr ? found : streams_.FindOrInsert(stream, hash, nullptr);
    RecordView rec;
    rec.position = Position(++assigned_);
    rec.version = st->version.next();
    rec.type = p.type;
    last_timestamp_ms_ = std::max(last_timestamp_ms_, now_ms);
    rec.timestamp_ms = last_timestamp_ms_;
    rec.durable_gap = DurableGap(rec.position, durable_before);
    rec.stream = stream;
    rec.payload = payload;
    const uint64_t offset = active_->size + active_->buf.size();
    EncodeRecord(&active_->buf, rec);
    active_->buf_last = rec.position.value;
    ++active_->buf_records;
    IndexRecord(*seg, st, rec.position, rec.version, offset);
    out.result = AppendResult{rec.position, rec.version, rec.timestamp_ms};
  }
  lk.unlock();
  FlushPending();

  const uint64_t durable = durable_.load(std::memory_order_acquire);
  if ((options_.durability == Durability::kSync || barrier) && written_ > durable) {
    flight.wait_durable = written_;
    // Pipelining (the syncer syncs while this thread writes the next batch) costs two thread
    // hops, tens of microseconds on a small VM; it pays only when a big batch is already
    // waiting. Otherwise the writer syncs itself and the latency path has no hop.
    constexpr size_t kPipelineMinBatch = 256;
    bool sync_here = false;
    {
      std::lock_guard q(queue_mu_);
      sync_here = queue_.size() < kPipelineMinBatch;
    }
    if (sync_here) {
      std::lock_guard s(sync_mu_);
      sync_here = !syncer_busy_ && seals_.empty() && sync_target_ <= durable;
    }
    if (sync_here && !failed_.load(std::memory_order_relaxed)) {
      SyncTo(*segments_.back()->file, written_);
    } else {
      RequestSync(written_, /*wake=*/true);
    }
  } else if (options_.durability == Durability::kInterval && written_ > durable) {
    RequestSync(written_, /*wake=*/false);  // the syncer's timer picks it up
  }
  flight.batch = std::move(batch);
  inflight_.push_back(std::move(flight));
}

// Completes, in order, the written batches whose durability wait is over (or that failed).
void Log::CompleteDurable() {
  Commit();
  const uint64_t durable = durable_.load(std::memory_order_acquire);
  const uint64_t committed = committed_.load(std::memory_order_relaxed);
  const bool failed = failed_.load(std::memory_order_acquire);
  while (!inflight_.empty()) {
    InFlight& flight = inflight_.front();
    if (!failed && flight.wait_durable > durable) break;
    for (size_t i = 0; i < flight.batch.size(); ++i) {
      Pending& p = flight.batch[i];
      InFlight::Outcome& out = flight.outcomes[i];
      if (p.barrier) {
        if (flight.wait_durable > durable) out.status = health();
        p.done(out.status.ok() ? Result<AppendResult>(AppendResult{})
                               : Result<AppendResult>(out.status));
        continue;
      }
      if (out.status.ok() && out.result.position.value > committed) out.status = health();
      if (out.status.ok()) {
        p.done(out.result);
      } else {
        p.done(out.status);
      }
    }
    inflight_.pop_front();
  }
  if (!to_wake_.empty()) {
    auto chain = std::make_shared<WakeChain>();
    chain->waiters.swap(to_wake_);
    for (auto& w : chain->waiters) w->chain = chain;  // before any of them is woken
    chain->WakeSome(8);
  }
}

void Log::IndexRecord(Segment& seg, StreamState* st, Position pos, StreamVersion version,
                      uint64_t offset) {
  seg.offsets.push_back(static_cast<uint32_t>(offset));
  seg.prevs.push_back(st->last.value);
  if (st->last < seg.base) seg.stream_starts.push_back(StreamTable::KeyOf(st));
  st->last = pos;
  st->version = version;
}

void Log::Commit() {
  const uint64_t durable = durable_.load(std::memory_order_acquire);
  const uint64_t c = options_.durability == Durability::kSync ? durable : written_;
  assert(durable <= written_ && written_ <= assigned_);
  assert(c >= committed_.load(std::memory_order_relaxed));
  committed_.store(c, std::memory_order_release);
}

// Writes the encoded records of the batch. Their index entries are already published; readers
// do not look at them until they are committed.
bool Log::FlushPending() {
  ActiveState& a = *active_;
  if (a.buf.empty()) return !failed_.load(std::memory_order_relaxed);
  Segment& seg = *segments_.back();
  Status s = seg.file->WriteAt(a.size, a.buf);
  if (!s.ok()) {
    (void)seg.file->Truncate(a.size);  // best effort; recovery cuts a torn tail anyway
    Fail(s);
    a.buf.clear();
    a.buf_records = 0;
    return false;
  }
  SegmentHashUpdate(a.hash.get(), a.buf.data(), a.buf.size());
  a.size += a.buf.size();
  {
    std::unique_lock lk(index_mu_);
    seg.end = a.size;
    seg.file_size = std::max(seg.file_size, a.size);  // a preallocated file is bigger
  }
  written_ = a.buf_last;
  active_bytes_.store(a.size, std::memory_order_relaxed);
  MaybeRequestSpare();
  appended_events_.fetch_add(a.buf_records, std::memory_order_relaxed);
  appended_bytes_.fetch_add(a.buf.size(), std::memory_order_relaxed);
  a.buf.clear();
  a.buf_records = 0;
  return true;
}

// Rolls over to a new segment without waiting for the disk: the footer is written, the next
// segment created under its pending name, and the syncer makes the old segment durable and then
// gives the new one its name (FinishSeal). Until then nothing newer can become durable, because
// the syncer finishes seals before anything else; and a crash in between leaves the old segment
// last (recovered like any active segment) and the pending file, which open deletes. Waiting here
// for a 64 MiB fdatasync instead would stall every append behind the disk at each roll-over.
bool Log::Roll() {
  Status s = SealActive();
  if (s.ok()) s = CreateSegment(Position(assigned_ + 1), /*pending=*/true);
  if (!s.ok()) {
    Fail(s);
    return false;
  }
  PendingSeal seal;
  seal.sealed = segments_[segments_.size() - 2].get();
  seal.next_path = segments_.back()->path;
  seal.next_pending_path = seal.next_path + f::kPendingSuffix;
  {
    std::lock_guard lk(sync_mu_);
    seals_.push_back(std::move(seal));
  }
  sync_cv_.notify_one();
  return true;
}

Status Log::SealActive() {
  ActiveState& a = *active_;
  Segment& seg = *segments_.back();
  SegmentFooter footer;
  footer.record_count = seg.count();
  footer.last_position = seg.last();
  footer.segment_checksum = XXH3_64bits_digest(a.hash.get());
  // In a spare the footer overwrites zeros, and unsynced overwrites reach the disk in any order:
  // the footer (which makes the segment sealed) must not land before the records it seals.
  if (a.preallocated) ORDERLOG_RETURN_IF_ERROR(TimedSync(*seg.file));
  ORDERLOG_RETURN_IF_ERROR(seg.file->WriteAt(a.size, EncodeSegmentFooter(footer)));
  // A sealed segment ends with its footer. (A crash before this truncation is durable leaves the
  // footer inside the zeros, not at the end: open then treats the segment as the active one and
  // cuts the footer as a torn tail, and deletes the ".pending" successor.)
  if (a.preallocated) ORDERLOG_RETURN_IF_ERROR(seg.file->Truncate(a.size + f::kFooterSize));
  std::unique_lock lk(index_mu_);
  seg.sealed = true;
  seg.file_size = a.size + f::kFooterSize;
  return Status::Ok();
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
  // The .idx file is written by the indexer thread: building it takes tens of milliseconds for
  // a full segment. Until it exists, a restart rebuilds it.
  {
    std::lock_guard lk(indexer_mu_);
    indexer_queue_.push_back(seal.sealed);
  }
  indexer_cv_.notify_one();
}

// The spare is written as zeros in 256 KiB pieces, each written back to the device before the
// next (sync_file_range: data only, no journal commit, no cache flush), then one fdatasync and a
// rename into place once whole. Writing 64 MiB at full speed put bursts of tens of milliseconds
// in front of the appends' fdatasyncs (HTTP POST p99 3 -> 6-10 ms); so after each piece it rests
// as long as the piece took (half the disk at most) unless the active segment is catching up
// with it. A failure costs nothing but the preallocation: the next segment is an ordinary file.
Status Log::PrepareSpare() {
  const std::string path = JoinPath(dir_, f::kSpareFileName);
  const std::string tmp = path + f::kSpareTempSuffix;
  const uint64_t size = options_.segment_size;
  const uint64_t active_at_start = active_bytes_.load(std::memory_order_relaxed);
  Status s = [&]() -> Status {
    auto file = env_->Open(tmp, OpenMode::kCreate);
    if (!file.ok()) return file.status();
    ORDERLOG_RETURN_IF_ERROR((*file)->Truncate(0));
    constexpr uint64_t kPiece = 256 << 10;
    const std::string zeros(kPiece, '\0');
    for (uint64_t off = 0; off < size;) {
      if (spare_abort_.load(std::memory_order_relaxed)) return Status::Closed("the log is closing");
      const auto t0 = std::chrono::steady_clock::now();
      const uint64_t n = std::min(kPiece, size - off);
      ORDERLOG_RETURN_IF_ERROR((*file)->WriteAt(off, std::string_view(zeros.data(), n)));
      ORDERLOG_RETURN_IF_ERROR((*file)->WriteBack(off, n));
      off += n;
      // Behind when the active segment has used more of what it had left than twice the share
      // of the spare written so far (it must be whole before the segment is full).
      const uint64_t active = active_bytes_.load(std::memory_order_relaxed);
      const uint64_t left = size > active_at_start ? size - active_at_start : 1;
      const double used =
          active > active_at_start ? double(active - active_at_start) / double(left) : 0;
      if (used * 2 < double(off) / double(size)) {
        std::this_thread::sleep_for(std::chrono::steady_clock::now() - t0);
      }
    }
    ORDERLOG_RETURN_IF_ERROR((*file)->Sync());
    return env_->Rename(tmp, path);
  }();
  if (!s.ok()) (void)env_->Remove(tmp);
  return s;
}

void Log::MaybeRequestSpare() {
  if (!preallocate_ || spare_asked_ || active_->size < options_.segment_size / 8) return;
  spare_asked_ = true;
  int none = kNoSpare;
  if (!spare_state_.compare_exchange_strong(none, kSpareInProgress)) return;  // one is coming
  {
    std::lock_guard lk(indexer_mu_);
    spare_wanted_ = true;
  }
  indexer_cv_.notify_one();
}

void Log::IndexerLoop() {
  std::unique_lock lk(indexer_mu_);
  for (;;) {
    indexer_cv_.wait(lk, [&] { return indexer_stop_ || !indexer_queue_.empty() || spare_wanted_; });
    if (indexer_queue_.empty() && !indexer_stop_) {  // spare_wanted_
      spare_wanted_ = false;
      lk.unlock();
      if (PrepareSpare().ok()) {
        spare_state_.store(kSpareReady, std::memory_order_release);
      } else {
        spare_failures_.fetch_add(1, std::memory_order_relaxed);
        spare_state_.store(kNoSpare, std::memory_order_release);
      }
      lk.lock();
      continue;
    }
    if (indexer_queue_.empty()) break;  // stopping, and nothing left to write
    Segment* seg = indexer_queue_.front();
    indexer_queue_.pop_front();
    lk.unlock();
    Status s = WriteSegmentIndex(*seg);
    if (!s.ok()) index_write_failures_.fetch_add(1, std::memory_order_relaxed);
    lk.lock();
  }
}

// Writes the .idx of a sealed segment from memory: its offsets and links never change once
// sealed, and its per-stream entries follow the links (a record whose stream's previous event is
// in this segment joins that record's entry; any other starts the next entry, whose id the writer
// kept in stream_starts). Nothing is read back or hashed: on two cores the indexer shares a core
// with appends.
Status Log::WriteSegmentIndex(Segment& seg) {
  const uint64_t n = seg.count();
  std::vector<uint32_t> entry_of(n);  // record -> its stream's entry
  std::vector<SegmentStreamEntry> entries;
  entries.reserve(seg.stream_starts.size());
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t prev = seg.prevs[i];
    uint32_t e;
    if (prev >= seg.base.value) {
      e = entry_of[prev - seg.base.value];
    } else {
      e = static_cast<uint32_t>(entries.size());
      if (e >= seg.stream_starts.size()) {
        return Status::Corruption(seg.path + ": more streams start in it than the writer recorded");
      }
      entries.push_back({seg.stream_starts[e], Position(0), 0});
    }
    entry_of[i] = e;
    entries[e].last = Position(seg.base.value + i);
    ++entries[e].count;
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& x, const auto& y) { return x.last < y.last; });
  Status s = WriteFileAtomically(env_, dir_, IndexFileName(seg.base),
                                 EncodeSegmentIndex(seg.base, seg.offsets, seg.prevs, entries));
  std::unique_lock lk(index_mu_);
  std::vector<std::string_view>().swap(seg.stream_starts);
  return s;
}

Status Log::CreateSegment(Position base, bool pending) {
  const std::string path = JoinPath(dir_, SegmentFileName(base));
  const std::string name = pending ? path + f::kPendingSuffix : path;
  Result<std::unique_ptr<File>> file = Status::NotFound("no spare");
  bool preallocated = false;
  spare_asked_ = false;
  if (spare_state_.load(std::memory_order_acquire) == kSpareReady) {  // it becomes this segment
    spare_state_.store(kNoSpare, std::memory_order_relaxed);
    if (env_->Rename(JoinPath(dir_, f::kSpareFileName), name).ok()) {
      file = env_->Open(name, OpenMode::kReadWrite);
      preallocated = file.ok();
    }
  }
  if (!preallocated) {
    file = env_->Open(name, OpenMode::kCreate);
    if (!file.ok()) return file.status();
    ORDERLOG_RETURN_IF_ERROR((*file)->Truncate(0));
  }
  const std::string header = EncodeSegmentHeader(base);
  ORDERLOG_RETURN_IF_ERROR((*file)->WriteAt(0, header));
  // In a spare the header overwrites zeros: synced now, so that a segment that gets its name (only
  // after this) never shows zeros where its header belongs after a power loss. (A new file has no
  // such problem: unsynced, it is empty after a crash, and open removes it.)
  if (preallocated && pending) ORDERLOG_RETURN_IF_ERROR((*file)->Sync());
  if (!pending) {
    ORDERLOG_RETURN_IF_ERROR((*file)->Sync());
    ORDERLOG_RETURN_IF_ERROR(env_->SyncDir(dir_));
  }
  auto seg = std::make_unique<Segment>();
  seg->base = base;
  seg->path = path;
  seg->file = std::move(file).value();
  seg->end = header.size();
  seg->file_size = preallocated ? options_.segment_size : header.size();
  auto active = std::make_unique<ActiveState>();
  SegmentHashUpdate(active->hash.get(), header.data(), header.size());
  active->size = header.size();
  active_bytes_.store(active->size, std::memory_order_relaxed);
  active->preallocated = preallocated;
  if (preallocated) preallocated_segments_.fetch_add(1, std::memory_order_relaxed);
  active_ = std::move(active);
  std::unique_lock lk(index_mu_);
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Reads (any thread)

const Log::Segment* Log::FindSegment(Position p) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), p,
                             [](Position pos, const auto& seg) { return pos < seg->base; });
  if (it == segments_.begin()) return nullptr;
  const Segment* seg = std::prev(it)->get();
  return seg->Contains(p) ? seg : nullptr;
}

bool Log::Locate(Position p, std::shared_ptr<File>* file, uint64_t* offset, uint64_t* end) const {
  const Segment* seg = FindSegment(p);
  if (seg == nullptr) return false;
  const uint64_t i = p.value - seg->base.value;
  *file = seg->file;
  *offset = seg->offsets[i];
  *end = seg->EndOf(i);
  return true;
}

uint64_t Log::PrevOf(Position p) const {
  const Segment* seg = FindSegment(p);
  return seg == nullptr ? 0 : seg->prevs[p.value - seg->base.value];
}

Status Log::ReadAt(const File& file, uint64_t offset, uint64_t end, Position expect,
                   Event* out) const {
  std::string buf(end - offset, '\0');
  size_t got = 0;
  ORDERLOG_RETURN_IF_ERROR(file.ReadAt(offset, buf.size(), buf.data(), &got));
  RecordView rec;
  DecodeResult r = DecodeRecord(buf.data(), got, &rec);
  if (r.outcome != DecodeOutcome::kOk || rec.position != expect || rec.length != buf.size()) {
    return Status::Corruption(file.path() + " offset " + std::to_string(offset) + ": " +
                              (r.why != nullptr ? r.why : "record is not the indexed one") +
                              " (position " + std::to_string(expect.value) + ")");
  }
  *out = rec.ToEvent();
  return Status::Ok();
}

Result<Event> Log::Read(Position position) const {
  if (position.value == 0 || position > committed_position()) {
    return Status::NotFound("no event at position " + std::to_string(position.value));
  }
  std::shared_ptr<File> file;
  uint64_t offset = 0;
  uint64_t end = 0;
  {
    std::shared_lock lk(index_mu_);
    if (!Locate(position, &file, &offset, &end)) {
      return Status::NotFound("no event at position " + std::to_string(position.value));
    }
  }
  Event ev;
  ORDERLOG_RETURN_IF_ERROR(ReadAt(*file, offset, end, position, &ev));
  return ev;
}

Status Log::ReadRange(Position after, size_t max, std::vector<Event>* out) const {
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  uint64_t from = after.value + 1;
  const uint64_t to =
      std::min<uint64_t>(committed, after.value + std::min<uint64_t>(max, committed));
  std::string buf;
  while (from <= to && from <= committed) {
    Span span;
    ORDERLOG_RETURN_IF_ERROR(LocateSpan(from, to, &span));
    buf.resize(span.end - span.start);
    size_t got = 0;
    ORDERLOG_RETURN_IF_ERROR(span.file->ReadAt(span.start, buf.size(), buf.data(), &got));
    size_t p = 0;
    for (uint64_t pos = from; pos <= span.last; ++pos) {
      RecordView rec;
      DecodeResult r = DecodeRecord(buf.data() + p, got - p, &rec);
      if (r.outcome != DecodeOutcome::kOk || rec.position.value != pos) {
        return Status::Corruption(span.file->path() + " offset " + std::to_string(span.start + p) +
                                  ": " + (r.why != nullptr ? r.why : "unexpected position"));
      }
      out->push_back(rec.ToEvent());
      p += rec.length;
    }
    from = span.last + 1;
  }
  return Status::Ok();
}

Status Log::LocateSpan(uint64_t from, uint64_t to, Span* out) const {
  std::shared_lock lk(index_mu_);
  const Segment* seg = FindSegment(Position(from));
  if (seg == nullptr) return Status::NotFound("position " + std::to_string(from));
  out->last = std::min(to, seg->last().value);
  out->file = seg->file;
  out->start = seg->offsets[from - seg->base.value];
  out->end = seg->EndOf(out->last - seg->base.value);
  return Status::Ok();
}

StreamState Log::LastVisible(const StreamState& st, uint64_t committed) const {
  StreamState visible = st;
  while (visible.last.value > committed) {  // appended but not yet acknowledged: not visible
    visible.last = Position(PrevOf(visible.last));
    visible.version = StreamVersion(visible.version.value - 1);
  }
  return visible;
}

StreamVersion Log::CurrentVersion(std::string_view stream) const {
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  std::shared_lock lk(index_mu_);
  const StreamState* st = streams_.Find(stream);
  if (st == nullptr) return StreamVersion(0);
  return LastVisible(*st, committed).version;
}

Status Log::ReadStream(std::string_view stream, StreamVersion from, size_t max,
                       std::vector<Event>* out) const {
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  std::vector<uint64_t> positions;
  {
    std::shared_lock lk(index_mu_);
    const StreamState* st = streams_.Find(stream);
    if (st == nullptr) return Status::Ok();
    const StreamState visible = LastVisible(*st, committed);
    uint64_t pos = visible.last.value;
    for (uint64_t v = visible.version.value; pos != 0 && v >= std::max<uint64_t>(from.value, 1);
         --v) {
      positions.push_back(pos);
      pos = PrevOf(Position(pos));
    }
  }
  std::reverse(positions.begin(), positions.end());
  if (positions.size() > max) positions.resize(max);
  for (uint64_t pos : positions) {
    auto ev = Read(Position(pos));
    if (!ev.ok()) return ev.status();
    out->push_back(std::move(ev).value());
  }
  return Status::Ok();
}

Status Log::Scan(Position after, const std::function<bool(const RecordView&)>& fn) const {
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  uint64_t next = after.value + 1;
  while (next <= committed) {
    Span span;
    ORDERLOG_RETURN_IF_ERROR(LocateSpan(next, committed, &span));
    const std::shared_ptr<File>& file = span.file;
    const uint64_t last = span.last;
    SegmentReader reader(file.get(), span.start, span.end);
    RecordView rec;
    for (;;) {
      const auto r = reader.Read(&rec);
      if (r == SegmentReader::Next::kEnd) break;
      if (r != SegmentReader::Next::kRecord) {
        if (!reader.io_status().ok()) return reader.io_status();
        return Status::Corruption(file->path() + " offset " + std::to_string(reader.offset()) +
                                  ": " + (reader.why() != nullptr ? reader.why() : "bad record"));
      }
      if (rec.position.value != next) {
        return Status::Corruption(file->path() + " offset " + std::to_string(reader.offset()) +
                                  ": expected position " + std::to_string(next) + ", found " +
                                  std::to_string(rec.position.value));
      }
      if (!fn(rec)) return Status::Ok();
      ++next;
    }
    if (next != last + 1) {
      return Status::Corruption(file->path() + ": index and records disagree before position " +
                                std::to_string(last + 1));
    }
  }
  return Status::Ok();
}

LogStats Log::Stats() const {
  LogStats s;
  s.committed = committed_position();
  s.appended_events = appended_events_.load(std::memory_order_relaxed);
  s.appended_bytes = appended_bytes_.load(std::memory_order_relaxed);
  s.fsyncs = fsyncs_.load(std::memory_order_relaxed);
  s.fsync_micros = fsync_micros_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kFsyncBuckets; ++i) {
    s.fsync_buckets[i] = fsync_buckets_[i].load(std::memory_order_relaxed);
  }
  s.index_write_failures = index_write_failures_.load(std::memory_order_relaxed);
  s.preallocated_segments = preallocated_segments_.load(std::memory_order_relaxed);
  s.spare_failures = spare_failures_.load(std::memory_order_relaxed);
  s.spare_ready = spare_state_.load(std::memory_order_relaxed) == kSpareReady;
  std::shared_lock lk(index_mu_);
  s.streams = streams_.size();
  s.segments = segments_.size();
  s.stream_table_bytes = streams_.MemoryUsage();
  s.index_memory_bytes = s.stream_table_bytes;
  for (const auto& seg : segments_) {
    s.index_memory_bytes += seg->offsets.capacity() * sizeof(uint32_t) +
                            seg->prevs.capacity() * sizeof(uint64_t) + sizeof(Segment);
  }
  return s;
}

std::vector<SegmentInfo> Log::Segments() const {
  std::vector<SegmentInfo> out;
  std::shared_lock lk(index_mu_);
  for (const auto& seg : segments_) {
    out.push_back({seg->path, seg->base, Position(seg->base.value + seg->count() - 1), seg->count(),
                   seg->file_size, seg->sealed});
  }
  return out;
}

}  // namespace orderlog
