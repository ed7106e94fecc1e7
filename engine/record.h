// Encoding and decoding of one log record (layout in engine/format.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/types.h"

namespace orderlog {

// A decoded record; the views point into the buffer it was decoded from.
struct RecordView {
  Position position;
  StreamVersion version;
  uint16_t type = 0;
  int64_t timestamp_ms = 0;
  std::string_view stream;
  std::string_view payload;
  uint32_t length = 0;  // whole record, header included
  // Every position up to this one was durable when the record was written. Set by the writer;
  // 0 claims nothing (nor does a distance to position of 2^32-1 or more, which is stored as
  // format::kNoDurableClaim).
  uint64_t durable_before = 0;

  Event ToEvent() const {
    return Event{position, version, type, timestamp_ms, std::string(stream), std::string(payload)};
  }
};

size_t EncodedRecordSize(size_t stream_size, size_t payload_size);

// Appends the encoded record to *out.
void EncodeRecord(std::string* out, const RecordView& rec);

enum class DecodeOutcome : unsigned char {
  kOk,
  kTruncated,  // the buffer ends before the record does (a torn tail, if at end of file)
  kBad,        // the bytes are not a valid record (bad length, bad checksum)
};

struct DecodeResult {
  DecodeOutcome outcome;
  const char* why;  // for kBad and kTruncated, a static description
};

// Decodes and verifies (checksum and structure) the record at p, of which `available` bytes are
// in memory.
DecodeResult DecodeRecord(const char* p, size_t available, RecordView* rec);

}  // namespace orderlog
