// The order events and their encoding: one schema-version byte, then a cereal binary archive.
// A reader refuses a schema version it does not know (the payload is reported, not guessed at).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "engine/status.h"
#include "server/domain/order.h"

namespace orderlog::domain {

enum class EventType : uint16_t { kOrderCreated = 1, kOrderStatusChanged = 2 };
inline constexpr uint8_t kEventSchemaVersion = 1;

const char* EventTypeName(uint16_t type);  // "OrderCreated", "OrderStatusChanged", "Unknown"

struct OrderCreated {
  std::string customer_id;
  std::string product;
  uint32_t quantity = 0;
  std::string idempotency_key;  // empty: none

  template <class Archive>
  void serialize(Archive& ar) {
    ar(customer_id, product, quantity, idempotency_key);
  }
};

struct OrderStatusChanged {
  OrderStatus old_status = OrderStatus::kProcessing;
  OrderStatus new_status = OrderStatus::kProcessing;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(old_status, new_status);
  }
};

using OrderEvent = std::variant<OrderCreated, OrderStatusChanged>;

std::string EncodeEvent(const OrderCreated& e);
std::string EncodeEvent(const OrderStatusChanged& e);
EventType TypeOf(const OrderEvent& e);
// Corruption if the type, schema version or bytes are not a valid event.
Result<OrderEvent> DecodeEvent(uint16_t type, std::string_view payload);

// Folds one event into an order's state (the event's version and timestamp come from the log).
// Corruption if the event cannot follow the state (a creation of an existing order, a status
// change of a missing one, an illegal transition).
Status ApplyEvent(OrderState* state, const OrderEvent& event, uint64_t version, int64_t ts_ms);

}  // namespace orderlog::domain
