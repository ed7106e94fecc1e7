#include "engine/segment_index.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "engine/coding.h"
#include "engine/format.h"

namespace orderlog {

using coding::Get;
namespace f = format;

std::string EncodeSegmentIndex(Position base, const std::vector<uint32_t>& offsets,
                               const std::vector<uint64_t>& prevs,
                               const std::vector<SegmentStreamEntry>& streams) {
  std::string out;
  size_t size = f::idx::PrevAt(offsets.size(), offsets.size()) + f::idx::kChecksumSize;
  for (const auto& s : streams) {
    size += f::idx::kEntryIdLengthSize + s.id.size() + f::idx::kEntryTailSize;
  }
  out.reserve(size);
  // In the order of the fields (engine/format.h).
  out.append(f::kIndexMagic, sizeof(f::kIndexMagic));
  coding::Append<uint32_t>(&out, f::kFormatVersion);
  coding::Append<uint32_t>(&out, static_cast<uint32_t>(streams.size()));
  coding::Append<uint64_t>(&out, base.value);
  coding::Append<uint64_t>(&out, offsets.size());
  coding::Append<uint32_t>(&out, static_cast<uint32_t>(std::count(prevs.begin(), prevs.end(), 0)));
  coding::Append<uint32_t>(&out, 0);
  out.append(reinterpret_cast<const char*>(offsets.data()), offsets.size() * sizeof(uint32_t));
  out.append(reinterpret_cast<const char*>(prevs.data()), prevs.size() * sizeof(uint64_t));
  for (const auto& s : streams) {
    coding::Append<uint16_t>(&out, static_cast<uint16_t>(s.id.size()));
    out.append(s.id);
    coding::Append<uint64_t>(&out, s.last.value);
    coding::Append<uint32_t>(&out, s.count);
  }
  coding::Append<uint64_t>(&out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Status DecodeSegmentIndex(std::string_view bytes, const std::string& file, Position expected_base,
                          uint64_t expected_count, std::vector<uint32_t>* offsets,
                          std::vector<uint64_t>* prevs, std::vector<SegmentStreamEntry>* streams) {
  using namespace f::idx;
  auto bad = [&](size_t offset, const std::string& why) { return CorruptionAt(file, offset, why); };
  if (bytes.size() < f::kIndexHeaderSize + kChecksumSize) return bad(0, "index file is truncated");
  const size_t body = bytes.size() - kChecksumSize;
  if (Get<uint64_t>(bytes.data() + body) != XXH3_64bits(bytes.data(), body)) {
    return bad(body, "index checksum mismatch");
  }
  if (std::memcmp(bytes.data() + kMagic, f::kIndexMagic, sizeof(f::kIndexMagic)) != 0) {
    return bad(kMagic, "bad index magic");
  }
  if (Get<uint32_t>(bytes.data() + kVersion) != f::kFormatVersion) {
    return bad(kVersion, "unsupported version");
  }
  const uint32_t stream_count = Get<uint32_t>(bytes.data() + kStreamCount);
  if (Get<uint64_t>(bytes.data() + kBase) != expected_base.value) return bad(kBase, "wrong base");
  const uint64_t n = Get<uint64_t>(bytes.data() + kRecordCount);
  if (n != expected_count) return bad(kRecordCount, "record count differs from the segment footer");
  size_t p = f::kIndexHeaderSize;
  if (n > (body - p) / (kOffsetSize + kPrevSize)) return bad(p, "record arrays overrun the file");
  const uint32_t new_streams = Get<uint32_t>(bytes.data() + kNewStreams);
  p = PrevAt(n, n);
  // Filled in place (a caller checking segment after segment reuses the memory), emptied again
  // unless the whole file is valid.
  std::vector<SegmentStreamEntry>& entries = *streams;
  entries.clear();
  entries.reserve(stream_count);
  struct EmptyUnlessValid {
    std::vector<SegmentStreamEntry>& e;
    bool valid = false;
    ~EmptyUnlessValid() {
      if (!valid) e.clear();
    }
  } guard{entries};
  uint64_t counted = 0;
  for (uint32_t i = 0; i < stream_count; ++i) {
    if (p + kEntryIdLengthSize > body) return bad(p, "stream table overruns the file");
    const uint16_t len = Get<uint16_t>(bytes.data() + p);
    const size_t tail = p + kEntryIdLengthSize + len;  // the entry's last position and count
    if (len == 0 || tail + kEntryTailSize > body) return bad(p, "bad stream entry");
    SegmentStreamEntry e;
    e.id = bytes.substr(p + kEntryIdLengthSize, len);
    e.last = Position(Get<uint64_t>(bytes.data() + tail));
    e.count = Get<uint32_t>(bytes.data() + tail + sizeof(uint64_t));
    if (e.count == 0 || e.last < expected_base || e.last.value >= expected_base.value + n) {
      return bad(p, "stream entry out of range");
    }
    counted += e.count;
    entries.push_back(e);
    p = tail + kEntryTailSize;
  }
  if (p != body) return bad(p, "trailing bytes in index");
  if (counted != n) return bad(p, "stream counts do not add up to the record count");
  uint64_t firsts = 0;
  for (uint64_t i = 0; i < n; ++i) firsts += Get<uint64_t>(bytes.data() + PrevAt(n, i)) == 0;
  if (firsts != new_streams) return bad(kNewStreams, "new-stream count does not match the links");
  offsets->resize(n);
  prevs->resize(n);
  std::memcpy(offsets->data(), bytes.data() + OffsetAt(0), n * kOffsetSize);
  std::memcpy(prevs->data(), bytes.data() + PrevAt(n, 0), n * kPrevSize);
  guard.valid = true;
  return Status::Ok();
}

std::optional<uint32_t> ReadIndexNewStreams(Env* env, const std::string& path) {
  auto file = env->Open(path, OpenMode::kReadOnly);
  if (!file.ok()) return std::nullopt;
  char head[f::kIndexHeaderSize];
  size_t got = 0;
  if (!(*file)->ReadAt(0, sizeof(head), head, &got).ok() || got != sizeof(head)) {
    return std::nullopt;
  }
  return Get<uint32_t>(head + f::idx::kNewStreams);
}

}  // namespace orderlog
