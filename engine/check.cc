#include "engine/check.h"

#include <sys/mman.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <unordered_map>

#include "engine/checksum.h"
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

constexpr uint64_t kNoPrev = ~uint64_t{0};

// Zeroed memory for the tables of a check, in huge pages where the kernel has them (fewer page
// faults and TLB misses for tables of millions of entries), faulted in up front: a prefetch of a
// page not yet mapped does nothing, so the batched probes would stall on every first touch.
template <typename T>
T* AllocateZeroed(size_t n) {
  const size_t bytes = n * sizeof(T);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  (void)madvise(p, bytes, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
  (void)madvise(p, bytes, MADV_POPULATE_WRITE);  // Linux 5.14+; else faulted in on first touch
#endif
  return static_cast<T*>(p);
}
template <typename T>
void FreeZeroed(T* p, size_t n) {
  if (p != nullptr) munmap(p, n * sizeof(T));
}

// Grows an open-addressing table: the slots of `at` (size of them) for which occupied() holds
// move to a new zeroed table of `slots`, each where probe(new table, key) puts it.
template <typename Slot, typename Occupied, typename ProbeFn>
Slot* Regrow(Slot* at, size_t size, size_t slots, Occupied occupied, ProbeFn probe) {
  Slot* bigger = AllocateZeroed<Slot>(slots);
  for (size_t i = 0; i < size; ++i) {
    if (occupied(at[i])) bigger[probe(bigger, at[i].key)] = at[i];
  }
  FreeZeroed(at, size);
  return bigger;
}

// Last position and version of every stream, keyed by the XXH3-64 of its id: flat open
// addressing with 16-byte slots (the position in 40 bits, the version in 24; the rare stream
// beyond either lives in a side map), so the merge of millions of streams is one probe each,
// prefetched in batches, in the least memory that has to be zeroed and faulted in.
class StreamVersions {
 public:
  StreamVersions() : at_(AllocateZeroed<Slot>(kMinSlots)), size_(kMinSlots) {}
  ~StreamVersions() { FreeZeroed(at_, size_); }
  StreamVersions(const StreamVersions&) = delete;
  StreamVersions& operator=(const StreamVersions&) = delete;

  struct Value {
    uint64_t last = 0;
    uint64_t version = 0;
  };
  // Sizes the table for n streams (no rehash below that).
  void Reserve(size_t n) {
    if (!Fits(n, size_)) Rehash(std::max(n * 10 / 7 + 1, size_));
  }
  void Prefetch(uint64_t key) const { __builtin_prefetch(&at_[Home(key, size_)], 1); }
  // key: XXH3-64 of the id, | 1. *inserted: the stream was not there (its value is {0, 0}).
  Value Get(uint64_t key, size_t* slot) {
    if (!Fits(used_ + 1, size_)) Rehash(size_ * 2);
    *slot = Probe(at_, size_, key);
    const Slot& s = at_[*slot];
    if (s.key == 0) return {};
    if (s.packed == kOverflow) return overflow_.at(key);
    return {s.packed >> 24, s.packed & kMaxVersion};
  }
  // Stores the value of the stream in *slot (from the Get just before).
  void Set(size_t slot, uint64_t key, Value v) {
    Slot& s = at_[slot];
    if (s.key == 0) {
      s.key = key;
      ++used_;
    }
    if (v.version < kMaxVersion && v.last < (uint64_t{1} << 40)) {
      if (s.packed == kOverflow) overflow_.erase(key);
      s.packed = v.last << 24 | v.version;
    } else {
      s.packed = kOverflow;
      overflow_[key] = v;
    }
  }
  size_t size() const { return used_; }

 private:
  struct Slot {
    uint64_t key = 0;  // 0: empty
    uint64_t packed = 0;
  };
  static constexpr uint64_t kMaxVersion = (uint64_t{1} << 24) - 1;
  static constexpr uint64_t kOverflow = ~uint64_t{0};
  static constexpr size_t kMinSlots = 1 << 12;
  static bool Fits(size_t n, size_t slots) { return n * 10 <= slots * 7; }
  // Any table size, no power of two needed: the high bits of key * size.
  static size_t Home(uint64_t key, size_t size) {
    __extension__ using U128 = unsigned __int128;
    return static_cast<size_t>((static_cast<U128>(key) * size) >> 64);
  }
  static size_t Probe(const Slot* at, size_t size, uint64_t key) {
    for (size_t i = Home(key, size);; i = i + 1 == size ? 0 : i + 1) {
      if (at[i].key == key || at[i].key == 0) return i;
    }
  }
  void Rehash(size_t slots) {
    at_ = Regrow(
        at_, size_, slots, [](const Slot& s) { return s.key != 0; },
        [slots](const Slot* t, uint64_t key) { return Probe(t, slots, key); });
    size_ = slots;
  }
  Slot* at_;
  size_t size_;
  size_t used_ = 0;
  std::unordered_map<uint64_t, Value> overflow_;
};

// One stream's records within one segment: what the merge needs of them.
struct StreamRun {
  uint64_t key = 0;  // XXH3-64 of the id | 1
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t first_version = 0;
  uint64_t last_version = 0;
  uint64_t first_prev = kNoPrev;  // the .idx's previous position of the first record, if valid
  uint32_t first_offset = 0;      // of the first record, for messages
  uint32_t count = 0;
};

// Digest of a run as the .idx lists it (stream, last position, events): the .idx's stream entries
// and the runs the records make are compared as sums of these, in any order.
uint64_t RunDigest(uint64_t key, uint64_t last, uint64_t count) {
  const uint64_t v[2] = {last, count};
  return XXH3_64bits_withSeed(v, sizeof(v), key);
}

// The runs of the segment being checked, in the order their streams first appear, and a table
// from stream key to run. Reused from segment to segment: a table slot is free unless its
// generation is the current one, so nothing is cleared in between.
class SegmentRuns {
 public:
  SegmentRuns() : at_(AllocateZeroed<Slot>(kMinSlots)), size_(kMinSlots) {}
  ~SegmentRuns() { FreeZeroed(at_, size_); }
  SegmentRuns(const SegmentRuns&) = delete;
  SegmentRuns& operator=(const SegmentRuns&) = delete;

  // Starts a segment; its runs go to *runs (emptied).
  void Begin(std::vector<StreamRun>* runs) {
    runs_ = runs;
    runs_->clear();
    if (++generation_ == 0) {  // wrapped: every slot must read as free again
      for (size_t i = 0; i < size_; ++i) at_[i].generation = 0;
      generation_ = 1;
    }
  }
  void Prefetch(uint64_t key) const { __builtin_prefetch(&at_[(key >> 8) & (size_ - 1)], 1); }
  // The index of key's run; a new run (count 0) if the segment has none yet.
  uint32_t FindOrInsert(uint64_t key) {
    if ((runs_->size() + 1) * 2 > size_) Rehash(size_ * 2);
    Slot& s = at_[Probe(at_, size_, key)];
    if (s.generation != generation_) {
      s = Slot{key, static_cast<uint32_t>(runs_->size()), generation_};
      runs_->push_back(StreamRun{});
      runs_->back().key = key;
    }
    return s.run;
  }
  const StreamRun* Find(uint64_t key) const {
    const Slot& s = at_[Probe(at_, size_, key)];
    return s.generation == generation_ ? &(*runs_)[s.run] : nullptr;
  }
  StreamRun& operator[](uint32_t run) { return (*runs_)[run]; }
  size_t size() const { return runs_->size(); }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t run = 0;
    uint32_t generation = 0;
  };
  static constexpr size_t kMinSlots = 1 << 10;
  size_t Probe(const Slot* at, size_t size, uint64_t key) const {
    for (size_t i = (key >> 8) & (size - 1);; i = (i + 1) & (size - 1)) {
      if (at[i].generation != generation_ || at[i].key == key) return i;
    }
  }
  void Rehash(size_t slots) {
    at_ = Regrow(
        at_, size_, slots, [this](const Slot& s) { return s.generation == generation_; },
        [this, slots](const Slot* t, uint64_t key) { return Probe(t, slots, key); });
    size_ = slots;
  }
  Slot* at_;
  size_t size_;
  uint32_t generation_ = 0;
  std::vector<StreamRun>* runs_ = nullptr;
};

// A failed Status as a problem of `file`: where the damage is, when the status says so.
LogProblem ProblemOf(const Status& s, const std::string& file, uint64_t cut) {
  if (const Damage* d = s.damage()) return {*d, cut};
  return {{file, 0, s.message()}, cut};
}

uint64_t HashPrefix(const File& file, uint64_t n) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::string buf(4 << 20, '\0');
  for (uint64_t off = 0; off < n;) {
    size_t got = 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
    if (!file.ReadAt(off, want, buf.data(), &got).ok() || got == 0) break;
    SegmentHashUpdate(st, buf.data(), got);
    off += got;
  }
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

// The stream id of the record at offset (for a message); "?" if it cannot be read.
std::string StreamIdAt(const File& file, uint64_t offset, uint64_t end) {
  SegmentReader reader(&file, offset, end);
  RecordView rec;
  return reader.Read(&rec) == SegmentReader::Next::kRecord ? std::string(rec.stream) : "?";
}

// What checking one segment on its own finds; merged into the report in log order.
struct SegmentResult {
  SegmentCheck sc;
  std::vector<LogProblem> problems;
  // A header that does not decode, in a last segment no bigger than a header: what a crash while
  // the segment was being created leaves, unless the log before it does not end at its base.
  std::optional<LogProblem> header_problem_unless_new;
  std::vector<StreamRun> runs;  // full check only
  Position next;  // the position expected after this segment's records (its base when none)
  Position highest_seen;
  std::string idx_path;
  uint64_t idx_records = 0;   // records the valid .idx describes (0: no valid .idx)
  bool idx_reported = false;  // a disagreement of the .idx with the records is reported already
  bool torn_tail = false;
  uint64_t torn_offset = 0;
  uint64_t torn_bytes = 0;
};

// Checks segments on its own: one per worker thread.
class SegmentChecker {
 public:
  SegmentChecker(Env* env, const std::string& dir, const CheckOptions& options,
                 std::atomic<uint64_t>* bytes_done)
      : env_(env), dir_(dir), opt_(options), bytes_done_(bytes_done) {}

  // runs: storage for the segment's stream runs (a spare, to save allocating it anew).
  SegmentResult Check(Position base, const std::shared_ptr<File>& file, bool is_last,
                      std::vector<StreamRun> runs) {
    SegmentResult out;
    out.runs = std::move(runs);
    res_ = &out;
    file_ = file.get();
    runs_.Begin(&out.runs);
    CheckSegment(base, file, is_last);
    res_ = nullptr;
    return out;
  }

 private:
  void Problem(const std::string& file, uint64_t offset, std::string what, uint64_t cut) {
    res_->problems.push_back({{file, offset, std::move(what)}, cut});
  }

  void CheckSegment(Position base, const std::shared_ptr<File>& file, bool is_last) {
    SegmentCheck& sc = res_->sc;
    sc.path = file->path();
    sc.base = base;
    sc.last = base.prev();
    res_->next = base;
    const std::string& path = sc.path;
    uint64_t reported = 0;  // bytes of this segment added to *bytes_done_

    // The header and footer, by the rules opening the log applies (ReadSegmentFrame).
    SegmentFrame frame;
    if (Status io = ReadSegmentFrame(*file, base, &frame); !io.ok()) {
      frame.header_status = io;  // reported as the header's problem: nothing else is readable
      frame.footer.reset();
    }
    sc.bytes = frame.size;
    const uint64_t size = frame.size;
    const std::string& header = frame.header;
    if (!frame.header_status.ok()) {
      LogProblem p = ProblemOf(frame.header_status, path, base.value);
      if (!frame.header_base && is_last && size <= f::kSegmentHeaderSize) {
        sc.data_end = size;
        res_->header_problem_unless_new = std::move(p);
      } else {
        res_->problems.push_back(std::move(p));
      }
    }
    if (!frame.footer_status.ok())
      res_->problems.push_back(ProblemOf(frame.footer_status, path, 0));
    const std::optional<SegmentFooter>& footer = frame.footer;
    sc.sealed = footer.has_value();
    const uint64_t end = frame.records_end();

    // The .idx file of a sealed segment (into buffers reused from segment to segment).
    std::vector<uint32_t>& offsets = offsets_;
    std::vector<uint64_t>& prevs = prevs_buf_;
    std::vector<SegmentStreamEntry>& idx_streams = idx_streams_;
    idx_streams.clear();
    std::string_view idx_bytes;
    res_->idx_path = JoinPath(dir_, IndexFileName(base));
    const std::string& idx_path = res_->idx_path;
    if (footer) {
      Status read = ReadIndexFile(idx_path, &idx_bytes);
      if (!read.ok()) {
        sc.index = read.code() == StatusCode::kNotFound ? IndexFileState::kMissing
                                                        : IndexFileState::kInvalid;
        if (sc.index == IndexFileState::kInvalid) sc.index_problem = read.message();
      } else {
        Status s = DecodeSegmentIndex(idx_bytes, idx_path, base, footer->record_count, &offsets,
                                      &prevs, &idx_streams);
        sc.index = s.ok() ? IndexFileState::kValid : IndexFileState::kInvalid;
        if (!s.ok()) {
          sc.index_problem = s.message();
          res_->problems.push_back(ProblemOf(s, idx_path, 0));
        }
      }
    }
    const bool use_idx = sc.index == IndexFileState::kValid;
    if (use_idx) res_->idx_records = offsets.size();
    idx_ = use_idx ? &offsets : nullptr;
    prevs_ = use_idx ? &prevs : nullptr;
    if (use_idx && opt_.records) run_of_.resize(offsets.size());

    // The records.
    Position expect = base;
    uint64_t count = 0;
    auto on_record = [&](const RecordView& rec, uint64_t offset) {
      if (rec.position != expect) {
        Problem(path, offset, OutOfSequence(expect, rec.position),
                std::min(rec.position.value, expect.value));
      }
      if (count == 0) sc.first_timestamp_ms = rec.timestamp_ms;
      sc.last_timestamp_ms = rec.timestamp_ms;
      if (opt_.records) {
        if (idx_ != nullptr && !res_->idx_reported && count < idx_->size() &&
            (*idx_)[count] != offset) {
          res_->idx_reported = true;
          Problem(idx_path, f::idx::OffsetAt(count),
                  "record " + std::to_string(count) + " is at offset " + std::to_string(offset) +
                      ", the index says " + std::to_string((*idx_)[count]),
                  0);
        }
        batch_.Add(rec, offset, count);
        if (batch_.full()) FlushBatch(path, base);
      }
      expect = rec.position.next();
      sc.last = rec.position;
      sc.data_end = offset + rec.length;
      ++count;
      if (rec.position.value > res_->highest_seen.value) res_->highest_seen = rec.position;
      if ((count & 0xFFFF) == 0) {
        bytes_done_->fetch_add(offset - reported, std::memory_order_relaxed);
        reported = offset;
      }
    };

    if (!opt_.records && use_idx && !offsets.empty()) {
      // Summary: the first and last record, located by the index.
      for (size_t k : {size_t{0}, offsets.size() - 1}) {
        const uint64_t rec_end = k + 1 < offsets.size() ? offsets[k + 1] : end;
        SegmentReader reader(file.get(), offsets[k], rec_end);
        RecordView rec;
        if (reader.Read(&rec) != SegmentReader::Next::kRecord) {
          Problem(path, offsets[k], reader.why() ? reader.why() : "unreadable record",
                  expect.value);
          break;
        }
        if (k == 0) sc.first_timestamp_ms = rec.timestamp_ms;
        sc.last_timestamp_ms = rec.timestamp_ms;
      }
      count = offsets.size();
      expect = Position(base.value + count);
      sc.last = expect.prev();
      sc.data_end = end;
      if (sc.last.value > res_->highest_seen.value) res_->highest_seen = sc.last;
    } else {
      // A full check of a sealed segment takes its whole-segment checksum from the same reads.
      const bool hash = opt_.records && footer && header.size() == f::kSegmentHeaderSize;
      XXH3_state_t* state = hash ? XXH3_createState() : nullptr;
      if (hash) {
        XXH3_64bits_reset(state);
        SegmentHashUpdate(state, header.data(), header.size());
      }
      const bool whole =
          ScanRecords(file, path, base, f::kSegmentHeaderSize, end, is_last && !footer, state,
                      expect, on_record, [&] { FlushBatch(path, base); });
      if (opt_.records && footer) {
        const uint64_t h = hash && whole ? XXH3_64bits_digest(state) : HashPrefix(*file, end);
        if (h != footer->segment_checksum) {
          Problem(path, end + f::footer::kSegmentChecksum, "whole-segment checksum mismatch", 0);
        }
      }
      if (state != nullptr) XXH3_freeState(state);
    }
    sc.records = count;
    res_->next = expect;
    if (opt_.records && use_idx && !res_->idx_reported) CheckIndexStreams(idx_bytes, idx_streams);

    if (footer) {
      if (footer->record_count != count || footer->last_position != sc.last) {
        Problem(path, size - f::kFooterSize,
                "footer says " + std::to_string(footer->record_count) + " records ending at " +
                    std::to_string(footer->last_position.value) + ", the segment holds " +
                    std::to_string(count) + " ending at " + std::to_string(sc.last.value),
                sc.last.value + 1);
      }
      if (footer->last_position.value > res_->highest_seen.value) {
        res_->highest_seen = footer->last_position;
      }
    } else if (!is_last) {
      Problem(path, size >= f::kFooterSize ? size - f::kFooterSize : 0,
              "segment is not sealed (no valid footer) but newer segments follow", expect.value);
    }
    bytes_done_->fetch_add(size - std::min(reported, size), std::memory_order_relaxed);
  }

  // Reads the .idx file at path into idx_buf_ (grown, never shrunk or cleared: no page faults or
  // zeroing for every segment).
  Status ReadIndexFile(const std::string& path, std::string_view* bytes) {
    auto file = env_->Open(path, OpenMode::kReadOnly);
    if (!file.ok()) return file.status();
    auto size = (*file)->Size();
    if (!size.ok()) return size.status();
    if (idx_buf_.size() < *size) idx_buf_.resize(*size);
    size_t got = 0;
    ORDERLOG_RETURN_IF_ERROR((*file)->ReadAt(0, *size, idx_buf_.data(), &got));
    *bytes = std::string_view(idx_buf_.data(), got);
    return Status::Ok();
  }

  // The .idx's per-stream entries (what opening the log builds its stream index from) against
  // the runs the records make: one entry per stream, with its last position and event count.
  // Compared as order-independent sums of digests; entry by entry only to find what differs.
  void CheckIndexStreams(std::string_view idx_bytes,
                         const std::vector<SegmentStreamEntry>& entries) {
    uint64_t from_records = 0;
    for (uint32_t i = 0; i < runs_.size(); ++i) {
      const StreamRun& r = runs_[i];
      from_records += RunDigest(r.key, r.last_position, r.count);
    }
    uint64_t from_index = 0;
    for (const auto& e : entries) {
      from_index += RunDigest(XXH3_64bits(e.id.data(), e.id.size()) | 1, e.last.value, e.count);
    }
    if (from_index == from_records && entries.size() == runs_.size()) return;

    const std::string& idx_path = res_->idx_path;
    res_->idx_reported = true;
    for (const auto& e : entries) {
      const StreamRun* r = runs_.Find(XXH3_64bits(e.id.data(), e.id.size()) | 1);
      if (r == nullptr || r->last_position != e.last.value || r->count != e.count) {
        Problem(idx_path,
                static_cast<uint64_t>(e.id.data() - idx_bytes.data()) - f::idx::kEntryIdLengthSize,
                "stream " + std::string(e.id) + ": the index says " + std::to_string(e.count) +
                    " events ending at " + std::to_string(e.last.value) + ", the segment holds " +
                    (r == nullptr ? std::string("none")
                                  : std::to_string(r->count) + " ending at " +
                                        std::to_string(r->last_position)),
                0);
        return;
      }
    }
    Problem(idx_path, f::idx::kStreamCount,
            "the index lists " + std::to_string(entries.size()) + " streams, the segment has " +
                std::to_string(runs_.size()),
            0);
  }

  // Reads records in [start, end), resyncing after damage on the next valid record. True when
  // every byte of the range was read once, in order, by one reader (so `hash` covers it).
  template <typename OnRecord, typename Flush>
  bool ScanRecords(const std::shared_ptr<File>& file, const std::string& path, Position base,
                   uint64_t start, uint64_t end, bool active, XXH3_state_t* hash,
                   const Position& expect, OnRecord&& on_record, Flush&& flush) {
    int regrow = 0;
    int rewritten = 0;
    for (bool first = true;; first = false) {
      SegmentReader reader(file.get(), start, end);
      reader.UseBuffer(&read_buf_);
      if (first) reader.HashInto(hash);
      RecordView rec;
      SegmentReader::Next r;
      while ((r = reader.Read(&rec)) == SegmentReader::Next::kRecord) {
        on_record(rec, reader.offset());
      }
      flush();
      if (r == SegmentReader::Next::kEnd) return first;
      if (!reader.io_status().ok()) {
        Problem(path, reader.offset(), reader.io_status().message(), expect.value);
        return false;
      }
      const uint64_t bad = reader.offset();
      const char* why = reader.why();
      // In a sealed segment, damage is damage. At the end of the active one it may be writes a
      // crash cut short, even with valid records after it (unsynced pages land in any order),
      // unless one of those was written when the damaged record was already durable (its
      // durable gap says so); the zeros of a preallocated segment's unwritten space are no damage.
      auto found = ScanAfterDamage(*file, bad, end, Position(0), active ? expect : Position(0));
      if (active && found.ok() && found->valid == bad && ++rewritten < 1000) {
        start = bad;  // written since the reader looked (a preallocated segment does not grow)
        continue;
      }
      const std::optional<uint64_t> later = !found.ok() ? std::nullopt
                                            : active    ? found->proof
                                                        : found->valid;
      if (later) {
        Problem(path, bad,
                std::string(why) + "; " + std::to_string(*later - bad) +
                    " bytes skipped, a valid record follows at offset " + std::to_string(*later) +
                    (active ? ", written after this one was durable" : ""),
                expect.value);
        start = *later;
        continue;
      }
      if (active) {
        if (found.ok() && found->zeros) return false;  // unwritten space, not a torn tail
        // The end of the active segment. A server may be writing it right now: look again.
        // Or it has rolled over since the frame was read: the footer now starts where the
        // records end, and this segment's records end here.
        SegmentFrame now;
        if (ReadSegmentFrame(*file, base, &now).ok() && now.footer && now.records_end() == bad) {
          return false;
        }
        if (regrow < 3) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          auto size = file->Size();
          ++regrow;
          start = bad;
          if (size.ok()) end = std::max(end, *size);
          continue;
        }
        res_->torn_tail = true;
        res_->torn_offset = bad;
        res_->torn_bytes = end - bad;
        Problem(path, bad,
                "torn tail: the last " + std::to_string(end - bad) +
                    " bytes are not a whole record (" + why +
                    "); the server cuts them at its next start",
                expect.value);
        return false;
      }
      Problem(path, bad, why, expect.value);
      return false;
    }
  }

  // Records waiting to be folded into their stream's run, a batch at a time so that the table
  // slots of a whole batch are fetched from memory in parallel (prefetch), not one miss each.
  struct Batch {
    struct Item {
      Position position;
      uint64_t version;
      uint64_t offset;
      uint64_t index;  // within its segment
      uint64_t hash;
    };
    static constexpr size_t kSize = 64;
    Item items[kSize];
    size_t n = 0;
    bool full() const { return n == kSize; }
    void Add(const RecordView& rec, uint64_t offset, uint64_t index) {
      items[n++] = {rec.position, rec.version.value, offset, index,
                    XXH3_64bits(rec.stream.data(), rec.stream.size()) | 1};
    }
  };

  void IndexProblem(uint64_t index, uint64_t follows, uint64_t says) {
    res_->idx_reported = true;
    Problem(res_->idx_path, f::idx::PrevAt(prevs_->size(), index),
            "record " + std::to_string(index) + " follows position " + std::to_string(follows) +
                " of its stream, the index says " + std::to_string(says),
            0);
  }

  // With a valid .idx, a record whose stream's previous record is in this segment finds its run
  // through that record (run_of_), and the table is only probed for a stream's first record here.
  void FlushBatch(const std::string& path, Position base) {
    const bool idx = prevs_ != nullptr && !res_->idx_reported;
    for (size_t i = 0; i < batch_.n; ++i) {
      const auto& it = batch_.items[i];
      if (!idx || it.index >= prevs_->size() || (*prevs_)[it.index] < base.value) {
        runs_.Prefetch(it.hash);
      }
    }
    for (size_t i = 0; i < batch_.n; ++i) {
      const auto& it = batch_.items[i];
      const bool linked = prevs_ != nullptr && !res_->idx_reported && it.index < prevs_->size();
      const uint64_t prev = linked ? (*prevs_)[it.index] : kNoPrev;
      uint32_t run;
      if (linked && prev >= base.value && prev - base.value < it.index &&
          runs_[run_of_[prev - base.value]].key == it.hash) {
        run = run_of_[prev - base.value];
      } else if (linked && prev >= base.value) {
        // The .idx links this record to a record of another stream, or forward.
        run = runs_.FindOrInsert(it.hash);
        IndexProblem(it.index, runs_[run].count == 0 ? 0 : runs_[run].last_position, prev);
      } else {
        run = runs_.FindOrInsert(it.hash);
      }
      StreamRun& r = runs_[run];
      if (r.count == 0) {
        // The stream's first record in this segment: the merge checks it against the log before.
        r.first_position = it.position.value;
        r.first_version = it.version;
        r.first_prev = linked && !res_->idx_reported ? prev : kNoPrev;
        r.first_offset = static_cast<uint32_t>(it.offset);
      } else {
        if (it.version != r.last_version + 1) {
          Problem(path, it.offset,
                  VersionGap(StreamIdAt(*file_, it.offset, it.offset + f::kMaxRecordSize),
                             it.version, r.last_version),
                  it.position.value);
        }
        if (linked && !res_->idx_reported && prev != r.last_position) {
          IndexProblem(it.index, r.last_position, prev);
        }
      }
      r.last_position = it.position.value;
      r.last_version = it.version;
      ++r.count;
      if (it.index < run_of_.size()) run_of_[it.index] = run;
    }
    batch_.n = 0;
  }

  Env* env_;
  const std::string& dir_;
  const CheckOptions& opt_;
  std::atomic<uint64_t>* bytes_done_;
  SegmentResult* res_ = nullptr;
  const File* file_ = nullptr;
  const std::vector<uint32_t>* idx_ = nullptr;
  const std::vector<uint64_t>* prevs_ = nullptr;
  std::vector<uint32_t> run_of_;  // the run of each record of the segment (with a valid .idx)
  std::vector<uint32_t> offsets_;
  std::vector<uint64_t> prevs_buf_;
  std::vector<SegmentStreamEntry> idx_streams_;
  std::string idx_buf_;
  std::string read_buf_;
  Batch batch_;
  SegmentRuns runs_;
};

class Checker {
 public:
  Checker(Env* env, const std::string& dir, const CheckOptions& options, CheckReport* report)
      : env_(env), dir_(dir), opt_(options), rep_(report) {}

  Status Run() {
    auto bases = ListSegmentFiles(env_, dir_);
    if (!bases.ok()) return bases.status();
    bases_ = std::move(bases).value();
    for (Position base : bases_) {
      auto file = env_->Open(JoinPath(dir_, SegmentFileName(base)), OpenMode::kReadOnly);
      if (!file.ok()) return file.status();
      auto size = (*file)->Size();
      if (!size.ok()) return size.status();
      rep_->bytes += *size;
      files_.emplace_back(std::move(file).value());
    }

    // Workers check segments in any order, at most kAhead per worker beyond the merge. Whichever
    // worker finishes the segment the merge waits for merges it and every later one that is
    // ready, in log order, while its runs are still in that core's cache. This thread reports
    // progress meanwhile.
    const size_t n = bases_.size();
    unsigned threads = opt_.threads != 0 ? opt_.threads : std::thread::hardware_concurrency();
    threads = static_cast<unsigned>(std::clamp<size_t>(threads, 1, std::max<size_t>(n, 1)));
    results_.resize(n);
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t)
      workers.emplace_back([this, n, threads] {
        SegmentChecker checker(env_, dir_, opt_, &bytes_done_);
        for (;;) {
          const size_t k = next_.fetch_add(1);
          if (k >= n) return;
          std::vector<StreamRun> runs;
          {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return k < merged_ + kAhead * threads; });
            if (!spare_runs_.empty()) {
              runs = std::move(spare_runs_.back());
              spare_runs_.pop_back();
            }
          }
          SegmentResult r = checker.Check(bases_[k], files_[k], k + 1 == n, std::move(runs));
          std::unique_lock lk(mu_);
          results_[k] = std::move(r);
          MergeReady(lk);
        }
      });
    // The stream table is sized (and faulted in) while the workers read the first segments.
    if (opt_.records) ReserveStreams();
    {
      std::unique_lock lk(mu_);
      table_ready_ = true;
      MergeReady(lk);
      while (!cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return merged_ == n; })) {
        lk.unlock();
        Progress();
        lk.lock();
      }
    }
    for (auto& w : workers) w.join();

    uint64_t first_cut = 0;
    for (const auto& p : rep_->problems) {
      if (p.cut_position != 0 && (first_cut == 0 || p.cut_position < first_cut))
        first_cut = p.cut_position;
    }
    rep_->last = Position((first_cut != 0 ? first_cut : expect_.value) - 1);
    rep_->streams = streams_.size();
    if (opt_.progress) opt_.progress(rep_->bytes, rep_->bytes);
    return Status::Ok();
  }

 private:
  static constexpr size_t kAhead = 2;

  // Merges the results that are next in log order, unless another thread is merging already (it
  // takes these too) or the stream table is not ready yet (the thread making it merges them).
  void MergeReady(std::unique_lock<std::mutex>& lk) {
    while (table_ready_ && !merging_ && merged_ < results_.size() &&
           results_[merged_].has_value()) {
      const size_t next = merged_;
      SegmentResult ready = std::move(*results_[next]);
      results_[next].reset();
      merging_ = true;
      lk.unlock();
      Merge(next, ready);
      lk.lock();
      merging_ = false;
      merged_ = next + 1;
      spare_runs_.push_back(std::move(ready.runs));
      cv_.notify_all();
    }
  }

  // Sizes the stream table once, from the .idx headers (streams each segment starts) plus a bound
  // for segments without one, as Log::Open does.
  void ReserveStreams() {
    uint64_t bound = 0;
    for (size_t i = 0; i < bases_.size(); ++i) {
      if (auto started = ReadIndexNewStreams(env_, JoinPath(dir_, IndexFileName(bases_[i])))) {
        bound += *started;
      } else {
        bound += files_[i]->Size().ok() ? *files_[i]->Size() / f::kRecordHeaderSize : 0;
      }
    }
    streams_.Reserve(std::min<uint64_t>(bound, uint64_t{1} << 28));
  }

  void Progress() {
    if (!opt_.progress) return;
    const uint64_t done = bytes_done_.load(std::memory_order_relaxed);
    if (done - last_progress_ >= (64u << 20) && done < rep_->bytes) {
      last_progress_ = done;
      opt_.progress(done, rep_->bytes);
    }
  }

  void Merge(size_t k, SegmentResult& r) {
    const Position base = bases_[k];
    const std::string& path = r.sc.path;
    auto& problems = rep_->problems;
    if (r.header_problem_unless_new && base != expect_) {
      problems.push_back(std::move(*r.header_problem_unless_new));
    }
    if (base != expect_) {
      problems.push_back(
          {{path, 0,
            "segment starts at position " + std::to_string(base.value) +
                " but the log before it ends at " + std::to_string(expect_.value - 1)},
           std::min(base.value, expect_.value)});
    }
    for (auto& p : r.problems) problems.push_back(std::move(p));

    // Each stream's first record here continues what the segments before left.
    constexpr size_t kLookahead = 32;
    const auto& runs = r.runs;
    for (size_t i = 0; i < std::min(kLookahead, runs.size()); ++i) streams_.Prefetch(runs[i].key);
    for (size_t i = 0; i < runs.size(); ++i) {
      if (i + kLookahead < runs.size()) streams_.Prefetch(runs[i + kLookahead].key);
      const StreamRun& run = runs[i];
      size_t slot;
      const StreamVersions::Value before = streams_.Get(run.key, &slot);
      if (run.first_version != before.version + 1) {
        problems.push_back({{path, run.first_offset,
                             VersionGap(StreamIdAt(*files_[k], run.first_offset, r.sc.bytes),
                                        run.first_version, before.version)},
                            run.first_position});
      }
      if (run.first_prev != kNoPrev && !r.idx_reported && run.first_prev != before.last) {
        r.idx_reported = true;
        const uint64_t index = run.first_position - base.value;
        problems.push_back({{r.idx_path, f::idx::PrevAt(r.idx_records, index),
                             "record " + std::to_string(index) + " follows position " +
                                 std::to_string(before.last) + " of its stream, the index says " +
                                 std::to_string(run.first_prev)},
                            0});
      }
      streams_.Set(slot, run.key, {run.last_position, run.last_version});
    }

    rep_->records += r.sc.records;
    if (r.highest_seen.value > rep_->highest_seen.value) rep_->highest_seen = r.highest_seen;
    if (r.torn_tail) {
      rep_->torn_tail = true;
      rep_->torn_offset = r.torn_offset;
      rep_->torn_bytes = r.torn_bytes;
    }
    expect_ = r.next;
    rep_->segments.push_back(std::move(r.sc));
  }

  Env* env_;
  const std::string& dir_;
  const CheckOptions& opt_;
  CheckReport* rep_;
  std::vector<Position> bases_;
  std::vector<std::shared_ptr<File>> files_;
  StreamVersions streams_;
  Position expect_{1};
  uint64_t last_progress_ = 0;

  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> bytes_done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  size_t merged_ = 0;                                  // guarded by mu_
  bool merging_ = false;                               // guarded by mu_
  bool table_ready_ = false;                           // guarded by mu_
  std::vector<std::optional<SegmentResult>> results_;  // guarded by mu_
  std::vector<std::vector<StreamRun>> spare_runs_;     // guarded by mu_
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
