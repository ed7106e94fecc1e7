// The record decoder: any bytes either decode to a record that re-encodes to exactly the same
// bytes, or are refused (kTruncated / kBad) — never a crash, never a read past the input.
#include <cstdint>
#include <cstring>
#include <string>

#include "engine/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Exactly `size` bytes on the heap, so ASan sees any read past the end.
  std::string buf(reinterpret_cast<const char*>(data), size);
  orderlog::RecordView rec;
  const auto r = orderlog::DecodeRecord(buf.data(), buf.size(), &rec);
  if (r.outcome == orderlog::DecodeOutcome::kOk) {
    std::string again;
    orderlog::EncodeRecord(&again, rec);
    if (again.size() != rec.length || std::memcmp(again.data(), buf.data(), rec.length) != 0) {
      __builtin_trap();  // a record that decodes must be exactly what encoding produces
    }
  } else if (r.why == nullptr) {
    __builtin_trap();  // every refusal says why
  }
  return 0;
}
