// The indexer thread: off the append path, it writes the .idx file of each sealed segment (queued
// by the syncer once the seal is durable) and prepares the zero-filled spare that the writer's
// next segment starts in (LogOptions::preallocate, asked for by the writer).
#include <algorithm>
#include <thread>

#include "engine/log.h"
#include "engine/log_internal.h"
#include "engine/segment.h"

namespace orderlog {

namespace f = format;

void Log::IndexerLoop() {
  indexer_thread_.Assume();
  MutexLock lk(&indexer_mu_);
  for (;;) {
    while (!indexer_stop_ && indexer_queue_.empty() && !spare_wanted_)
      indexer_cv_.Wait(&indexer_mu_);
    if (indexer_queue_.empty() && !indexer_stop_) {  // spare_wanted_
      spare_wanted_ = false;
      lk.Unlock();
      if (PrepareSpare().ok()) {
        spare_state_.store(kSpareReady, std::memory_order_release);
      } else {
        spare_failures_.fetch_add(1, std::memory_order_relaxed);
        spare_state_.store(kNoSpare, std::memory_order_release);
      }
      lk.Lock();
      continue;
    }
    if (indexer_queue_.empty()) break;  // stopping, and nothing left to write
    Segment* seg = indexer_queue_.front();
    indexer_queue_.pop_front();
    lk.Unlock();
    Status s = WriteSegmentIndex(*seg);
    if (!s.ok()) index_write_failures_.fetch_add(1, std::memory_order_relaxed);
    lk.Lock();
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
  WriterLock lk(&index_mu_);
  std::vector<std::string_view>().swap(seg.stream_starts);
  return s;
}

// The spare is written as zeros in pieces, each written back to the device before the next
// (sync_file_range: data only, no journal commit, no cache flush), then one fdatasync and a
// rename into place once whole. Written at full speed it put bursts in front of the appends'
// fdatasyncs (their tail latency doubled), so after each piece it rests as long as the piece took
// (half the disk at most) unless the active segment is catching up with it. A failure costs
// nothing but the preallocation: the next segment is an ordinary file.
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

}  // namespace orderlog
