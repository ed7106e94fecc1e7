#include "engine/record.h"

#include <xxhash.h>

#include <cstdint>

#include "engine/coding.h"
#include "engine/format.h"

namespace orderlog {

using coding::Get;
using coding::Put;
namespace f = format;

size_t EncodedRecordSize(size_t stream_size, size_t payload_size) {
  return f::kRecordHeaderSize + stream_size + payload_size;
}

void EncodeRecord(std::string* out, const RecordView& rec) {
  const size_t length = EncodedRecordSize(rec.stream.size(), rec.payload.size());
  const size_t start = out->size();
  out->resize(start + length);
  char* p = out->data() + start;
  Put<uint32_t>(p + f::kRecLength, static_cast<uint32_t>(length));
  Put<uint16_t>(p + f::kRecType, rec.type);
  Put<uint16_t>(p + f::kRecStreamLen, static_cast<uint16_t>(rec.stream.size()));
  Put<uint64_t>(p + f::kRecPosition, rec.position.value);
  Put<uint64_t>(p + f::kRecVersion, rec.version.value);
  Put<int64_t>(p + f::kRecTimestamp, rec.timestamp_ms);
  Put<uint32_t>(p + f::kRecDurableGap, rec.durable_gap);
  // (An empty string_view may have a null data(), which memcpy must not be given even for 0 bytes.)
  if (!rec.stream.empty())
    std::memcpy(p + f::kRecordHeaderSize, rec.stream.data(), rec.stream.size());
  if (!rec.payload.empty()) {
    std::memcpy(p + f::kRecordHeaderSize + rec.stream.size(), rec.payload.data(),
                rec.payload.size());
  }
  Put<uint64_t>(p + f::kRecChecksum, XXH3_64bits(p + 8, length - 8));
}

DecodeResult DecodeRecord(const char* p, size_t available, RecordView* rec) {
  if (available < f::kRecordHeaderSize) return {DecodeOutcome::kTruncated, "partial record header"};
  const uint32_t length = Get<uint32_t>(p + f::kRecLength);
  const uint16_t stream_len = Get<uint16_t>(p + f::kRecStreamLen);
  if (length < f::kRecordHeaderSize + 1 || length > f::kMaxRecordSize) {
    return {DecodeOutcome::kBad, "record length out of range"};
  }
  if (stream_len == 0 || stream_len > f::kMaxStreamIdSize ||
      f::kRecordHeaderSize + stream_len > length) {
    return {DecodeOutcome::kBad, "stream id length out of range"};
  }
  if (length > available) return {DecodeOutcome::kTruncated, "partial record"};
  if (Get<uint64_t>(p + f::kRecChecksum) != XXH3_64bits(p + 8, length - 8)) {
    return {DecodeOutcome::kBad, "record checksum mismatch"};
  }
  rec->length = length;
  rec->type = Get<uint16_t>(p + f::kRecType);
  rec->position = Position(Get<uint64_t>(p + f::kRecPosition));
  rec->version = StreamVersion(Get<uint64_t>(p + f::kRecVersion));
  rec->timestamp_ms = Get<int64_t>(p + f::kRecTimestamp);
  rec->durable_gap = Get<uint32_t>(p + f::kRecDurableGap);
  rec->stream = std::string_view(p + f::kRecordHeaderSize, stream_len);
  rec->payload = std::string_view(p + f::kRecordHeaderSize + stream_len,
                                  length - f::kRecordHeaderSize - stream_len);
  return {DecodeOutcome::kOk, nullptr};
}

}  // namespace orderlog
