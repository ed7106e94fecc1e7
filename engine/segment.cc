#include "engine/segment.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "engine/checksum.h"
#include "engine/coding.h"
#include "engine/format.h"

namespace orderlog {

using coding::Get;
using coding::Put;
namespace f = format;

namespace {
std::string NumberedName(Position base, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%0*llu%s", f::kSegmentNameDigits,
                static_cast<unsigned long long>(base.value), suffix);
  return buf;
}
constexpr size_t kReadChunk = 1 << 20;
}  // namespace

std::string SegmentFileName(Position base) {
  return NumberedName(base, f::kSegmentSuffix);
}
std::string IndexFileName(Position base) {
  return NumberedName(base, f::kIndexSuffix);
}

std::optional<Position> ParseSegmentFileName(std::string_view name) {
  const std::string_view suffix = f::kSegmentSuffix;
  if (name.size() != f::kSegmentNameDigits + suffix.size()) return std::nullopt;
  if (name.substr(f::kSegmentNameDigits) != suffix) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < f::kSegmentNameDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0) return std::nullopt;
  return Position(v);
}

Result<std::vector<Position>> ListSegmentFiles(Env* env, const std::string& dir) {
  auto names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<Position> bases;
  for (const auto& name : *names) {
    if (auto base = ParseSegmentFileName(name)) bases.push_back(*base);
  }
  std::sort(bases.begin(), bases.end());
  return bases;
}

namespace {
// Index of the first non-zero byte of p[from, n), or n.
size_t NextNonZero(const char* p, size_t from, size_t n) {
  size_t i = from;
  for (; i < n && (i & 7) != 0; ++i) {
    if (p[i] != 0) return i;
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w != 0) break;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return i;
  }
  return n;
}
}  // namespace

Result<AfterDamage> ScanAfterDamage(const File& file, uint64_t from, uint64_t end, Position after,
                                    Position damaged) {
  AfterDamage out;
  if (from >= end) {
    out.zeros = true;
    return out;
  }
  std::string buf(end - from, '\0');
  size_t got = 0;
  ORDERLOG_RETURN_IF_ERROR(file.ReadAt(from, buf.size(), buf.data(), &got));
  const char* p = buf.data();
  out.zeros = NextNonZero(p, 0, got) == got;
  for (size_t i = 0; i + f::kRecordHeaderSize <= got;) {
    // A record's length field (bytes 8..12) is never zero: no record starts more than 11 bytes
    // before the next non-zero byte, so runs of zeros (a spare's unwritten space) are skipped.
    const size_t nz = NextNonZero(p, i, got);
    if (nz == got) break;
    if (nz > i + 11) {
      i = nz - 11;
      continue;
    }
    RecordView rec;
    if (DecodeRecord(p + i, got - i, &rec).outcome == DecodeOutcome::kOk && rec.position > after) {
      if (!out.valid) out.valid = from + i;
      if (damaged.value == 0) break;
      if (rec.durable_before() >= damaged.value) {
        out.proof = from + i;
        break;
      }
      i += rec.length;
      continue;
    }
    ++i;
  }
  return out;
}

std::string EncodeSegmentHeader(Position base) {
  std::string out(f::kSegmentHeaderSize, '\0');
  std::memcpy(out.data() + f::header::kMagic, f::kSegmentMagic, sizeof(f::kSegmentMagic));
  Put<uint32_t>(out.data() + f::header::kVersion, f::kFormatVersion);
  Put<uint32_t>(out.data() + f::header::kFlags, 0);
  Put<uint64_t>(out.data() + f::header::kBase, base.value);
  Put<uint64_t>(out.data() + f::header::kChecksum, XXH3_64bits(out.data(), f::header::kChecksum));
  return out;
}

Result<Position> DecodeSegmentHeader(std::string_view bytes, const std::string& file) {
  if (bytes.size() < f::kSegmentHeaderSize) {
    return CorruptionAt(file, 0, "segment header is truncated");
  }
  if (std::memcmp(bytes.data() + f::header::kMagic, f::kSegmentMagic, sizeof(f::kSegmentMagic)) !=
      0) {
    return CorruptionAt(file, f::header::kMagic, "not a segment file (bad magic)");
  }
  if (Get<uint64_t>(bytes.data() + f::header::kChecksum) !=
      XXH3_64bits(bytes.data(), f::header::kChecksum)) {
    return CorruptionAt(file, 0, "segment header checksum mismatch");
  }
  const uint32_t version = Get<uint32_t>(bytes.data() + f::header::kVersion);
  if (version != f::kFormatVersion) {
    return CorruptionAt(file, f::header::kVersion,
                        "unsupported segment format version " + std::to_string(version) +
                            " (this build reads version " + std::to_string(f::kFormatVersion) +
                            ")");
  }
  return Position(Get<uint64_t>(bytes.data() + f::header::kBase));
}

std::string EncodeSegmentFooter(const SegmentFooter& footer) {
  std::string out(f::kFooterSize, '\0');
  std::memcpy(out.data() + f::footer::kMagic, f::kFooterMagic, sizeof(f::kFooterMagic));
  Put<uint64_t>(out.data() + f::footer::kRecordCount, footer.record_count);
  Put<uint64_t>(out.data() + f::footer::kLastPosition, footer.last_position.value);
  Put<uint64_t>(out.data() + f::footer::kSegmentChecksum, footer.segment_checksum);
  Put<uint64_t>(out.data() + f::footer::kChecksum, XXH3_64bits(out.data(), f::footer::kChecksum));
  return out;
}

std::optional<SegmentFooter> DecodeSegmentFooter(std::string_view bytes) {
  if (bytes.size() != f::kFooterSize) return std::nullopt;
  if (std::memcmp(bytes.data() + f::footer::kMagic, f::kFooterMagic, sizeof(f::kFooterMagic)) !=
      0) {
    return std::nullopt;
  }
  if (Get<uint64_t>(bytes.data() + f::footer::kChecksum) !=
      XXH3_64bits(bytes.data(), f::footer::kChecksum)) {
    return std::nullopt;
  }
  SegmentFooter footer;
  footer.record_count = Get<uint64_t>(bytes.data() + f::footer::kRecordCount);
  footer.last_position = Position(Get<uint64_t>(bytes.data() + f::footer::kLastPosition));
  footer.segment_checksum = Get<uint64_t>(bytes.data() + f::footer::kSegmentChecksum);
  return footer;
}

std::string OutOfSequence(Position expected, Position found) {
  return "expected position " + std::to_string(expected.value) + ", found " +
         std::to_string(found.value);
}

std::string VersionGap(std::string_view stream, uint64_t version, uint64_t previous) {
  return "stream " + std::string(stream) + " version " + std::to_string(version) +
         " does not follow " + std::to_string(previous);
}

uint64_t SegmentFrame::records_end() const {
  return footer ? size - f::kFooterSize : size;
}

Status ReadSegmentFrame(const File& file, Position base, SegmentFrame* out) {
  auto size = file.Size();
  if (!size.ok()) return size.status();
  out->size = *size;
  out->header.assign(f::kSegmentHeaderSize, '\0');
  size_t got = 0;
  ORDERLOG_RETURN_IF_ERROR(file.ReadAt(0, out->header.size(), out->header.data(), &got));
  out->header.resize(got);
  auto header_base = DecodeSegmentHeader(out->header, file.path());
  if (!header_base.ok()) {
    out->header_status = header_base.status();
  } else {
    out->header_base = *header_base;
    if (*header_base != base) {
      out->header_status =
          CorruptionAt(file.path(), f::header::kBase,
                       "header says base position " + std::to_string(header_base->value));
    }
  }
  if (out->size < f::kSegmentHeaderSize + f::kFooterSize) return Status::Ok();
  const uint64_t at = out->size - f::kFooterSize;
  std::string tail(f::kFooterSize, '\0');
  ORDERLOG_RETURN_IF_ERROR(file.ReadAt(at, tail.size(), tail.data(), &got));
  out->footer = DecodeSegmentFooter(std::string_view(tail.data(), got));
  if (out->footer &&
      out->footer->last_position.value + 1 != base.value + out->footer->record_count) {
    out->footer_status = CorruptionAt(file.path(), at + f::footer::kRecordCount,
                                      "footer count and last position disagree");
  }
  return Status::Ok();
}

SegmentReader::SegmentReader(const File* file, uint64_t start, uint64_t end)
    : file_(file), end_(end), offset_(start), next_(start), buf_start_(start) {}

SegmentReader::~SegmentReader() {
  if (lent_ != nullptr) lent_->swap(buf_);
}

// Makes at least `need` bytes from next_ available in buf_ (fewer only at end_).
bool SegmentReader::Fill(size_t need) {
  const size_t have_from = static_cast<size_t>(next_ - buf_start_);
  if (buf_len_ >= have_from + need) return true;
  // Move the unread tail to the front, then read as much as fits.
  const size_t keep = buf_len_ - have_from;
  const size_t want = std::max(need, kReadChunk);
  if (buf_.size() < want) buf_.resize(want);
  std::memmove(buf_.data(), buf_.data() + have_from, keep);
  buf_start_ = next_;
  buf_len_ = keep;
  const uint64_t file_pos = buf_start_ + buf_len_;
  const size_t to_read =
      static_cast<size_t>(std::min<uint64_t>(buf_.size() - buf_len_, end_ - file_pos));
  size_t got = 0;
  io_ = file_->ReadAt(file_pos, to_read, buf_.data() + buf_len_, &got);
  if (!io_.ok()) return false;
  if (hash_ != nullptr) SegmentHashUpdate(hash_, buf_.data() + buf_len_, got);
  buf_len_ += got;
  return true;
}

SegmentReader::Next SegmentReader::Read(RecordView* rec) {
  offset_ = next_;
  if (next_ >= end_) return Next::kEnd;
  if (!Fill(f::kRecordHeaderSize)) return Next::kBad;
  size_t avail = buf_len_ - static_cast<size_t>(next_ - buf_start_);
  DecodeResult r = DecodeRecord(buf_.data() + (next_ - buf_start_), avail, rec);
  if (r.outcome == DecodeOutcome::kTruncated && avail >= f::kRecordHeaderSize) {
    // The header is here; read the whole record (it may be bigger than a chunk).
    const uint32_t length = Get<uint32_t>(buf_.data() + (next_ - buf_start_) + f::kRecLength);
    if (!Fill(length)) return Next::kBad;
    avail = buf_len_ - static_cast<size_t>(next_ - buf_start_);
    r = DecodeRecord(buf_.data() + (next_ - buf_start_), avail, rec);
  }
  why_ = r.why;
  switch (r.outcome) {
    case DecodeOutcome::kOk:
      next_ += rec->length;
      return Next::kRecord;
    case DecodeOutcome::kTruncated:
      return Next::kTruncated;
    case DecodeOutcome::kBad:
      return Next::kBad;
  }
  return Next::kBad;
}

}  // namespace orderlog
