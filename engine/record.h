// Encoding and decoding of one log record (layout in engine/format.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/format.h"
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
  // The durable gap (format.h): stored as is, so that decoding and encoding are exact inverses.
  // Set by the writer with DurableGap(); durable_before() is what it claims.
  uint32_t durable_gap = format::kNoDurableClaim;

  // Every position up to this one was durable when the record was written (0: no claim).
  uint64_t durable_before() const {
    return durable_gap != format::kNoDurableClaim && durable_gap <= position.value
               ? position.value - durable_gap
               : 0;
  }

  Event ToEvent() const {
    return Event{position, version, type, timestamp_ms, std::string(stream), std::string(payload)};
  }
};

size_t EncodedRecordSize(size_t stream_size, size_t payload_size);

// The durable gap of a record at `position` written when every position up to `durable` was
// durable: kNoDurableClaim when that does not fit (or claims nothing).
inline uint32_t DurableGap(Position position, Position durable) {
  return durable < position && position.value - durable.value < format::kNoDurableClaim
             ? static_cast<uint32_t>(position.value - durable.value)
             : format::kNoDurableClaim;
}

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
