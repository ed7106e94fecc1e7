// The writer thread: the one thread that appends. It takes the whole submission queue as one
// batch and runs it through named steps (WriteBatch): check each append's expected version, roll
// over when the record does not fit, encode and index it, write the batch, start its sync (here,
// or on the syncer thread), and complete the batches whose sync is done (CompleteDurable), in
// position order. No lock is held across I/O.
#include <algorithm>
#include <cassert>

#include "engine/checksum.h"
#include "engine/log.h"
#include "engine/log_internal.h"
#include "engine/segment.h"

namespace orderlog {

namespace f = format;

namespace {
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Assigning positions mutates the index: the writer holds index_mu_ while it encodes, but lets
// readers in every few hundred records.
constexpr int kRecordsPerLockHold = 256;
// A big batch goes out in writes of about this size, while the encoded bytes are still in this
// core's cache: one write of a whole batch (megabytes, in buffered mode) would make the kernel
// copy it back from memory.
constexpr size_t kFlushBytes = 128 << 10;
// The stream table is probed this many appends ahead of the one being encoded.
constexpr size_t kPrefetchAhead = 8;
// Pipelining (the syncer syncs while this thread writes the next batch) costs two thread hops,
// tens of microseconds on a small VM; it pays only when a batch at least this big is waiting.
constexpr size_t kPipelineMinBatch = 256;
// How long the writer polls queue_filled_ before it sleeps: a fraction of a small fdatasync.
constexpr int kPollSpins = 2000;
}  // namespace

void Log::WriterLoop() {
  writer_thread_.Assume();
  std::vector<Pending> batch;
  std::string bytes;
  for (;;) {
    for (int i = 0; i < kPollSpins && !queue_filled_.load(std::memory_order_relaxed); ++i) {
      CpuRelax();
    }
    {
      MutexLock lk(&queue_mu_, MutexLock::Spinning{});
      while (queue_.empty() && !sync_progress_ && !(stopping_ && inflight_.empty())) {
        queue_cv_.Wait(&queue_mu_);
      }
      sync_progress_ = false;
      if (queue_.empty() && stopping_ && inflight_.empty()) break;
      batch.swap(queue_);
      bytes.swap(queue_bytes_);
      queue_filled_.store(false, std::memory_order_relaxed);
    }
    if (!batch.empty()) {
      WriteBatch(batch, bytes);
      batch.clear();
      bytes.clear();
    }
    CompleteDurable();
  }
}

void Log::WriteBatch(std::vector<Pending>& batch, const std::string& bytes) {
  InFlight flight;
  flight.outcomes.resize(batch.size());
  bool barrier = false;
  const int64_t now_ms = NowMs();
  // Recorded in each record (its durable gap): what was on disk before this batch was written.
  const Position durable_before = durable_.load(std::memory_order_acquire);
  {
    WriterLock lk(&index_mu_);
    int held = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + kPrefetchAhead < batch.size()) {
        streams_.Prefetch(batch[i + kPrefetchAhead].stream_hash);
      }
      if (batch[i].barrier) {
        barrier = true;
        continue;
      }
      if (++held == kRecordsPerLockHold) {
        lk.Unlock();
        if (active_->buf.size() >= kFlushBytes) FlushPending();
        lk.Lock();
        held = 0;
      }
      InFlight::Outcome& out = flight.outcomes[i];
      EncodeOne(batch[i], bytes, now_ms, durable_before, &out.status, &out.result);
    }
  }
  FlushPending();
  flight.wait_durable = StartSync(barrier);
  flight.batch = std::move(batch);
  inflight_.push_back(std::move(flight));
}

void Log::EncodeOne(Pending& p, const std::string& bytes, int64_t now_ms, Position durable_before,
                    Status* status, AppendResult* result) {
  // Check.
  if (failed_.load(std::memory_order_relaxed)) {
    *status = health();
    return;
  }
  const std::string_view stream(bytes.data() + p.at, p.stream_size);
  const std::string_view payload(bytes.data() + p.at + p.stream_size, p.payload_size);
  if (stream.empty() || stream.size() > f::kMaxStreamIdSize) {
    *status = Status::InvalidArgument("stream id must be 1 to " +
                                      std::to_string(f::kMaxStreamIdSize) + " bytes");
    return;
  }
  if (payload.size() > f::kMaxPayloadSize) {
    *status = Status::InvalidArgument("payload larger than " + std::to_string(f::kMaxPayloadSize) +
                                      " bytes");
    return;
  }
  StreamState* found = streams_.Find(stream, p.stream_hash);
  const StreamVersion current = found != nullptr ? found->version : StreamVersion(0);
  if (!p.expected.Matches(current)) {
    *status = Status::Conflict("stream " + std::string(stream) + " is at version " +
                               std::to_string(current.value));
    result->version = current;
    return;
  }

  // Roll over.
  if (!RollOverIfDue(EncodedRecordSize(stream.size(), payload.size()))) {
    *status = health();
    return;
  }

  // Encode and index. Only the writer inserts, so `found` is still valid: one probe for a stream
  // that exists.
  StreamState* st =
      found != nullptr ? found : streams_.FindOrInsert(stream, p.stream_hash, nullptr);
  ActiveState& a = *active_;
  RecordView rec;
  rec.position = assigned_ = assigned_.next();
  rec.version = st->version.next();
  rec.type = p.type;
  last_timestamp_ms_ = std::max(last_timestamp_ms_, now_ms);
  rec.timestamp_ms = last_timestamp_ms_;
  rec.durable_gap = DurableGap(rec.position, durable_before);
  rec.stream = stream;
  rec.payload = payload;
  const uint64_t offset = a.size + a.buf.size();
  EncodeRecord(&a.buf, rec);
  a.buf_last = rec.position;
  ++a.buf_records;
  IndexRecord(*a.segment, st, rec.position, rec.version, offset);
  *result = AppendResult{rec.position, rec.version, rec.timestamp_ms};
}

bool Log::RollOverIfDue(size_t record_size) {
  const ActiveState& a = *active_;
  const bool full = a.size + a.buf.size() + record_size + f::kFooterSize > options_.segment_size;
  // An ordinary file gives way as soon as a zero-filled spare is ready (LogOptions::preallocate).
  const bool spare_waiting =
      !a.preallocated && spare_state_.load(std::memory_order_relaxed) == kSpareReady;
  if (a.segment->count() == 0 || (!full && !spare_waiting)) return true;
  index_mu_.Unlock();  // no lock across I/O; the caller's WriterLock finds it held again
  const bool rolled = FlushPending() && Roll();
  index_mu_.Lock();
  return rolled;
}

void Log::IndexRecord(Segment& seg, StreamState* st, Position pos, StreamVersion version,
                      uint64_t offset) {
  seg.offsets.push_back(static_cast<uint32_t>(offset));
  seg.prevs.push_back(st->last.value);
  if (st->last < seg.base) seg.stream_starts.push_back(StreamTable::KeyOf(st));
  st->last = pos;
  st->version = version;
}

bool Log::FlushPending() {
  ActiveState& a = *active_;
  if (a.buf.empty()) return !failed_.load(std::memory_order_relaxed);
  Segment& seg = *a.segment;
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
    WriterLock lk(&index_mu_);
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

Position Log::StartSync(bool barrier) {
  const Position durable = durable_.load(std::memory_order_acquire);
  if (written_ <= durable) return Position(0);
  if (options_.durability != Durability::kSync && !barrier) {
    // kInterval: the syncer's timer picks it up. kNone: synced at seals and Close only.
    if (options_.durability == Durability::kInterval) RequestSync(written_, /*wake=*/false);
    return Position(0);
  }
  // Otherwise the writer syncs itself, and the latency path has no thread hop.
  bool sync_here = false;
  {
    MutexLock q(&queue_mu_);
    sync_here = queue_.size() < kPipelineMinBatch;
  }
  if (sync_here) {
    MutexLock s(&sync_mu_);
    sync_here = !syncer_busy_ && seals_.empty() && sync_target_ <= durable;
  }
  if (sync_here && !failed_.load(std::memory_order_relaxed)) {
    SyncTo(*active_->segment->file, written_);
  } else {
    RequestSync(written_, /*wake=*/true);
  }
  return written_;
}

void Log::CompleteDurable() {
  Commit();
  const Position durable = durable_.load(std::memory_order_acquire);
  const Position committed = committed_.load(std::memory_order_relaxed);
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
      if (out.status.ok() && out.result.position > committed) out.status = health();
      if (out.status.ok()) {
        p.done(out.result);
      } else {
        p.done(out.status);
      }
    }
    inflight_.pop_front();
  }
  WakeBlockedAppenders();
}

void Log::Commit() {
  const Position durable = durable_.load(std::memory_order_acquire);
  const Position c = options_.durability == Durability::kSync ? durable : written_;
  assert(durable <= written_ && written_ <= assigned_);
  assert(c >= committed_.load(std::memory_order_relaxed));
  committed_.store(c, std::memory_order_release);
}

}  // namespace orderlog
