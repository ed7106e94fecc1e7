// Opening a log: the lock, loading sealed segments from their index files, and recovering the
// active segment (the only one that is scanned).
#include <pthread.h>

#include <algorithm>

#include "engine/checksum.h"
#include "engine/log.h"
#include "engine/log_internal.h"
#include "engine/segment.h"

namespace orderlog {

namespace f = format;

namespace {

// A segment still named ".pending" was created at a roll-over whose seal had not been made
// durable when the last run stopped (the syncer finishes a seal after the writer has moved on).
// If the segment before it is sealed (its footer is at its end: the process stopped, the page
// cache kept everything) and it has its header, the roll-over is finished here as the syncer
// would have finished it (the sealed segment synced, the name given, the directory synced), and
// the segment's records are recovered like any active segment's: in interval and none modes they
// were acknowledged once written, and a process crash must not take them. Otherwise (power was
// lost before the footer reached the disk, or the process stopped before the header was written)
// none of its records was acknowledged as durable (sync mode waits for the seal) and it is
// removed, with any later one: the segment before it is the last one again.
Status FinishOrUndoRollOvers(Env* env, const std::string& dir) {
  auto names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  const std::string_view pending_suffix = f::kPendingSuffix;
  std::vector<Position> pending;
  for (const std::string& name : *names) {
    const std::string_view n = name;
    if (n.size() <= pending_suffix.size() ||
        n.substr(n.size() - pending_suffix.size()) != pending_suffix) {
      continue;
    }
    if (auto base = ParseSegmentFileName(n.substr(0, n.size() - pending_suffix.size()))) {
      pending.push_back(*base);
    }
  }
  if (pending.empty()) return Status::Ok();
  std::sort(pending.begin(), pending.end());
  auto listed = ListSegmentFiles(env, dir);
  if (!listed.ok()) return listed.status();
  std::vector<Position> named = std::move(listed).value();
  bool undo = false;  // once one is undone, every later one is too
  for (const Position base : pending) {
    const std::string path = JoinPath(dir, SegmentFileName(base));
    const auto before = std::lower_bound(named.begin(), named.end(), base);
    bool sealed_before = false;
    if (!undo && before != named.begin() && before == named.end()) {
      const Position prev_base = *(before - 1);
      auto file = env->Open(JoinPath(dir, SegmentFileName(prev_base)), OpenMode::kReadWrite);
      if (!file.ok()) return file.status();
      SegmentFrame prev;
      ORDERLOG_RETURN_IF_ERROR(ReadSegmentFrame(**file, prev_base, &prev));
      sealed_before =
          prev.footer && prev.footer_status.ok() && prev.footer->last_position.next() == base;
      if (sealed_before) ORDERLOG_RETURN_IF_ERROR((*file)->Sync());
    }
    // Its header too: a spare renamed into place may have stopped before its header was
    // written, and then no record was written after it either.
    bool has_header = false;
    if (sealed_before) {
      auto file = env->Open(path + f::kPendingSuffix, OpenMode::kReadOnly);
      if (!file.ok()) return file.status();
      SegmentFrame pending_frame;
      ORDERLOG_RETURN_IF_ERROR(ReadSegmentFrame(**file, base, &pending_frame));
      has_header = pending_frame.header_status.ok();
    }
    if (sealed_before && has_header) {
      ORDERLOG_RETURN_IF_ERROR(env->Rename(path + f::kPendingSuffix, path));
      named.push_back(base);
    } else {
      undo = true;
      ORDERLOG_RETURN_IF_ERROR(env->Remove(path + f::kPendingSuffix));
    }
  }
  return env->SyncDir(dir);
}

}  // namespace

Result<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogOptions& options) {
  if (options.segment_size < 4096 || options.segment_size > f::kMaxSegmentSize) {
    return Status::InvalidArgument("segment size must be between 4 KiB and 2 GiB");
  }
  std::unique_ptr<Log> log(new Log(dir, options));
  // Until StartThreads, this thread is the only one: it acts as the writer.
  log->writer_thread_.Assume();
  Env* env = log->env_;
  if (options.read_only) {
    if (!env->Exists(dir)) return Status::NotFound("data directory " + dir + " does not exist");
  } else {
    ORDERLOG_RETURN_IF_ERROR(env->CreateDirs(dir));
    auto lock = env->Lock(JoinPath(dir, f::kLockFileName));
    if (!lock.ok()) return lock.status();
    log->lock_ = std::move(lock).value();
  }

  if (!options.read_only) {
    ORDERLOG_RETURN_IF_ERROR(FinishOrUndoRollOvers(env, dir));
    // A spare from the last run is whole under its final name (renamed once synced); one being
    // written when it stopped is not.
    const std::string spare = JoinPath(dir, f::kSpareFileName);
    if (env->Exists(spare + f::kSpareTempSuffix)) {
      ORDERLOG_RETURN_IF_ERROR(env->Remove(spare + f::kSpareTempSuffix));
    }
    if (env->Exists(spare)) {
      bool usable = false;
      if (log->preallocate_) {
        auto file = env->Open(spare, OpenMode::kReadOnly);
        auto size = file.ok() ? (*file)->Size() : Result<uint64_t>(file.status());
        usable = size.ok() && *size == options.segment_size;
      }
      if (usable) {
        log->spare_state_.store(kSpareReady);
      } else {
        ORDERLOG_RETURN_IF_ERROR(env->Remove(spare));
      }
    }
  }
  auto listed = ListSegmentFiles(env, dir);
  if (!listed.ok()) return listed.status();
  const std::vector<Position> bases = std::move(listed).value();

  Position expected(1);
  {
    // Uncontended (no thread can read yet); held so that the loading code states what the
    // writer will: the index changes under index_mu_.
    WriterLock lk(&log->index_mu_);
    // Size the stream table once (the .idx headers count the streams each segment starts, the
    // active segment adds at most one per record), so loading millions of streams never rehashes.
    uint64_t stream_bound = 0;
    for (Position base : bases) {
      stream_bound += ReadIndexNewStreams(env, JoinPath(dir, IndexFileName(base))).value_or(0);
    }
    log->streams_.Reserve(stream_bound);
    for (size_t i = 0; i < bases.size(); ++i) {
      Status s = log->LoadSegment(bases[i], i + 1 == bases.size(), expected);
      if (!s.ok()) {
        if (!options.read_only) return s;
        log->open_problems_.push_back(s);  // serve what precedes the damage
        break;
      }
      if (!log->segments_.empty()) expected = log->segments_.back()->last().next();
    }
  }
  const Position last = expected.prev();
  log->assigned_ = log->written_ = last;
  log->durable_.store(last);
  log->committed_.store(last, std::memory_order_release);
  if (last.value > 0) {
    // Timestamps never go backwards: continue from the newest record's.
    auto newest = log->Read(last);
    if (newest.ok()) {
      log->last_timestamp_ms_ = std::max(log->last_timestamp_ms_, newest->timestamp_ms);
    } else if (!options.read_only) {
      return newest.status();
    }
  }
  if (options.read_only) return log;

  if (log->active_ == nullptr) {  // no segment, or the last one is sealed
    ORDERLOG_RETURN_IF_ERROR(log->CreateSegment(expected, /*pending=*/false));
  }
  log->StartThreads();
  return log;
}

void Log::StartThreads() {
  // Named for top -H, perf and gdb.
  writer_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "olog-writer");
    WriterLoop();
  });
  syncer_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "olog-syncer");
    SyncerLoop();
  });
  indexer_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "olog-indexer");
    IndexerLoop();
  });
}

Status Log::LoadSegment(Position base, bool is_last, Position expected_base) {
  const std::string path = JoinPath(dir_, SegmentFileName(base));
  auto opened = env_->Open(path, options_.read_only ? OpenMode::kReadOnly : OpenMode::kReadWrite);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<File> file = std::move(opened).value();
  SegmentFrame frame;
  ORDERLOG_RETURN_IF_ERROR(ReadSegmentFrame(*file, base, &frame));
  const uint64_t size = frame.size;
  if (!frame.header_status.ok()) {
    // A crash while a new segment was being created leaves a short file with no records.
    if (!frame.header_base && is_last && size <= f::kSegmentHeaderSize && base == expected_base) {
      if (!options_.read_only) ORDERLOG_RETURN_IF_ERROR(env_->Remove(path));
      return Status::Ok();
    }
    return frame.header_status;
  }
  if (base != expected_base) {
    return CorruptionAt(path, f::header::kBase,
                        "segment starts at position " + std::to_string(base.value) +
                            " but the log before it ends at " +
                            std::to_string(expected_base.value - 1));
  }

  auto seg = std::make_unique<Segment>();
  seg->base = base;
  seg->path = path;
  seg->file = file;
  seg->file_size = size;

  ORDERLOG_RETURN_IF_ERROR(frame.footer_status);
  const std::optional<SegmentFooter>& footer = frame.footer;
  if (!footer) {
    if (!is_last) {
      return CorruptionAt(path, size >= f::kFooterSize ? size - f::kFooterSize : 0,
                          "segment is not sealed (no valid footer) but newer segments follow");
    }
    return LoadActive(std::move(seg), size);
  }

  // Sealed: load the .idx file, or rebuild it from the records if it is missing or bad.
  seg->sealed = true;
  seg->end = frame.records_end();
  const std::string idx_path = JoinPath(dir_, IndexFileName(base));
  std::vector<SegmentStreamEntry> entries;
  Status idx_status;
  std::string idx_bytes;
  if (auto bytes = ReadWholeFile(env_, idx_path); bytes.ok()) {
    idx_bytes = std::move(bytes).value();
    idx_status = DecodeSegmentIndex(idx_bytes, idx_path, base, footer->record_count, &seg->offsets,
                                    &seg->prevs, &entries);
    if (idx_status.ok()) {
      const auto& o = seg->offsets;
      bool sane = o.empty() || (o.front() == f::kSegmentHeaderSize && o.back() < seg->end);
      for (size_t i = 1; sane && i < o.size(); ++i) sane = o[i] > o[i - 1];
      if (!sane) idx_status = CorruptionAt(idx_path, f::idx::OffsetAt(0), "offsets out of order");
    }
  } else {
    idx_status = bytes.status();
  }
  const bool rebuild = !idx_status.ok();
  if (rebuild) {
    seg->offsets.clear();
    seg->prevs.clear();
    entries.clear();
    Status damage = RebuildIndex(seg.get(), seg->end, &entries);
    if (damage.ok() && seg->count() != footer->record_count) {
      damage = CorruptionAt(path, size - f::kFooterSize,
                            "footer says " + std::to_string(footer->record_count) +
                                " records, the segment holds " + std::to_string(seg->count()));
    }
    if (!damage.ok()) {
      if (options_.read_only) segments_.push_back(std::move(seg));  // keep what precedes it
      return damage;
    }
    if (!options_.read_only) {
      ORDERLOG_RETURN_IF_ERROR(
          WriteFileAtomically(env_, dir_, IndexFileName(base),
                              EncodeSegmentIndex(base, seg->offsets, seg->prevs, entries)));
    }
  }
  if (!rebuild) {  // loaded from the file: apply its per-stream summary
    for (const auto& e : entries) {
      StreamState* st = streams_.FindOrInsert(e.id);
      st->last = e.last;
      st->version = StreamVersion(st->version.value + e.count);
    }
  }
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

// Scans a sealed segment's records (verifying each) to rebuild its index; updates the stream
// table as it goes. The ids in *entries point into the stream table. On damage, what precedes it
// stays loaded and the error names the file and offset.
Status Log::RebuildIndex(Segment* seg, uint64_t end, std::vector<SegmentStreamEntry>* entries) {
  SegmentReader reader(seg->file.get(), f::kSegmentHeaderSize, end);
  struct SegStream {
    Position last;
    uint32_t count = 0;
  };
  std::unordered_map<std::string_view, SegStream> per_stream;
  RecordView rec;
  Position next = seg->base;
  for (;;) {
    const auto r = reader.Read(&rec);
    if (r == SegmentReader::Next::kEnd) break;
    if (r != SegmentReader::Next::kRecord) {
      seg->end = reader.offset();
      if (!reader.io_status().ok()) return reader.io_status();
      return CorruptionAt(seg->path, reader.offset(), reader.why());
    }
    if (rec.position != next) {
      seg->end = reader.offset();
      return CorruptionAt(seg->path, reader.offset(), OutOfSequence(next, rec.position));
    }
    std::string_view key;
    StreamState* st = streams_.FindOrInsert(rec.stream, &key);
    if (rec.version != st->version.next()) {
      seg->end = reader.offset();
      return CorruptionAt(seg->path, reader.offset(),
                          VersionGap(rec.stream, rec.version.value, st->version.value));
    }
    seg->offsets.push_back(static_cast<uint32_t>(reader.offset()));
    seg->prevs.push_back(st->last.value);
    st->last = rec.position;
    st->version = rec.version;
    auto& ss = per_stream[key];
    ss.last = rec.position;
    ++ss.count;
    next = next.next();
    last_timestamp_ms_ = std::max(last_timestamp_ms_, rec.timestamp_ms);
  }
  for (const auto& [id, ss] : per_stream) entries->push_back({id, ss.last, ss.count});
  std::sort(entries->begin(), entries->end(),
            [](const auto& x, const auto& y) { return x.last < y.last; });
  return Status::Ok();
}

// The active segment: scan every record; cut a torn tail; refuse damage followed by valid data.
Status Log::LoadActive(std::unique_ptr<Segment> seg, uint64_t size) {
  active_ = std::make_unique<ActiveState>();
  ActiveState* active = active_.get();
  SegmentReader reader(seg->file.get(), f::kSegmentHeaderSize, size);
  RecordView rec;
  Position next = seg->base;
  uint64_t good_end = f::kSegmentHeaderSize;
  bool zero_tail = false;  // only zeros after the records
  for (;;) {
    const auto r = reader.Read(&rec);
    if (r == SegmentReader::Next::kEnd) break;
    if (r != SegmentReader::Next::kRecord) {
      if (!reader.io_status().ok()) return reader.io_status();
      // Damage, or the end of what a crash let reach the disk? Writes that were never synced can
      // land in any order (whole pages of a batch missing before pages that made it), so a valid
      // record after the damage proves nothing by itself; one written when the damaged record
      // was already durable does: that record had been acknowledged.
      auto after = ScanAfterDamage(*seg->file, reader.offset(), size, next.prev(), next);
      if (!after.ok()) return after.status();
      if (after->proof) {
        Status bad = CorruptionAt(seg->path, reader.offset(),
                                  std::string(reader.why()) + ", yet the record at offset " +
                                      std::to_string(*after->proof) +
                                      " was written after this one was durable");
        if (!options_.read_only) return bad;
        open_problems_.push_back(bad);
      }
      zero_tail = after->zeros;
      break;  // a torn tail: cut below
    }
    if (rec.position != next) {
      return CorruptionAt(seg->path, reader.offset(), OutOfSequence(next, rec.position));
    }
    StreamState* st = streams_.FindOrInsert(rec.stream);
    if (rec.version != st->version.next()) {
      return CorruptionAt(seg->path, reader.offset(),
                          VersionGap(rec.stream, rec.version.value, st->version.value));
    }
    IndexRecord(*seg, st, rec.position, rec.version, reader.offset());
    next = next.next();
    good_end = reader.next_offset();
    last_timestamp_ms_ = std::max(last_timestamp_ms_, rec.timestamp_ms);
  }
  // A spare that became this segment (LogOptions::preallocate) keeps its zeros, to be written
  // over; any other tail is cut.
  const bool keep_zeros = zero_tail && preallocate_ && size == options_.segment_size;
  if (good_end < size && !options_.read_only && !keep_zeros) {
    ORDERLOG_RETURN_IF_ERROR(seg->file->Truncate(good_end));
  }
  // What was recovered counts as durable from now on (records written later say so in their
  // durable gap), so it must be: after a crash of the process alone it may still be only in the
  // page cache.
  if (!options_.read_only) ORDERLOG_RETURN_IF_ERROR(seg->file->Sync());
  seg->end = good_end;
  seg->file_size = options_.read_only || keep_zeros ? size : good_end;

  // The running checksum of the segment, for its footer when it is sealed.
  std::string buf;
  for (uint64_t off = 0; off < good_end;) {
    buf.resize(static_cast<size_t>(std::min<uint64_t>(good_end - off, 1 << 20)));
    size_t got = 0;
    ORDERLOG_RETURN_IF_ERROR(seg->file->ReadAt(off, buf.size(), buf.data(), &got));
    if (got != buf.size())
      return CorruptionAt(seg->path, off + got, "segment shrank while opening");
    SegmentHashUpdate(active->hash.get(), buf.data(), got);
    off += got;
  }
  active->segment = seg.get();
  active->size = good_end;
  active_bytes_.store(good_end, std::memory_order_relaxed);
  active->preallocated = keep_zeros;
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

}  // namespace orderlog
