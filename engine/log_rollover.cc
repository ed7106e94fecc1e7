// The writer thread's roll-over: sealing the active segment and starting the next one, in a
// zero-filled spare when the indexer has one ready (LogOptions::preallocate).
#include "engine/checksum.h"
#include "engine/log.h"
#include "engine/log_internal.h"
#include "engine/segment.h"

namespace orderlog {

namespace f = format;

// Rolls over to a new segment without waiting for the disk: the footer is written, the next
// segment created under its pending name, and the syncer makes the old segment durable and then
// gives the new one its name (FinishSeal). Until then nothing newer can become durable, because
// the syncer finishes seals before anything else; and a crash in between leaves the old segment
// last (recovered like any active segment) and the pending file, which open deletes. Waiting here
// for the fdatasync of a whole segment instead would stall every append behind the disk.
bool Log::Roll() {
  Segment* sealed = active_->segment;
  Status s = SealActive();
  if (s.ok()) s = CreateSegment(assigned_.next(), /*pending=*/true);
  if (!s.ok()) {
    Fail(s);
    return false;
  }
  PendingSeal seal;
  seal.sealed = sealed;
  seal.next_path = active_->segment->path;
  seal.next_pending_path = seal.next_path + f::kPendingSuffix;
  {
    MutexLock lk(&sync_mu_);
    seals_.push_back(std::move(seal));
  }
  sync_cv_.Signal();
  return true;
}

Status Log::SealActive() {
  ActiveState& a = *active_;
  Segment& seg = *a.segment;
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
  WriterLock lk(&index_mu_);
  seg.sealed = true;
  seg.file_size = a.size + f::kFooterSize;
  return Status::Ok();
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
  active->segment = seg.get();
  active->size = header.size();
  active_bytes_.store(active->size, std::memory_order_relaxed);
  active->preallocated = preallocated;
  if (preallocated) preallocated_segments_.fetch_add(1, std::memory_order_relaxed);
  active_ = std::move(active);
  WriterLock lk(&index_mu_);
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

void Log::MaybeRequestSpare() {
  if (!preallocate_ || spare_asked_ || active_->size < options_.segment_size / 8) return;
  spare_asked_ = true;
  int none = kNoSpare;
  if (!spare_state_.compare_exchange_strong(none, kSpareInProgress)) return;  // one is coming
  {
    MutexLock lk(&indexer_mu_);
    spare_wanted_ = true;
  }
  indexer_cv_.Signal();
}

}  // namespace orderlog
