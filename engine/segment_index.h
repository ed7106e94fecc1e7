// The persisted index of a sealed segment (.idx file, layout in engine/format.h): where each
// record starts, the previous position of each record's stream, and per stream its last position
// and event count in the segment. Opening a log reads these instead of the records.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/env.h"
#include "engine/status.h"
#include "engine/types.h"

namespace orderlog {

struct SegmentStreamEntry {
  std::string_view id;
  Position last;
  uint32_t count = 0;
};

std::string EncodeSegmentIndex(Position base, const std::vector<uint32_t>& offsets,
                               const std::vector<uint64_t>& prevs,
                               const std::vector<SegmentStreamEntry>& streams);

// Verifies the checksum and shape, then fills offsets, prevs and streams (whose id views point
// into `bytes`), reusing their memory. Unless the whole file is valid, offsets and prevs are left
// as they were and streams is empty. `file` names it in errors.
Status DecodeSegmentIndex(std::string_view bytes, const std::string& file, Position expected_base,
                          uint64_t expected_count, std::vector<uint32_t>* offsets,
                          std::vector<uint64_t>* prevs, std::vector<SegmentStreamEntry>* streams);

// The number of streams whose first event is in the segment, from the header of its .idx at
// path (unverified: a bound for sizing a stream table); nullopt if it cannot be read.
std::optional<uint32_t> ReadIndexNewStreams(Env* env, const std::string& path);

}  // namespace orderlog
