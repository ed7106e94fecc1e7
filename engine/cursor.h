// A sequential reader of the log straight from its segment files: records in position order,
// each verified (checksum, position continuity), with memory that does not grow with the log (no
// index is built; a sealed segment's .idx is used only to jump to a start position). It takes no
// lock and writes nothing, so it may run beside a server appending to the same directory; calling
// Read again after kEnd picks up what was written since (tail -f).
//
// What a live reader may see: records are visible here once the writer has written them, which in
// sync mode is a moment before they are acknowledged (their fdatasync is still running).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/env.h"
#include "engine/record.h"
#include "engine/segment.h"
#include "engine/status.h"
#include "engine/types.h"

namespace orderlog {

class LogCursor {
 public:
  enum class Next : unsigned char {
    kRecord,   // *rec is valid until the next call
    kEnd,      // nothing more for now (a live log may grow: call again later)
    kProblem,  // damage or an I/O error: problem() names file and offset; reading stops
  };

  // A cursor returning the records with positions > after.
  static Result<std::unique_ptr<LogCursor>> Open(Env* env, const std::string& dir, Position after);
  ~LogCursor();

  Next Read(RecordView* rec);
  const Status& problem() const { return problem_; }
  // The last position returned (or `after`).
  Position last() const { return last_; }
  // After kEnd: bytes at the end of the active segment that are not (yet) a whole valid record —
  // a write in progress, or a torn tail if the log is not being written. Empty when none.
  std::optional<std::string> pending_tail() const;

 private:
  LogCursor(Env* env, std::string dir, Position after);
  // Opens the segment file whose records start at base; jumps towards `after` with its .idx.
  Status OpenSegment(Position base);
  // Re-reads the size and footer of the current segment; true if it grew or got sealed.
  bool Refresh();

  Env* env_;
  const std::string dir_;
  const Position after_;
  Position last_;
  Status problem_;

  std::unique_ptr<File> file_;
  std::string path_;
  Position base_;
  bool sealed_ = false;
  uint64_t end_ = 0;       // readable bytes of the current segment
  uint64_t next_off_ = 0;  // offset of the next record
  uint64_t tail_bad_ = 0;  // bytes after next_off_ that are not a whole record (kEnd only)
  const char* tail_why_ = nullptr;
  std::unique_ptr<SegmentReader> reader_;
};

}  // namespace orderlog
