// Event payloads: the first byte picks the type; DecodeEvent accepts or refuses any bytes, and an
// accepted event re-encodes to the same payload.
#include <cstdint>
#include <string>

#include "server/domain/events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint16_t type = data[0] % 4;
  const std::string payload(reinterpret_cast<const char*>(data + 1), size - 1);
  auto decoded = orderlog::domain::DecodeEvent(type, payload);
  if (!decoded.ok()) return 0;
  std::string again =
      std::visit([](const auto& e) { return orderlog::domain::EncodeEvent(e); }, *decoded);
  if (again != payload) __builtin_trap();
  // Folding it into an empty order either works or is refused; never a crash.
  orderlog::domain::OrderState state;
  (void)orderlog::domain::ApplyEvent(&state, *decoded, 1, 0);
  return 0;
}
