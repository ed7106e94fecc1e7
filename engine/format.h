// Every on-disk constant of the log, in one place. docs/log-format.md is the prose version of
// this file; tests/format_golden_test.cc pins the bytes. All integers are little-endian.
//
// Data directory:
//   LOCK                         flock()ed by the one process that may write
//   00000000000000000001.seg     segment whose first record has position 1
//   00000000000000000001.idx     index of that segment, written when it is sealed
//   ...
//
// Segment file:
//   +----------------+----------+----------+-----+----------+----------------+
//   | header (32 B)  | record 1 | record 2 | ... | record n | footer (40 B)  |  (footer once
//   sealed)
//   +----------------+----------+----------+-----+----------+----------------+
//
// Segment header (32 bytes):
//   0  8  magic "OLOGSEG\0"
//   8  4  format version (kFormatVersion)
//   12 4  flags (0)
//   16 8  base position: position of the first record in the file
//   24 8  XXH3-64 of bytes 0..24
//
// Record (44-byte header, then stream id, then payload; no padding):
//   0  8  checksum: XXH3-64 of bytes 8..length (every other header field, stream id, payload)
//   8  4  length: the whole record, header included
//   12 2  type (opaque to the engine)
//   14 2  stream id length in bytes (1..kMaxStreamIdSize)
//   16 8  position
//   24 8  stream version
//   32 8  timestamp, Unix epoch milliseconds (signed)
//   40 4  durable gap g: when the record was written, every position <= position - g was
//         already durable (fdatasynced); 2^32-1 (kNoDurableClaim): nothing is claimed. Recovery
//         uses it to tell a torn tail from damage (docs/log-format.md, "Recovery").
//   44 .. stream id, then payload (length - 44 - stream id length bytes)
//
// Segment footer (40 bytes, the last bytes of a sealed segment):
//   0  8  magic "OLOGEND\0"
//   8  8  record count
//   16 8  last position (base position - 1 for an empty segment)
//   24 8  XXH3-64 of every byte of the segment before the footer
//   32 8  XXH3-64 of footer bytes 0..32
//
// Segment index file (.idx, written once just after the seal, rebuilt from the segment if
// missing or bad):
//   0  8  magic "OLOGIDX\0"
//   8  4  format version
//   12 4  stream count s
//   16 8  base position
//   24 8  record count n
//   32 4  streams whose first event is in this segment (sizes the stream table at open)
//   36 4  reserved (0)
//   40 4n record offsets within the segment file, u32
//   .. 8n previous position of the same stream (0 = first event of the stream), u64
//   .. s  stream entries: u16 id length, id bytes, u64 last position in this segment,
//         u32 events in this segment
//   end-8 8 XXH3-64 of every byte before it
#pragma once

#include <cstddef>
#include <cstdint>

namespace orderlog::format {

inline constexpr uint32_t kFormatVersion = 2;  // 2: the record's durable gap

inline constexpr char kSegmentMagic[8] = {'O', 'L', 'O', 'G', 'S', 'E', 'G', '\0'};
inline constexpr char kFooterMagic[8] = {'O', 'L', 'O', 'G', 'E', 'N', 'D', '\0'};
inline constexpr char kIndexMagic[8] = {'O', 'L', 'O', 'G', 'I', 'D', 'X', '\0'};

inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr size_t kRecordHeaderSize = 44;
inline constexpr size_t kFooterSize = 40;
inline constexpr size_t kIndexHeaderSize = 40;

// Offsets of the segment header fields.
namespace header {
inline constexpr size_t kMagic = 0;
inline constexpr size_t kVersion = 8;
inline constexpr size_t kFlags = 12;
inline constexpr size_t kBase = 16;
inline constexpr size_t kChecksum = 24;  // of the bytes before it
}  // namespace header

// Offsets of the segment footer fields, from the footer's first byte.
namespace footer {
inline constexpr size_t kMagic = 0;
inline constexpr size_t kRecordCount = 8;
inline constexpr size_t kLastPosition = 16;
inline constexpr size_t kSegmentChecksum = 24;
inline constexpr size_t kChecksum = 32;  // of the footer bytes before it
}  // namespace footer

// The .idx file: offsets of its header fields, then the sizes of what follows the header.
namespace idx {
inline constexpr size_t kMagic = 0;
inline constexpr size_t kVersion = 8;
inline constexpr size_t kStreamCount = 12;
inline constexpr size_t kBase = 16;
inline constexpr size_t kRecordCount = 24;
inline constexpr size_t kNewStreams = 32;  // streams whose first event is in the segment
inline constexpr size_t kReserved = 36;
inline constexpr size_t kOffsetSize = 4;  // each record's offset, u32
inline constexpr size_t kPrevSize = 8;    // each record's previous position in its stream, u64
inline constexpr size_t kEntryIdLengthSize = 2;  // a stream entry: u16 id length, the id,
inline constexpr size_t kEntryTailSize = 12;     // then u64 last position and u32 count
inline constexpr size_t kChecksumSize = 8;       // XXH3-64 of everything before it, at the end
// Where record i's offset and previous position are, in a file of n records.
constexpr size_t OffsetAt(uint64_t i) {
  return kIndexHeaderSize + kOffsetSize * i;
}
constexpr size_t PrevAt(uint64_t n, uint64_t i) {
  return kIndexHeaderSize + kOffsetSize * n + kPrevSize * i;
}
}  // namespace idx

// Offsets of the record header fields.
inline constexpr size_t kRecChecksum = 0;
inline constexpr size_t kRecLength = 8;
inline constexpr size_t kRecType = 12;
inline constexpr size_t kRecStreamLen = 14;
inline constexpr size_t kRecPosition = 16;
inline constexpr size_t kRecVersion = 24;
inline constexpr size_t kRecTimestamp = 32;
inline constexpr size_t kRecDurableGap = 40;
inline constexpr uint32_t kNoDurableClaim = 0xFFFFFFFF;

inline constexpr size_t kMaxStreamIdSize = 1024;
inline constexpr size_t kMaxPayloadSize = 16u << 20;  // 16 MiB
inline constexpr size_t kMaxRecordSize = kRecordHeaderSize + kMaxStreamIdSize + kMaxPayloadSize;

inline constexpr uint64_t kDefaultSegmentSize = 64ull << 20;  // 64 MiB
// Offsets within a segment are stored as u32 in the index.
inline constexpr uint64_t kMaxSegmentSize = 1ull << 31;

inline constexpr const char* kSegmentSuffix = ".seg";
inline constexpr const char* kIndexSuffix = ".idx";
// A segment created at a roll-over keeps this suffix after its name until the segment before it
// is sealed durably; a crash before that leaves it behind, and open deletes it (nothing in it was
// ever acknowledged as durable).
inline constexpr const char* kPendingSuffix = ".pending";
inline constexpr const char* kLockFileName = "LOCK";
// A zero-filled, fdatasynced file of segment_size bytes, prepared in the background to become
// the next segment (LogOptions::preallocate); written as kSpareFileName + ".tmp" and renamed
// once synced, so a file under this name is whole. Anything else ignores both names.
inline constexpr const char* kSpareFileName = "segment.spare";
inline constexpr const char* kSpareTempSuffix = ".tmp";
inline constexpr int kSegmentNameDigits = 20;

}  // namespace orderlog::format
