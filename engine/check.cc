#include "engine/check.h"

#include <sys/mman.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <future>
#include <new>
#include <optional>
#include <thread>

#include "engine/format.h"
#include "engine/record.h"
#include "engine/segment.h"
#include "engine/segment_index.h"

namespace orderlog {

namespace f = format;

const char* IndexFileStateName(IndexFileState s) {
  switch (s) {
    case IndexFileState::kNotSealed:
      return "none (active segment)";
    case IndexFileState::kValid:
      return "valid";
    case IndexFileState::kMissing:
      return "missing";
    case IndexFileState::kInvalid:
      return "invalid";
  }
  return "?";
}

namespace {

// Last position and version of every stream, keyed by the XXH3-64 of its id: flat open
// addressing, so a check of millions of streams stays a sequential read plus one probe each.
class StreamVersions {
 public:
  struct Slot {
    uint64_t key = 0;  // 0: empty
    uint64_t last = 0;
    uint64_t version = 0;
  };
  StreamVersions() { slots_ = Allocate(1 << 16); }
  ~StreamVersions() { Free(slots_); }
  StreamVersions(const StreamVersions&) = delete;
  StreamVersions& operator=(const StreamVersions&) = delete;

  // Sizes the table for n streams (no rehash below that).
  void Reserve(size_t n) {
    size_t want = slots_.size;
    while (want < 2 * n) want *= 2;
    if (want > slots_.size) Rehash(want);
  }
  void Prefetch(uint64_t key) const {
    __builtin_prefetch(&slots_.at[(key >> 8) & slots_.mask()], 1);
  }
  // key: XXH3-64 of the id, | 1.
  Slot* FindOrInsertHash(uint64_t key) {
    if ((used_ + 1) * 2 > slots_.size) Rehash(slots_.size * 2);
    Slot* s = Probe(slots_, key);
    if (s->key == 0) {
      s->key = key;
      ++used_;
    }
    return s;
  }
  size_t size() const { return used_; }

 private:
  struct Table {
    Slot* at = nullptr;
    size_t size = 0;
    size_t mask() const { return size - 1; }
  };
  // Anonymous memory is zero (every slot empty) and costs nothing until touched; huge pages keep
  // the page faults and TLB misses of a table of millions of streams down.
  static Table Allocate(size_t slots) {
    const size_t bytes = slots * sizeof(Slot);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    (void)madvise(p, bytes, MADV_HUGEPAGE);
    return Table{static_cast<Slot*>(p), slots};
  }
  static void Free(const Table& t) {
    if (t.at != nullptr) munmap(t.at, t.size * sizeof(Slot));
  }
  static Slot* Probe(const Table& t, uint64_t key) {
    for (size_t i = (key >> 8) & t.mask();; i = (i + 1) & t.mask()) {
      if (t.at[i].key == key || t.at[i].key == 0) return &t.at[i];
    }
  }
  void Rehash(size_t slots) {
    Table bigger = Allocate(slots);
    for (size_t i = 0; i < slots_.size; ++i) {
      if (slots_.at[i].key != 0) *Probe(bigger, slots_.at[i].key) = slots_.at[i];
    }
    Free(slots_);
    slots_ = bigger;
  }
  Table slots_;
  size_t used_ = 0;
};

// "path offset 123: why" (the engine's corruption messages) -> its parts.
LogProblem ProblemFrom(const Status& s, const std::string& file, uint64_t cut) {
  const std::string& m = s.message();
  const std::string prefix = file + " offset ";
  if (m.compare(0, prefix.size(), prefix) == 0) {
    size_t end = prefix.size();
    uint64_t off = 0;
    while (end < m.size() && m[end] >= '0' && m[end] <= '9') off = off * 10 + (m[end++] - '0');
    if (m.compare(end, 2, ": ") == 0) return {file, off, m.substr(end + 2), cut};
  }
  if (m.compare(0, file.size() + 2, file + ": ") == 0)
    return {file, 0, m.substr(file.size() + 2), cut};
  return {file, 0, m, cut};
}

class Checker {
 public:
  Checker(Env* env, const std::string& dir, const CheckOptions& options, CheckReport* report)
      : env_(env), dir_(dir), opt_(options), rep_(report) {}

  Status Run() {
    auto bases = ListSegmentFiles(env_, dir_);
    if (!bases.ok()) return bases.status();
    std::vector<std::shared_ptr<File>> files;
    for (Position base : *bases) {
      auto file = env_->Open(JoinPath(dir_, SegmentFileName(base)), OpenMode::kReadOnly);
      if (!file.ok()) return file.status();
      auto size = (*file)->Size();
      if (!size.ok()) return size.status();
      rep_->bytes += *size;
      files.emplace_back(std::move(file).value());
    }
    // The whole-segment checksums of sealed segments, on the other core meanwhile.
    std::future<std::vector<LogProblem>> hashing;
    if (opt_.records)
      hashing = std::async(std::launch::async, [&files] { return HashSealed(files); });
    if (opt_.records) {
      // Size the stream table once, from the .idx headers (streams each segment starts) plus a
      // bound for segments without one, as Log::Open does.
      uint64_t bound = 0;
      for (size_t i = 0; i < bases->size(); ++i) {
        auto idx = env_->Open(JoinPath(dir_, IndexFileName((*bases)[i])), OpenMode::kReadOnly);
        char head[f::kIndexHeaderSize];
        size_t got = 0;
        if (idx.ok() && (*idx)->ReadAt(0, sizeof(head), head, &got).ok() && got == sizeof(head)) {
          uint32_t started;
          std::memcpy(&started, head + 32, sizeof(started));
          bound += started;
        } else {
          bound += files[i]->Size().ok() ? *files[i]->Size() / f::kRecordHeaderSize : 0;
        }
      }
      streams_.Reserve(std::min<uint64_t>(bound, uint64_t{1} << 28));
    }
    for (size_t i = 0; i < bases->size(); ++i) {
      CheckSegment((*bases)[i], files[i], i + 1 == bases->size());
    }
    if (hashing.valid()) {
      for (auto& p : hashing.get()) rep_->problems.push_back(std::move(p));
    }
    rep_->last = Position((first_cut_ != 0 ? first_cut_ : expect_.value) - 1);
    rep_->streams = streams_.size();
    if (opt_.progress) opt_.progress(rep_->bytes, rep_->bytes);
    return Status::Ok();
  }

 private:
  void Problem(const std::string& file, uint64_t offset, std::string what, uint64_t cut) {
    if (cut != 0 && (first_cut_ == 0 || cut < first_cut_)) first_cut_ = cut;
    rep_->problems.push_back({file, offset, std::move(what), cut});
  }

  void Progress(uint64_t segment_bytes_done) {
    if (!opt_.progress) return;
    const uint64_t done = done_before_ + segment_bytes_done;
    if (done - last_progress_ >= (64u << 20)) {
      last_progress_ = done;
      opt_.progress(done, rep_->bytes);
    }
  }

  void CheckSegment(Position base, const std::shared_ptr<File>& file, bool is_last) {
    SegmentCheck sc;
    sc.path = file->path();
    sc.base = base;
    sc.last = base.prev();
    auto file_size = file->Size();
    sc.bytes = file_size.ok() ? *file_size : 0;
    const std::string& path = sc.path;
    const uint64_t size = sc.bytes;

    std::string header(f::kSegmentHeaderSize, '\0');
    size_t got = 0;
    Status io = file->ReadAt(0, header.size(), header.data(), &got);
    header.resize(got);
    auto header_base = io.ok() ? DecodeSegmentHeader(header, path) : Result<Position>(io);
    if (!header_base.ok()) {
      if (is_last && size <= f::kSegmentHeaderSize && base == expect_) {
        // A crash while the segment was being created: no records; the server removes it.
        sc.data_end = size;
        rep_->segments.push_back(sc);
        done_before_ += size;
        return;
      }
      rep_->problems.push_back(ProblemFrom(header_base.status(), path, base.value));
      if (first_cut_ == 0 || base.value < first_cut_) first_cut_ = base.value;
    } else if (*header_base != base) {
      Problem(path, 16, "header says base position " + std::to_string(header_base->value),
              base.value);
    }
    if (base != expect_) {
      Problem(path, 0,
              "segment starts at position " + std::to_string(base.value) +
                  " but the log before it ends at " + std::to_string(expect_.value - 1),
              std::min(base.value, expect_.value));
      expect_ = base;
    }

    std::optional<SegmentFooter> footer;
    if (size >= f::kSegmentHeaderSize + f::kFooterSize) {
      std::string tail(f::kFooterSize, '\0');
      if (file->ReadAt(size - f::kFooterSize, tail.size(), tail.data(), &got).ok()) {
        footer = DecodeSegmentFooter(std::string_view(tail.data(), got));
      }
    }
    sc.sealed = footer.has_value();
    const uint64_t end = footer ? size - f::kFooterSize : size;

    // The .idx file of a sealed segment.
    std::vector<uint32_t> offsets;
    std::vector<uint64_t> prevs;
    std::vector<SegmentStreamEntry> idx_streams;
    std::string idx_bytes;
    const std::string idx_path = JoinPath(dir_, IndexFileName(base));
    if (footer) {
      auto bytes = ReadWholeFile(env_, idx_path);
      if (!bytes.ok()) {
        sc.index = bytes.status().code() == StatusCode::kNotFound ? IndexFileState::kMissing
                                                                  : IndexFileState::kInvalid;
        if (sc.index == IndexFileState::kInvalid) sc.index_problem = bytes.status().message();
      } else {
        idx_bytes = std::move(bytes).value();
        Status s = DecodeSegmentIndex(idx_bytes, idx_path, base, footer->record_count, &offsets,
                                      &prevs, &idx_streams);
        sc.index = s.ok() ? IndexFileState::kValid : IndexFileState::kInvalid;
        if (!s.ok()) {
          sc.index_problem = s.message();
          rep_->problems.push_back(ProblemFrom(s, idx_path, 0));
        }
      }
    }
    const bool use_idx = sc.index == IndexFileState::kValid;

    // The records.
    uint64_t count = 0;
    bool idx_mismatch = false;
    auto on_record = [&](const RecordView& rec, uint64_t offset) {
      if (rec.position != expect_) {
        Problem(path, offset,
                "expected position " + std::to_string(expect_.value) + ", found " +
                    std::to_string(rec.position.value),
                std::min(rec.position.value, expect_.value));
      }
      if (count == 0) sc.first_timestamp_ms = rec.timestamp_ms;
      sc.last_timestamp_ms = rec.timestamp_ms;
      if (opt_.records) {
        batch_.Add(rec, offset, count);
        if (batch_.full())
          FlushBatch(path, idx_path, use_idx ? &offsets : nullptr, use_idx ? &prevs : nullptr,
                     &idx_mismatch);
      }
      expect_ = rec.position.next();
      sc.last = rec.position;
      sc.data_end = offset + rec.length;
      ++count;
      ++rep_->records;
      if (rec.position.value > rep_->highest_seen.value) rep_->highest_seen = rec.position;
    };

    if (!opt_.records && use_idx && !offsets.empty()) {
      // Summary: the first and last record, located by the index.
      for (size_t k : {size_t{0}, offsets.size() - 1}) {
        const uint64_t rec_end = k + 1 < offsets.size() ? offsets[k + 1] : end;
        SegmentReader reader(file.get(), offsets[k], rec_end);
        RecordView rec;
        if (reader.Read(&rec) != SegmentReader::Next::kRecord) {
          Problem(path, offsets[k], reader.why() ? reader.why() : "unreadable record",
                  expect_.value);
          break;
        }
        if (k == 0) sc.first_timestamp_ms = rec.timestamp_ms;
        sc.last_timestamp_ms = rec.timestamp_ms;
      }
      count = offsets.size();
      rep_->records += count;
      expect_ = Position(base.value + count);
      sc.last = expect_.prev();
      sc.data_end = end;
      if (sc.last.value > rep_->highest_seen.value) rep_->highest_seen = sc.last;
    } else {
      ScanRecords(file, path, f::kSegmentHeaderSize, end, is_last && !footer, on_record, [&] {
        FlushBatch(path, idx_path, use_idx ? &offsets : nullptr, use_idx ? &prevs : nullptr,
                   &idx_mismatch);
      });
    }
    sc.records = count;

    if (footer) {
      if (footer->record_count != count || footer->last_position != sc.last) {
        Problem(path, size - f::kFooterSize,
                "footer says " + std::to_string(footer->record_count) + " records ending at " +
                    std::to_string(footer->last_position.value) + ", the segment holds " +
                    std::to_string(count) + " ending at " + std::to_string(sc.last.value),
                sc.last.value + 1);
      }
      if (footer->last_position.value > rep_->highest_seen.value) {
        rep_->highest_seen = footer->last_position;
      }
    } else if (!is_last) {
      Problem(path, size >= f::kFooterSize ? size - f::kFooterSize : 0,
              "segment is not sealed (no valid footer) but newer segments follow", expect_.value);
    }
    done_before_ += size;
    rep_->segments.push_back(std::move(sc));
  }

  // Reads records in [start, end), resyncing after damage on the next valid record.
  template <typename OnRecord, typename Flush>
  void ScanRecords(const std::shared_ptr<File>& file, const std::string& path, uint64_t start,
                   uint64_t end, bool active, OnRecord&& on_record, Flush&& flush) {
    int regrow = 0;
    for (;;) {
      SegmentReader reader(file.get(), start, end);
      RecordView rec;
      SegmentReader::Next r;
      while ((r = reader.Read(&rec)) == SegmentReader::Next::kRecord) {
        on_record(rec, reader.offset());
        if ((rep_->records & 0xFFFF) == 0) Progress(reader.offset());
      }
      flush();
      if (r == SegmentReader::Next::kEnd) return;
      if (!reader.io_status().ok()) {
        Problem(path, reader.offset(), reader.io_status().message(), expect_.value);
        return;
      }
      const uint64_t bad = reader.offset();
      const char* why = reader.why();
      auto found = FindValidRecordAfter(*file, bad + 1, end, Position(0));
      const std::optional<uint64_t> later = found.ok() ? *found : std::nullopt;
      if (later) {
        Problem(path, bad,
                std::string(why) + "; " + std::to_string(*later - bad) +
                    " bytes skipped, a valid record follows at offset " + std::to_string(*later),
                expect_.value);
        start = *later;
        continue;
      }
      if (active) {
        // The end of the active segment. A server may be writing it right now: look again.
        if (regrow < 3) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          auto size = file->Size();
          if (size.ok() && *size > end) {
            ++regrow;
            start = bad;
            end = *size;
            continue;
          }
        }
        rep_->torn_tail = true;
        rep_->torn_offset = bad;
        rep_->torn_bytes = end - bad;
        Problem(path, bad,
                "torn tail: the last " + std::to_string(end - bad) +
                    " bytes are not a whole record (" + why +
                    "); the server cuts them at its next start",
                expect_.value);
        return;
      }
      Problem(path, bad, why, expect_.value);
      return;
    }
  }

  static uint64_t HashPrefix(const File& file, uint64_t n) {
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    std::string buf(4 << 20, '\0');
    for (uint64_t off = 0; off < n;) {
      size_t got = 0;
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
      if (!file.ReadAt(off, want, buf.data(), &got).ok() || got == 0) break;
      XXH3_64bits_update(st, buf.data(), got);
      off += got;
    }
    const uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
  }

  // Records waiting for their stream check, which is done a batch at a time so that the table
  // slots of a whole batch are fetched from memory in parallel (prefetch), not one miss each.
  struct Batch {
    struct Item {
      Position position;
      uint64_t version;
      uint64_t offset;
      uint64_t index;  // within its segment
      uint64_t hash;
      uint32_t id_begin, id_size;  // the stream id, in ids
    };
    static constexpr size_t kSize = 64;
    Item items[kSize];
    size_t n = 0;
    std::string ids;
    bool full() const { return n == kSize; }
    void Add(const RecordView& rec, uint64_t offset, uint64_t index) {
      items[n++] = {rec.position,
                    rec.version.value,
                    offset,
                    index,
                    XXH3_64bits(rec.stream.data(), rec.stream.size()) | 1,
                    static_cast<uint32_t>(ids.size()),
                    static_cast<uint32_t>(rec.stream.size())};
      ids.append(rec.stream);
    }
  };

  void FlushBatch(const std::string& path, const std::string& idx_path,
                  const std::vector<uint32_t>* offsets, const std::vector<uint64_t>* prevs,
                  bool* idx_mismatch) {
    for (size_t i = 0; i < batch_.n; ++i) streams_.Prefetch(batch_.items[i].hash);
    for (size_t i = 0; i < batch_.n; ++i) {
      const auto& it = batch_.items[i];
      StreamVersions::Slot* st = streams_.FindOrInsertHash(it.hash);
      if (it.version != st->version + 1) {
        Problem(path, it.offset,
                "stream " + batch_.ids.substr(it.id_begin, it.id_size) + " version " +
                    std::to_string(it.version) + " does not follow " + std::to_string(st->version),
                it.position.value);
      }
      if (offsets != nullptr && !*idx_mismatch && it.index < offsets->size()) {
        if ((*offsets)[it.index] != it.offset) {
          *idx_mismatch = true;
          Problem(idx_path, f::kIndexHeaderSize + 4 * it.index,
                  "record " + std::to_string(it.index) + " is at offset " +
                      std::to_string(it.offset) + ", the index says " +
                      std::to_string((*offsets)[it.index]),
                  0);
        } else if ((*prevs)[it.index] != st->last) {
          *idx_mismatch = true;
          Problem(idx_path, f::kIndexHeaderSize + 4 * offsets->size() + 8 * it.index,
                  "record " + std::to_string(it.index) + " follows position " +
                      std::to_string(st->last) + " of its stream, the index says " +
                      std::to_string((*prevs)[it.index]),
                  0);
        }
      }
      st->last = it.position.value;
      st->version = it.version;
    }
    batch_.n = 0;
    batch_.ids.clear();
  }

  static std::vector<LogProblem> HashSealed(const std::vector<std::shared_ptr<File>>& files) {
    std::vector<LogProblem> problems;
    for (const auto& file : files) {
      auto size = file->Size();
      if (!size.ok() || *size < f::kSegmentHeaderSize + f::kFooterSize) continue;
      std::string tail(f::kFooterSize, '\0');
      size_t got = 0;
      if (!file->ReadAt(*size - f::kFooterSize, tail.size(), tail.data(), &got).ok()) continue;
      auto footer = DecodeSegmentFooter(std::string_view(tail.data(), got));
      if (!footer) continue;
      if (HashPrefix(*file, *size - f::kFooterSize) != footer->segment_checksum) {
        problems.push_back(
            {file->path(), *size - f::kFooterSize + 24, "whole-segment checksum mismatch", 0});
      }
    }
    return problems;
  }

  Env* env_;
  Batch batch_;
  const std::string& dir_;
  const CheckOptions& opt_;
  CheckReport* rep_;
  StreamVersions streams_;
  Position expect_{1};
  uint64_t first_cut_ = 0;
  uint64_t done_before_ = 0;
  uint64_t last_progress_ = 0;
};

}  // namespace

Result<CheckReport> CheckLog(Env* env, const std::string& dir, const CheckOptions& options) {
  if (env == nullptr) env = Env::Default();
  if (!env->Exists(dir)) return Status::NotFound("data directory " + dir + " does not exist");
  CheckReport report;
  Checker checker(env, dir, options, &report);
  ORDERLOG_RETURN_IF_ERROR(checker.Run());
  return report;
}

}  // namespace orderlog
