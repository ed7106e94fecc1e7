// Reads and statistics, on any thread. A reader sees only committed events (position <=
// committed_), locates them in the in-memory index under index_mu_ held shared, and reads the
// file without it: a record's bytes never change once written.
#include <algorithm>

#include "engine/log.h"
#include "engine/log_internal.h"
#include "engine/segment.h"

namespace orderlog {

const Log::Segment* Log::FindSegment(Position p) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), p,
                             [](Position pos, const auto& seg) { return pos < seg->base; });
  if (it == segments_.begin()) return nullptr;
  const Segment* seg = std::prev(it)->get();
  return seg->Contains(p) ? seg : nullptr;
}

Position Log::PrevOf(Position p) const {
  const Segment* seg = FindSegment(p);
  return Position(seg == nullptr ? 0 : seg->prevs[p.value - seg->base.value]);
}

Status Log::ReadAt(const File& file, uint64_t offset, uint64_t end, Position expect,
                   Event* out) const {
  std::string buf(end - offset, '\0');
  size_t got = 0;
  ORDERLOG_RETURN_IF_ERROR(file.ReadAt(offset, buf.size(), buf.data(), &got));
  RecordView rec;
  DecodeResult r = DecodeRecord(buf.data(), got, &rec);
  if (r.outcome != DecodeOutcome::kOk || rec.position != expect || rec.length != buf.size()) {
    return CorruptionAt(file.path(), offset,
                        std::string(r.why != nullptr ? r.why : "record is not the indexed one") +
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
    ReaderLock lk(&index_mu_);
    const Segment* seg = FindSegment(position);
    if (seg == nullptr) {
      return Status::NotFound("no event at position " + std::to_string(position.value));
    }
    const uint64_t i = position.value - seg->base.value;
    file = seg->file;
    offset = seg->offsets[i];
    end = seg->EndOf(i);
  }
  Event ev;
  ORDERLOG_RETURN_IF_ERROR(ReadAt(*file, offset, end, position, &ev));
  return ev;
}

Status Log::ReadRange(Position after, size_t max, std::vector<Event>* out) const {
  const Position committed = committed_position();
  Position from = after.next();
  const Position to(
      std::min<uint64_t>(committed.value, after.value + std::min<uint64_t>(max, committed.value)));
  std::string buf;
  while (from <= to) {
    Span span;
    ORDERLOG_RETURN_IF_ERROR(LocateSpan(from, to, &span));
    buf.resize(span.end - span.start);
    size_t got = 0;
    ORDERLOG_RETURN_IF_ERROR(span.file->ReadAt(span.start, buf.size(), buf.data(), &got));
    size_t p = 0;
    for (Position pos = from; pos <= span.last; pos = pos.next()) {
      RecordView rec;
      DecodeResult r = DecodeRecord(buf.data() + p, got - p, &rec);
      if (r.outcome != DecodeOutcome::kOk || rec.position != pos) {
        return CorruptionAt(span.file->path(), span.start + p,
                            r.why != nullptr ? r.why : "unexpected position");
      }
      out->push_back(rec.ToEvent());
      p += rec.length;
    }
    from = span.last.next();
  }
  return Status::Ok();
}

Status Log::LocateSpan(Position from, Position to, Span* out) const {
  ReaderLock lk(&index_mu_);
  const Segment* seg = FindSegment(from);
  if (seg == nullptr) return Status::NotFound("position " + std::to_string(from.value));
  out->last = std::min(to, seg->last());
  out->file = seg->file;
  out->start = seg->offsets[from.value - seg->base.value];
  out->end = seg->EndOf(out->last.value - seg->base.value);
  return Status::Ok();
}

StreamState Log::LastVisible(const StreamState& st, Position committed) const {
  StreamState visible = st;
  while (visible.last > committed) {  // appended but not yet acknowledged: not visible
    visible.last = PrevOf(visible.last);
    visible.version = visible.version.prev();
  }
  return visible;
}

StreamVersion Log::CurrentVersion(std::string_view stream) const {
  const Position committed = committed_position();
  ReaderLock lk(&index_mu_);
  const StreamState* st = streams_.Find(stream);
  if (st == nullptr) return StreamVersion(0);
  return LastVisible(*st, committed).version;
}

Status Log::ReadStream(std::string_view stream, StreamVersion from, size_t max,
                       std::vector<Event>* out) const {
  const Position committed = committed_position();
  std::vector<Position> positions;
  {
    ReaderLock lk(&index_mu_);
    const StreamState* st = streams_.Find(stream);
    if (st == nullptr) return Status::Ok();
    const StreamState visible = LastVisible(*st, committed);
    const StreamVersion first = std::max(from, StreamVersion(1));
    Position pos = visible.last;
    for (StreamVersion v = visible.version; pos.value != 0 && v >= first; v = v.prev()) {
      positions.push_back(pos);
      pos = PrevOf(pos);
    }
  }
  std::reverse(positions.begin(), positions.end());
  if (positions.size() > max) positions.resize(max);
  for (Position pos : positions) {
    auto ev = Read(pos);
    if (!ev.ok()) return ev.status();
    out->push_back(std::move(ev).value());
  }
  return Status::Ok();
}

Status Log::Scan(Position after, const std::function<bool(const RecordView&)>& fn) const {
  const Position committed = committed_position();
  Position next = after.next();
  while (next <= committed) {
    Span span;
    ORDERLOG_RETURN_IF_ERROR(LocateSpan(next, committed, &span));
    const std::shared_ptr<File>& file = span.file;
    SegmentReader reader(file.get(), span.start, span.end);
    RecordView rec;
    for (;;) {
      const auto r = reader.Read(&rec);
      if (r == SegmentReader::Next::kEnd) break;
      if (r != SegmentReader::Next::kRecord) {
        if (!reader.io_status().ok()) return reader.io_status();
        return CorruptionAt(file->path(), reader.offset(),
                            reader.why() != nullptr ? reader.why() : "bad record");
      }
      if (rec.position != next) {
        return CorruptionAt(file->path(), reader.offset(), OutOfSequence(next, rec.position));
      }
      if (!fn(rec)) return Status::Ok();
      next = next.next();
    }
    if (next != span.last.next()) {
      return CorruptionAt(
          file->path(), span.end,
          "index and records disagree before position " + std::to_string(span.last.value + 1));
    }
  }
  return Status::Ok();
}

LogStats Log::Stats() const {
  LogStats s;
  s.committed = committed_position();
  s.appended_events = appended_events_.load(std::memory_order_relaxed);
  s.appended_bytes = appended_bytes_.load(std::memory_order_relaxed);
  s.fsync = fsync_latency_.Read();
  s.index_write_failures = index_write_failures_.load(std::memory_order_relaxed);
  s.preallocated_segments = preallocated_segments_.load(std::memory_order_relaxed);
  s.spare_failures = spare_failures_.load(std::memory_order_relaxed);
  s.spare_ready = spare_state_.load(std::memory_order_relaxed) == kSpareReady;
  ReaderLock lk(&index_mu_);
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
  ReaderLock lk(&index_mu_);
  for (const auto& seg : segments_) {
    out.push_back({seg->path, seg->base, seg->last(), seg->count(), seg->file_size, seg->sealed});
  }
  return out;
}

}  // namespace orderlog
