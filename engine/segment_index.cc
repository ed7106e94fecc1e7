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
  size_t size = f::kIndexHeaderSize + offsets.size() * 12 + 8;
  for (const auto& s : streams) size += 2 + s.id.size() + 12;
  out.reserve(size);
  out.append(f::kIndexMagic, 8);
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
  auto bad = [&](size_t offset, const std::string& why) {
    return Status::Corruption(file + " offset " + std::to_string(offset) + ": " + why);
  };
  if (bytes.size() < f::kIndexHeaderSize + 8) return bad(0, "index file is truncated");
  const size_t body = bytes.size() - 8;
  if (Get<uint64_t>(bytes.data() + body) != XXH3_64bits(bytes.data(), body)) {
    return bad(body, "index checksum mismatch");
  }
  if (std::memcmp(bytes.data(), f::kIndexMagic, 8) != 0) return bad(0, "bad index magic");
  if (Get<uint32_t>(bytes.data() + 8) != f::kFormatVersion) return bad(8, "unsupported version");
  const uint32_t stream_count = Get<uint32_t>(bytes.data() + 12);
  if (Get<uint64_t>(bytes.data() + 16) != expected_base.value) return bad(16, "wrong base");
  const uint64_t n = Get<uint64_t>(bytes.data() + 24);
  if (n != expected_count) return bad(24, "record count differs from the segment footer");
  size_t p = f::kIndexHeaderSize;
  if (n > (body - p) / 12) return bad(p, "record arrays overrun the file");
  const uint32_t new_streams = Get<uint32_t>(bytes.data() + f::kIdxNewStreams);
  const size_t arrays = p;
  p += n * 12;
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
    if (p + 2 > body) return bad(p, "stream table overruns the file");
    const uint16_t len = Get<uint16_t>(bytes.data() + p);
    if (len == 0 || p + 2 + len + 12 > body) return bad(p, "bad stream entry");
    SegmentStreamEntry e;
    e.id = bytes.substr(p + 2, len);
    e.last = Position(Get<uint64_t>(bytes.data() + p + 2 + len));
    e.count = Get<uint32_t>(bytes.data() + p + 2 + len + 8);
    if (e.count == 0 || e.last < expected_base || e.last.value >= expected_base.value + n) {
      return bad(p, "stream entry out of range");
    }
    counted += e.count;
    entries.push_back(e);
    p += 2 + len + 12;
  }
  if (p != body) return bad(p, "trailing bytes in index");
  if (counted != n) return bad(p, "stream counts do not add up to the record count");
  const auto* prev_bytes = bytes.data() + arrays + n * 4;
  uint64_t firsts = 0;
  for (uint64_t i = 0; i < n; ++i) firsts += Get<uint64_t>(prev_bytes + i * 8) == 0;
  if (firsts != new_streams) {
    return bad(f::kIdxNewStreams, "new-stream count does not match the links");
  }
  offsets->resize(n);
  prevs->resize(n);
  std::memcpy(offsets->data(), bytes.data() + arrays, n * 4);
  std::memcpy(prevs->data(), bytes.data() + arrays + n * 4, n * 8);
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
  return Get<uint32_t>(head + f::kIdxNewStreams);
}

}  // namespace orderlog
