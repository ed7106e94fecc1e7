// The snapshot body decoder (cereal behind our own range checks): any bytes load or are refused
// with Corruption, and a refused load leaves the model as it was.
#include <cstdint>
#include <string>

#include "server/domain/read_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  orderlog::domain::ReadModel model;
  orderlog::Status s = model.Deserialize(body, orderlog::Position(size));
  if (!s.ok() && model.order_count() != 0) __builtin_trap();
  if (s.ok()) {
    // What loaded serialises back and loads again to the same model.
    auto frozen = model.Freeze();
    const std::string again = orderlog::domain::ReadModel::Serialize(*frozen);
    frozen.reset();
    orderlog::domain::ReadModel second;
    if (!second.Deserialize(again, orderlog::Position(size)).ok()) __builtin_trap();
    if (second.order_count() != model.order_count()) __builtin_trap();
  }
  return 0;
}
