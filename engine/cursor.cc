#include "engine/cursor.h"

#include "engine/format.h"
#include "engine/segment_index.h"

namespace orderlog {

namespace f = format;

LogCursor::LogCursor(Env* env, std::string dir, Position after)
    : env_(env), dir_(std::move(dir)), after_(after), last_(after), base_(Position(1)) {}

LogCursor::~LogCursor() = default;

Result<std::unique_ptr<LogCursor>> LogCursor::Open(Env* env, const std::string& dir,
                                                   Position after) {
  if (env == nullptr) env = Env::Default();
  if (!env->Exists(dir)) return Status::NotFound("data directory " + dir + " does not exist");
  auto bases = ListSegmentFiles(env, dir);
  if (!bases.ok()) return bases.status();
  std::unique_ptr<LogCursor> cursor(new LogCursor(env, dir, after));
  if (bases->empty()) return cursor;  // an empty log: Read opens the first segment once it exists
  // The segment holding position after + 1: the last one starting at or before it.
  Position base = bases->front();
  for (Position b : *bases) {
    if (b.value <= after.value + 1) base = b;
  }
  ORDERLOG_RETURN_IF_ERROR(cursor->OpenSegment(base));
  return cursor;
}

Status LogCursor::OpenSegment(Position base) {
  path_ = JoinPath(dir_, SegmentFileName(base));
  auto opened = env_->Open(path_, OpenMode::kReadOnly);
  if (!opened.ok()) return opened.status();
  file_ = std::move(opened).value();
  base_ = base;
  auto size = file_->Size();
  if (!size.ok()) return size.status();
  std::string header(f::kSegmentHeaderSize, '\0');
  size_t got = 0;
  ORDERLOG_RETURN_IF_ERROR(file_->ReadAt(0, header.size(), header.data(), &got));
  if (got < header.size()) {  // being created right now, or a crash left it short: no records
    sealed_ = false;
    end_ = next_off_ = f::kSegmentHeaderSize;
    reader_ = std::make_unique<SegmentReader>(file_.get(), next_off_, end_);
    return Status::Ok();
  }
  auto header_base = DecodeSegmentHeader(header, path_);
  if (!header_base.ok()) return header_base.status();
  if (*header_base != base) {
    return CorruptionAt(path_, 16,
                        "header says base position " + std::to_string(header_base->value));
  }
  sealed_ = false;
  end_ = *size;
  next_off_ = f::kSegmentHeaderSize;
  std::optional<SegmentFooter> footer;
  if (*size >= f::kSegmentHeaderSize + f::kFooterSize) {
    std::string tail(f::kFooterSize, '\0');
    ORDERLOG_RETURN_IF_ERROR(file_->ReadAt(*size - f::kFooterSize, tail.size(), tail.data(), &got));
    footer = DecodeSegmentFooter(std::string_view(tail.data(), got));
    if (footer && footer->last_position.value + 1 == base.value + footer->record_count) {
      sealed_ = true;
      end_ = *size - f::kFooterSize;
    }
  }
  // Jump to after_ + 1 with the segment's index, when it has a valid one.
  if (sealed_ && after_.value + 1 > base.value) {
    const uint64_t skip = after_.value + 1 - base.value;
    auto idx = ReadWholeFile(env_, JoinPath(dir_, IndexFileName(base)));
    std::vector<uint32_t> offsets;
    std::vector<uint64_t> prevs;
    std::vector<SegmentStreamEntry> streams;
    if (idx.ok() && skip < footer->record_count &&
        DecodeSegmentIndex(*idx, "", base, footer->record_count, &offsets, &prevs, &streams).ok() &&
        offsets[skip] >= f::kSegmentHeaderSize && offsets[skip] < end_) {
      next_off_ = offsets[skip];
      base_ = Position(base.value + skip);  // the position expected at next_off_
    }
  }
  reader_ = std::make_unique<SegmentReader>(file_.get(), next_off_, end_);
  return Status::Ok();
}

bool LogCursor::Refresh() {
  auto size = file_->Size();
  if (!size.ok()) return false;
  uint64_t end = *size;
  bool sealed = false;
  if (*size >= f::kSegmentHeaderSize + f::kFooterSize) {
    std::string tail(f::kFooterSize, '\0');
    size_t got = 0;
    if (file_->ReadAt(*size - f::kFooterSize, tail.size(), tail.data(), &got).ok()) {
      auto footer = DecodeSegmentFooter(std::string_view(tail.data(), got));
      // The footer must close exactly the records read so far plus what lies before it.
      if (footer && footer->last_position.value + 1 >= base_.value) {
        sealed = true;
        end = *size - f::kFooterSize;
      }
    }
  }
  if (end == end_ && sealed == sealed_) return false;
  end_ = end;
  sealed_ = sealed;
  reader_ = std::make_unique<SegmentReader>(file_.get(), next_off_, end_);
  return true;
}

LogCursor::Next LogCursor::Read(RecordView* rec) {
  bool reread = false;
  for (;;) {
    if (!problem_.ok()) return Next::kProblem;
    if (!file_) {  // an empty log: has its first segment appeared?
      const Position first(last_.value + 1);
      if (!env_->Exists(JoinPath(dir_, SegmentFileName(first)))) return Next::kEnd;
      problem_ = OpenSegment(first);
      continue;
    }
    const auto r = reader_->Read(rec);
    if (r == SegmentReader::Next::kRecord) {
      next_off_ = reader_->next_offset();
      tail_bad_ = 0;
      if (rec->position != base_) {
        problem_ = CorruptionAt(path_, reader_->offset(), OutOfSequence(base_, rec->position));
        return Next::kProblem;
      }
      base_ = base_.next();  // from here on: the position expected next
      if (rec->position <= after_) continue;
      last_ = rec->position;
      return Next::kRecord;
    }
    if (!reader_->io_status().ok()) {
      problem_ = reader_->io_status();
      return Next::kProblem;
    }
    const bool next_exists = env_->Exists(JoinPath(dir_, SegmentFileName(base_)));
    if (r == SegmentReader::Next::kEnd && sealed_) {
      if (!next_exists) return Next::kEnd;  // sealed a moment ago; the next file comes next
      problem_ = OpenSegment(base_);
      continue;
    }
    if (Refresh()) continue;  // it grew, or was sealed, since we last looked
    if (r != SegmentReader::Next::kEnd && !sealed_ && !reread) {
      // A preallocated segment does not grow: what the reader saw as zeros (unwritten space) or
      // a record half-written may be whole now. Read it again, once per call.
      reread = true;
      reader_ = std::make_unique<SegmentReader>(file_.get(), next_off_, end_);
      continue;
    }
    if (r == SegmentReader::Next::kEnd) {
      tail_bad_ = 0;
      if (!next_exists) return Next::kEnd;
      problem_ = CorruptionAt(path_, end_, "segment is not sealed but a newer segment follows");
      return Next::kProblem;
    }
    if (sealed_ || next_exists) {
      problem_ = CorruptionAt(path_, reader_->offset(), reader_->why());
      return Next::kProblem;
    }
    // Zeros are the unwritten space of a preallocated segment, not a torn record.
    std::string head(f::kRecordHeaderSize, '\0');
    size_t got = 0;
    const bool zeros = file_->ReadAt(reader_->offset(), head.size(), head.data(), &got).ok() &&
                       head.find_first_not_of('\0') == std::string::npos;
    tail_bad_ = zeros ? 0 : end_ - reader_->offset();
    tail_why_ = reader_->why();
    return Next::kEnd;
  }
}

std::optional<std::string> LogCursor::pending_tail() const {
  if (tail_bad_ == 0) return std::nullopt;
  return path_ + " offset " + std::to_string(next_off_) + ": " + std::to_string(tail_bad_) +
         " bytes that are not a whole record (" + (tail_why_ ? tail_why_ : "?") + ")";
}

}  // namespace orderlog
