// Segment headers, footers and .idx files: any bytes are decoded or refused with a reason.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/segment.h"
#include "engine/segment_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)orderlog::DecodeSegmentHeader(bytes, "fuzz.seg");
  if (size >= 40) (void)orderlog::DecodeSegmentFooter(std::string_view(bytes).substr(size - 40));
  std::vector<uint32_t> offsets;
  std::vector<uint64_t> prevs;
  std::vector<orderlog::SegmentStreamEntry> streams;
  // The record count an .idx must match comes from its own header when it is long enough.
  uint64_t count = 0;
  if (size >= 32) std::memcpy(&count, bytes.data() + 24, sizeof(count));
  orderlog::Status s = orderlog::DecodeSegmentIndex(bytes, "fuzz.idx", orderlog::Position(1), count,
                                                    &offsets, &prevs, &streams);
  if (s.ok()) {
    // A valid index re-encodes to the same bytes.
    if (orderlog::EncodeSegmentIndex(orderlog::Position(1), offsets, prevs, streams) != bytes) {
      __builtin_trap();
    }
  } else if (!offsets.empty() || !prevs.empty() || !streams.empty()) {
    __builtin_trap();  // nothing is filled unless the whole file is valid
  }
  return 0;
}
