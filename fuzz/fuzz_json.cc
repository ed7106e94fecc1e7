// Request bodies: the strict JSON object parser and the integer literal parser take any bytes
// and either parse them or give a reason (the 400's detail).
#include <cstdint>
#include <string>

#include "server/http/json_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto parsed = orderlog::http::ParseJsonObject(body);
  if (!parsed.object && parsed.error.empty()) __builtin_trap();
  (void)orderlog::http::ParseIntegerLiteral(body);
  return 0;
}
