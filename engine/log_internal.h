// Private structures of Log, shared by log.cc (writer and reads) and log_open.cc (recovery).
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
  uint64_t end = 0;               // offset just past the last record
  uint64_t file_size = 0;
  bool sealed = false;

  uint64_t count() const { return offsets.size(); }
  Position last() const { return Position(base.value + offsets.size() - 1); }
  bool Contains(Position p) const { return p >= base && p.value < base.value + offsets.size(); }
  uint64_t EndOf(uint64_t index) const {
    return index + 1 < offsets.size() ? offsets[index + 1] : end;
  }
};

struct Log::Pending {
  AppendRequest request;
  AppendCallback done;
  bool barrier = false;  // a Sync(): no record; completes after an fdatasync
};

struct Log::PendingEntry {
  std::string_view stream;  // points into the batch's request
  Position position;
  StreamVersion version;
  uint64_t prev = 0;
  uint32_t offset = 0;
};

struct XxhStateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

// Writer-thread state of the active (last, unsealed) segment.
struct Log::ActiveState {
  std::unique_ptr<XXH3_state_t, XxhStateDeleter> hash{XXH3_createState()};
  uint64_t size = 0;  // bytes in the file
  bool unsynced = false;
  // Per stream in this segment (keys are the stream table's stable copies), for the .idx file.
  struct SegStream {
    Position last;
    uint32_t count = 0;
  };
  std::unordered_map<std::string_view, SegStream> seg_streams;
  // Encoded but not yet written records of the current batch, and their index entries.
  std::string buf;
  std::vector<PendingEntry> entries;
  // Stream states assigned in this batch but not yet published to the stream table.
  std::unordered_map<std::string_view, StreamState> overlay;

  ActiveState() { XXH3_64bits_reset(hash.get()); }
};

}  // namespace orderlog
