#include "engine/log.h"

#include <algorithm>
#include <cassert>
#include <optional>

#include "engine/log_internal.h"
#include "engine/segment.h"

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

void Log::AppendAsync(AppendRequest request, AppendCallback done) {
  if (failed_.load(std::memory_order_acquire)) {
    done(health());
    return;
  }
  bool wake = false;
  {
    std::unique_lock lk(queue_mu_);
    if (options_.read_only || stopping_) {
      lk.unlock();
      done(options_.read_only ? Status::ReadOnly("the log was opened read-only")
                              : Status::Closed("the log is closed"));
      return;
    }
    wake = queue_.empty();
    queue_.push_back(Pending{std::move(request), std::move(done), false});
  }
  if (wake) queue_cv_.notify_one();
}

namespace {
// Completion state for a blocking call waiting on the writer thread.
template <typename T>
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<T> value;

  void Set(T v) {
    std::lock_guard lk(mu);
    value.emplace(std::move(v));
    cv.notify_one();  // under the lock: the waiter cannot destroy us before we are done
  }
  T Wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return value.has_value(); });
    return std::move(*value);
  }
};
}  // namespace

Result<AppendResult> Log::Append(AppendRequest request) {
  Waiter<Result<AppendResult>> w;
  AppendAsync(std::move(request), [&w](const Result<AppendResult>& r) { w.Set(r); });
  return w.Wait();
}

Status Log::Sync() {
  Waiter<Status> w;
  {
    std::unique_lock lk(queue_mu_);
    if (options_.read_only) return Status::Ok();
    if (stopping_) return health();
    const bool wake = queue_.empty();
    queue_.push_back(Pending{{}, [&w](const Result<AppendResult>& r) { w.Set(r.status()); }, true});
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
// Writer thread

void Log::WriterLoop() {
  using Clock = std::chrono::steady_clock;
  const bool interval = options_.durability == Durability::kInterval;
  auto next_sync = Clock::now() + options_.sync_interval;
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lk(queue_mu_);
      auto ready = [&] { return !queue_.empty() || stopping_; };
      if (interval && active_->unsynced && !failed_.load(std::memory_order_relaxed)) {
        queue_cv_.wait_until(lk, next_sync, ready);
      } else {
        queue_cv_.wait(lk, ready);
      }
      if (queue_.empty() && stopping_) break;
      batch.swap(queue_);
    }
    if (!batch.empty()) {
      ProcessBatch(batch);
      batch.clear();
    }
    if (interval && Clock::now() >= next_sync) {
      if (active_->unsynced && !failed_.load(std::memory_order_relaxed)) SyncActive();
      next_sync = Clock::now() + options_.sync_interval;
    }
  }
  if (active_->unsynced && !failed_.load(std::memory_order_relaxed)) SyncActive();
}

void Log::ProcessBatch(std::vector<Pending>& batch) {
  struct Outcome {
    Status status;
    AppendResult result;
  };
  std::vector<Outcome> outcomes(batch.size());
  bool need_sync = options_.durability == Durability::kSync;
  const int64_t now_ms = NowMs();

  for (size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    Outcome& out = outcomes[i];
    if (p.barrier) {
      need_sync = true;
      continue;
    }
    if (failed_.load(std::memory_order_relaxed)) {
      out.status = health();
      continue;
    }
    const AppendRequest& req = p.request;
    if (req.stream.empty() || req.stream.size() > f::kMaxStreamIdSize) {
      out.status = Status::InvalidArgument("stream id must be 1 to " +
                                           std::to_string(f::kMaxStreamIdSize) + " bytes");
      continue;
    }
    if (req.payload.size() > f::kMaxPayloadSize) {
      out.status = Status::InvalidArgument("payload larger than " +
                                           std::to_string(f::kMaxPayloadSize) + " bytes");
      continue;
    }
    StreamState state;
    if (auto it = active_->overlay.find(req.stream); it != active_->overlay.end()) {
      state = it->second;
    } else if (const StreamState* s = streams_.Find(req.stream)) {
      state = *s;  // only this thread mutates the table, so reading it unlocked is safe
    }
    if (!req.expected.Matches(state.version)) {
      out.status = Status::Conflict("stream " + req.stream + " is at version " +
                                    std::to_string(state.version.value));
      out.result.version = state.version;
      continue;
    }
    const size_t rec_size = EncodedRecordSize(req.stream.size(), req.payload.size());
    const bool segment_has_records = !active_->entries.empty() || segments_.back()->count() > 0;
    if (segment_has_records &&
        active_->size + active_->buf.size() + rec_size + f::kFooterSize > options_.segment_size) {
      if (!FlushPending() || !Roll()) {
        out.status = health();
        continue;
      }
      state = streams_.Find(req.stream) != nullptr ? *streams_.Find(req.stream) : StreamState{};
    }
    RecordView rec;
    rec.position = Position(++assigned_);
    rec.version = state.version.next();
    rec.type = req.type;
    last_timestamp_ms_ = std::max(last_timestamp_ms_, now_ms);
    rec.timestamp_ms = last_timestamp_ms_;
    rec.stream = req.stream;
    rec.payload = req.payload;
    const auto offset = static_cast<uint32_t>(active_->size + active_->buf.size());
    EncodeRecord(&active_->buf, rec);
    active_->entries.push_back({req.stream, rec.position, rec.version, state.last.value, offset});
    active_->overlay[req.stream] = StreamState{rec.position, rec.version};
    out.result = AppendResult{rec.position, rec.version};
  }

  FlushPending();
  if (need_sync && active_->unsynced && !failed_.load(std::memory_order_relaxed)) SyncActive();
  Commit();

  const uint64_t committed = committed_.load(std::memory_order_relaxed);
  const bool failed = failed_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < batch.size(); ++i) {
    Outcome& out = outcomes[i];
    if (batch[i].barrier) {
      if (failed) out.status = health();
      batch[i].done(out.status.ok() ? Result<AppendResult>(AppendResult{})
                                    : Result<AppendResult>(out.status));
      continue;
    }
    if (out.status.ok() && out.result.position.value > committed) out.status = health();
    if (out.status.ok()) {
      batch[i].done(out.result);
    } else {
      batch[i].done(out.status);
    }
  }
}

void Log::Commit() {
  const uint64_t c = options_.durability == Durability::kSync ? durable_ : written_;
  assert(durable_ <= written_ && written_ <= assigned_);
  assert(c >= committed_.load(std::memory_order_relaxed));
  committed_.store(c, std::memory_order_release);
}

bool Log::FlushPending() {
  ActiveState& a = *active_;
  if (a.buf.empty()) return !failed_.load(std::memory_order_relaxed);
  Segment& seg = *segments_.back();
  Status s = seg.file->WriteAt(a.size, a.buf);
  if (!s.ok()) {
    (void)seg.file->Truncate(a.size);  // best effort; recovery cuts a torn tail anyway
    Fail(s);
    a.buf.clear();
    a.entries.clear();
    a.overlay.clear();
    return false;
  }
  XXH3_64bits_update(a.hash.get(), a.buf.data(), a.buf.size());
  std::vector<std::string_view> keys(a.entries.size());
  {
    std::unique_lock lk(index_mu_);
    seg.offsets.reserve(seg.offsets.size() + a.entries.size());
    seg.prevs.reserve(seg.prevs.size() + a.entries.size());
    for (size_t i = 0; i < a.entries.size(); ++i) {
      const PendingEntry& e = a.entries[i];
      seg.offsets.push_back(e.offset);
      seg.prevs.push_back(e.prev);
      *streams_.FindOrInsert(e.stream, &keys[i]) = StreamState{e.position, e.version};
    }
    seg.end = a.size + a.buf.size();
    seg.file_size = seg.end;
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    auto& ss = a.seg_streams[keys[i]];
    ss.last = a.entries[i].position;
    ++ss.count;
  }
  a.size += a.buf.size();
  written_ = a.entries.back().position.value;
  appended_events_.fetch_add(a.entries.size(), std::memory_order_relaxed);
  appended_bytes_.fetch_add(a.buf.size(), std::memory_order_relaxed);
  a.unsynced = true;
  a.buf.clear();
  a.entries.clear();
  a.overlay.clear();
  return true;
}

bool Log::SyncActive() {
  Status s = segments_.back()->file->Sync();
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) {
    Fail(s);
    return false;
  }
  durable_ = written_;
  active_->unsynced = false;
  return true;
}

bool Log::Roll() {
  Status s = SealActive();
  if (s.ok()) s = CreateSegment(Position(assigned_ + 1));
  if (!s.ok()) {
    Fail(s);
    return false;
  }
  Commit();
  return true;
}

Status Log::SealActive() {
  ActiveState& a = *active_;
  Segment& seg = *segments_.back();
  SegmentFooter footer;
  footer.record_count = seg.count();
  footer.last_position = seg.last();
  footer.segment_checksum = XXH3_64bits_digest(a.hash.get());
  ORDERLOG_RETURN_IF_ERROR(seg.file->WriteAt(a.size, EncodeSegmentFooter(footer)));
  ORDERLOG_RETURN_IF_ERROR(seg.file->Sync());
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  durable_ = written_;
  a.unsynced = false;

  std::vector<SegmentStreamEntry> entries;
  entries.reserve(a.seg_streams.size());
  for (const auto& [id, ss] : a.seg_streams) entries.push_back({id, ss.last, ss.count});
  std::sort(entries.begin(), entries.end(),
            [](const auto& x, const auto& y) { return x.last < y.last; });
  ORDERLOG_RETURN_IF_ERROR(
      WriteFileAtomically(env_, dir_, IndexFileName(seg.base),
                          EncodeSegmentIndex(seg.base, seg.offsets, seg.prevs, entries)));
  std::unique_lock lk(index_mu_);
  seg.sealed = true;
  seg.file_size = a.size + f::kFooterSize;
  return Status::Ok();
}

Status Log::CreateSegment(Position base) {
  const std::string path = JoinPath(dir_, SegmentFileName(base));
  auto file = env_->Open(path, OpenMode::kCreate);
  if (!file.ok()) return file.status();
  const std::string header = EncodeSegmentHeader(base);
  ORDERLOG_RETURN_IF_ERROR((*file)->Truncate(0));
  ORDERLOG_RETURN_IF_ERROR((*file)->WriteAt(0, header));
  ORDERLOG_RETURN_IF_ERROR((*file)->Sync());
  ORDERLOG_RETURN_IF_ERROR(env_->SyncDir(dir_));
  auto seg = std::make_unique<Segment>();
  seg->base = base;
  seg->path = path;
  seg->file = std::move(file).value();
  seg->end = header.size();
  seg->file_size = header.size();
  auto active = std::make_unique<ActiveState>();
  XXH3_64bits_update(active->hash.get(), header.data(), header.size());
  active->size = header.size();
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
    std::shared_ptr<File> file;
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t last = 0;
    {
      std::shared_lock lk(index_mu_);
      const Segment* seg = FindSegment(Position(from));
      if (seg == nullptr) return Status::NotFound("position " + std::to_string(from));
      last = std::min(to, seg->last().value);
      file = seg->file;
      start = seg->offsets[from - seg->base.value];
      end = seg->EndOf(last - seg->base.value);
    }
    buf.resize(end - start);
    size_t got = 0;
    ORDERLOG_RETURN_IF_ERROR(file->ReadAt(start, buf.size(), buf.data(), &got));
    size_t p = 0;
    for (uint64_t pos = from; pos <= last; ++pos) {
      RecordView rec;
      DecodeResult r = DecodeRecord(buf.data() + p, got - p, &rec);
      if (r.outcome != DecodeOutcome::kOk || rec.position.value != pos) {
        return Status::Corruption(file->path() + " offset " + std::to_string(start + p) + ": " +
                                  (r.why != nullptr ? r.why : "unexpected position"));
      }
      out->push_back(rec.ToEvent());
      p += rec.length;
    }
    from = last + 1;
  }
  return Status::Ok();
}

StreamVersion Log::CurrentVersion(std::string_view stream) const {
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  std::shared_lock lk(index_mu_);
  const StreamState* st = streams_.Find(stream);
  if (st == nullptr) return StreamVersion(0);
  uint64_t pos = st->last.value;
  uint64_t v = st->version.value;
  while (pos > committed) {  // appended but not yet acknowledged: not visible
    pos = PrevOf(Position(pos));
    --v;
  }
  return StreamVersion(v);
}

Status Log::ReadStream(std::string_view stream, StreamVersion from, size_t max,
                       std::vector<Event>* out) const {
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  std::vector<uint64_t> positions;
  {
    std::shared_lock lk(index_mu_);
    const StreamState* st = streams_.Find(stream);
    if (st == nullptr) return Status::Ok();
    uint64_t pos = st->last.value;
    uint64_t v = st->version.value;
    while (pos > committed) {
      pos = PrevOf(Position(pos));
      --v;
    }
    for (; pos != 0 && v >= std::max<uint64_t>(from.value, 1); --v) {
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
    std::shared_ptr<File> file;
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t last = 0;
    {
      std::shared_lock lk(index_mu_);
      const Segment* seg = FindSegment(Position(next));
      if (seg == nullptr) return Status::NotFound("position " + std::to_string(next));
      last = std::min(committed, seg->last().value);
      file = seg->file;
      start = seg->offsets[next - seg->base.value];
      end = seg->EndOf(last - seg->base.value);
    }
    SegmentReader reader(file.get(), start, end);
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
  std::shared_lock lk(index_mu_);
  s.streams = streams_.size();
  s.segments = segments_.size();
  s.index_memory_bytes = streams_.MemoryUsage();
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
