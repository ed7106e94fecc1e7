// Private structures of Log, shared by its files (log_*.cc), one per thread that runs the code.
#pragma once

#include <xxhash.h>

#include <string_view>
#include <unordered_map>

#include "engine/log.h"
#include "engine/segment_index.h"

namespace orderlog {

struct Log::Segment {
  Position base;
  std::string path;
  std::shared_ptr<File> file;
  std::vector<uint32_t> offsets;  // offset of each record, by position - base
  std::vector<uint64_t> prevs;    // previous position of the same stream, 0 for none
  // Until its .idx is written: the id of each stream whose first record in this segment it is
  // (prevs[i] < base), in record order. The ids live in the stream table's arena.
  std::vector<std::string_view> stream_starts;
  uint64_t end = 0;  // offset just past the last record
  uint64_t file_size = 0;
  bool sealed = false;

  uint64_t count() const { return offsets.size(); }
  Position last() const { return Position(base.value + offsets.size() - 1); }
  bool Contains(Position p) const { return p >= base && p.value < base.value + offsets.size(); }
  uint64_t EndOf(uint64_t index) const {
    return index + 1 < offsets.size() ? offsets[index + 1] : end;
  }
};

// A queued append. Its stream id and payload are copied, one after the other, into the byte
// buffer that travels with the queue (queue_bytes_), starting at `at`.
struct Log::Pending {
  uint64_t at = 0;
  uint64_t stream_size = 0;
  uint64_t payload_size = 0;
  uint64_t stream_hash = 0;  // StreamTable::Hash of the id, computed by the caller's thread
  ExpectedVersion expected;
  uint16_t type = 0;
  bool barrier = false;  // a Sync(): no record; completes after an fdatasync
  AppendCallback done;
};

// A written batch waiting for its sync (or, in kNone/kInterval mode, for nothing).
struct Log::InFlight {
  struct Outcome {
    Status status;
    AppendResult result;
  };
  std::vector<Pending> batch;
  std::vector<Outcome> outcomes;
  Position wait_durable;  // completes once durable_ reaches this (0: at once)
};

// A rolled-over segment: footer written, not yet synced; its successor still carries the
// ".pending" name, so a crash before the seal is durable leaves no newer segment behind it.
struct Log::PendingSeal {
  Segment* sealed = nullptr;  // stable: segments_ holds unique_ptrs and never drops one
  std::string next_pending_path;
  std::string next_path;
};

struct XxhStateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

// Writer-thread state of the active (last, unsealed) segment.
struct Log::ActiveState {
  Segment* segment = nullptr;  // segments_.back(), which the writer alone may read unlocked
  std::unique_ptr<XXH3_state_t, XxhStateDeleter> hash{XXH3_createState()};
  uint64_t size = 0;  // bytes written to the file
  // The file is a zero-filled spare (LogOptions::preallocate): longer than `size`, and cut to
  // its records and footer when sealed.
  bool preallocated = false;
  // Encoded records of the current batch not yet written, and the last position among them.
  std::string buf;
  Position buf_last;
  uint64_t buf_records = 0;

  ActiveState() { XXH3_64bits_reset(hash.get()); }
};

// Where a run of records in one segment lies: the file, and the byte range of the records from
// the one asked for up to `last`.
struct Log::Span {
  std::shared_ptr<File> file;
  uint64_t start = 0;  // byte offset of the first record
  uint64_t end = 0;    // byte offset just past record `last`
  Position last;
};

}  // namespace orderlog
