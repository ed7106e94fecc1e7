// One segment file: its name, header, footer, and a sequential reader over its records.
// Layout in engine/format.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/env.h"
#include "engine/record.h"
#include "engine/types.h"

struct XXH3_state_s;

namespace orderlog {

std::string SegmentFileName(Position base);  // "00000000000000000001.seg"
std::string IndexFileName(Position base);    // "00000000000000000001.idx"
// Parses a segment file name; nullopt for anything else.
std::optional<Position> ParseSegmentFileName(std::string_view name);
// Base positions of the segment files in dir, ascending.
Result<std::vector<Position>> ListSegmentFiles(Env* env, const std::string& dir);

// What follows a record that does not decode, at `from`, up to `end`: tells a torn tail from
// corruption, and resyncs a check.
struct AfterDamage {
  bool zeros = false;  // every byte of [from, end) is zero (unwritten space, as in a spare)
  // The first valid record whose position is after `after`.
  std::optional<uint64_t> valid;
  // The first valid record (position after `after`) that was written when `damaged` was already
  // durable (its durable gap says so): the damaged record had been acknowledged, so the damage is
  // corruption, not a write the crash cut short. Only looked for when damaged > 0.
  std::optional<uint64_t> proof;
};
Result<AfterDamage> ScanAfterDamage(const File& file, uint64_t from, uint64_t end, Position after,
                                    Position damaged);

std::string EncodeSegmentHeader(Position base);
// Verifies magic, version and checksum. `file` names the file in the error.
Result<Position> DecodeSegmentHeader(std::string_view bytes, const std::string& file);

struct SegmentFooter {
  uint64_t record_count = 0;
  Position last_position;
  uint64_t segment_checksum = 0;  // XXH3-64 of every byte before the footer
};
std::string EncodeSegmentFooter(const SegmentFooter& footer);
// nullopt unless bytes is a footer with the right magic and checksum.
std::optional<SegmentFooter> DecodeSegmentFooter(std::string_view bytes);

// The reasons every reader of records in order gives for the same two faults (CorruptionAt or a
// check's problem carries them with the file and offset).
std::string OutOfSequence(Position expected, Position found);  // "expected position e, found f"
// "stream <id> version v does not follow p"
std::string VersionGap(std::string_view stream, uint64_t version, uint64_t previous);

// The frame of a segment file, its header and footer, validated by the one set of rules that
// opening a log and CheckLog both apply. The records in between are the caller's to read.
struct SegmentFrame {
  uint64_t size = 0;   // of the file
  std::string header;  // its first kSegmentHeaderSize bytes (fewer in a shorter file)
  // The base position the header names; nullopt when the header does not decode.
  std::optional<Position> header_base;
  // Ok when the header decodes and names the base the file name says; else where and why not.
  Status header_status;
  // The footer, when the file ends with one whose magic and checksum are valid: the segment is
  // sealed. footer_status says whether what it claims holds together (count and last position).
  std::optional<SegmentFooter> footer;
  Status footer_status;

  // Offset just past the records: the footer's offset, or the end of an unsealed file.
  uint64_t records_end() const;
};
// Fails only when the file cannot be read; damage is in the frame.
Status ReadSegmentFrame(const File& file, Position base, SegmentFrame* out);

// Reads the records of one segment file in order, in large chunks, verifying each checksum.
// Thread-compatible; the file may be appended to concurrently (only bytes below `end` are read).
class SegmentReader {
 public:
  enum class Next : unsigned char {
    kRecord,     // *rec is valid until the next call
    kEnd,        // reached `end` exactly at a record boundary
    kTruncated,  // the bytes up to `end` stop inside a record (torn tail if this is the end)
    kBad,        // the bytes at offset() are not a valid record
  };

  SegmentReader(const File* file, uint64_t start, uint64_t end);
  ~SegmentReader();
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // Reads into *buffer (its memory, handed back when the reader is destroyed) instead of a buffer
  // of its own: a caller reading file after file allocates and faults in the memory once. Call
  // before the first Read.
  void UseBuffer(std::string* buffer) {
    buf_.swap(*buffer);
    lent_ = buffer;
  }

  // Feeds every byte read from the file, in file order, to *state as well (XXH3_64bits_update):
  // a check gets the whole-segment checksum from the same pass. Call before the first Read.
  void HashInto(XXH3_state_s* state) { hash_ = state; }

  Next Read(RecordView* rec);
  // Offset of the record last returned, or of the problem for kTruncated/kBad.
  uint64_t offset() const { return offset_; }
  // Offset just past the last record returned.
  uint64_t next_offset() const { return next_; }
  const char* why() const { return why_; }
  const Status& io_status() const { return io_; }

 private:
  bool Fill(size_t need);

  const File* file_;
  uint64_t end_;
  uint64_t offset_ = 0;
  uint64_t next_ = 0;
  std::string buf_;
  uint64_t buf_start_ = 0;  // file offset of buf_[0]
  size_t buf_len_ = 0;
  const char* why_ = nullptr;
  Status io_;
  XXH3_state_s* hash_ = nullptr;
  std::string* lent_ = nullptr;
};

}  // namespace orderlog
