// Checking a log directory without opening it for writing: the inspection tool's `segments`,
// `verify` and `repair` are built on this. Takes no lock and writes nothing.
//
// A full check reads every byte: segment headers and footers (record count, last position,
// whole-segment XXH3), every record (checksum, structure, position continuity across segments,
// stream version continuity per stream) and every .idx file (checksum, shape, each record offset
// and previous-position link, and each per-stream entry, against the records). It goes on after
// damage (it resyncs on the next valid record) so that every problem is reported, each with its
// file and byte offset.
//
// Segments are checked in parallel, one pass over each file: the records and the whole-segment
// checksum come from the same reads, and each stream's records in a segment are folded into one
// run (first and last position and version). The runs are then merged in log order against one
// table of every stream, which checks the versions and .idx links that cross segments.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/env.h"
#include "engine/status.h"
#include "engine/types.h"

namespace orderlog {

// A damage found by the check (file, offset, reason), and what it costs.
struct LogProblem : Damage {
  // Where the log would have to be cut for it to open cleanly: records from cut_position on are
  // affected. 0 when the problem is not in the record data (a bad .idx file, for instance).
  uint64_t cut_position = 0;
};

enum class IndexFileState : unsigned char { kNotSealed, kValid, kMissing, kInvalid };
const char* IndexFileStateName(IndexFileState s);

struct SegmentCheck {
  std::string path;
  Position base;
  Position last;  // base - 1 when empty
  uint64_t records = 0;
  uint64_t bytes = 0;     // file size
  uint64_t data_end = 0;  // offset just past the last valid record
  bool sealed = false;
  int64_t first_timestamp_ms = 0;  // 0 when empty
  int64_t last_timestamp_ms = 0;
  IndexFileState index = IndexFileState::kNotSealed;
  std::string index_problem;
};

struct CheckOptions {
  // true: read and verify every record (verify). false: headers, footers, .idx files and the
  // first and last record of each segment only; the active segment is still scanned (segments).
  bool records = true;
  // Called now and then, always on the calling thread, with bytes checked and bytes in all.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Segments are checked this many at a time (0: one per core). The report is the same for any
  // number: per-segment results are merged in log order.
  unsigned threads = 0;
};

struct CheckReport {
  std::vector<SegmentCheck> segments;
  std::vector<LogProblem> problems;
  uint64_t records = 0;  // valid records seen
  uint64_t bytes = 0;    // segment bytes in all
  uint64_t streams = 0;  // full check only
  Position last;         // the last position of the clean prefix of the log
  // Bytes at the end of the active segment that are not a whole record and that no valid record
  // follows: what a crash mid-write leaves (the server cuts them at its next start).
  bool torn_tail = false;
  uint64_t torn_offset = 0;
  uint64_t torn_bytes = 0;
  // The highest position seen anywhere, damaged regions included (what a cut at `last` loses).
  Position highest_seen;
};

// Checks the log in dir. An error only if dir cannot be read at all; damage is in the report.
Result<CheckReport> CheckLog(Env* env, const std::string& dir, const CheckOptions& options);

}  // namespace orderlog
