#include "server/domain/events.h"

#include "server/domain/text.h"

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>

#include <istream>
#include <ostream>
#include <streambuf>

namespace orderlog::domain {

namespace {

template <typename T>
std::string Encode(const T& event) {
  std::string out;
  out.reserve(64);
  out.push_back(static_cast<char>(kEventSchemaVersion));
  StringSink buf(&out);
  std::ostream os(&buf);
  {
    cereal::BinaryOutputArchive ar(os);
    ar(event);
  }
  return out;
}

// Reads a cereal string (size tag, then bytes) but refuses a length longer than the bytes left,
// before allocating: cereal's own loader would resize to whatever the length prefix says.
template <class Archive>
void LoadBoundedString(Archive& ar, std::streambuf& src, std::string* s) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  const auto left = src.in_avail();
  if (left < 0 || n > static_cast<cereal::size_type>(left)) {
    throw cereal::Exception("string length " + std::to_string(n) + " exceeds the " +
                            std::to_string(left < 0 ? 0 : left) + " bytes left");
  }
  s->resize(static_cast<size_t>(n));
  ar(cereal::binary_data(s->data(), s->size()));
}

template <class Archive>
void LoadFields(Archive& ar, std::streambuf& src, OrderCreated* e) {
  LoadBoundedString(ar, src, &e->customer_id);
  LoadBoundedString(ar, src, &e->product);
  ar(e->quantity);
  LoadBoundedString(ar, src, &e->idempotency_key);
}

template <class Archive>
void LoadFields(Archive& ar, std::streambuf& /*src*/, OrderStatusChanged* e) {
  ar(*e);  // fixed size: nothing to bound
}

template <typename T>
Result<OrderEvent> Decode(std::string_view body) {
  thread_local MemorySource buf;
  thread_local std::istream is(&buf);
  buf.Reset(body);
  is.clear();
  T event;
  try {
    cereal::BinaryInputArchive ar(is);
    LoadFields(ar, buf, &event);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("undecodable event payload: ") + e.what());
  }
  if (buf.in_avail() != 0) return Status::Corruption("trailing bytes after the event");
  return OrderEvent(std::move(event));
}

bool ValidStatus(OrderStatus s) {
  return static_cast<uint8_t>(s) < kStatusCount;
}

}  // namespace

const char* EventTypeName(uint16_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kOrderCreated:
      return "OrderCreated";
    case EventType::kOrderStatusChanged:
      return "OrderStatusChanged";
  }
  return "Unknown";
}

std::string EncodeEvent(const OrderCreated& e) {
  return Encode(e);
}
std::string EncodeEvent(const OrderStatusChanged& e) {
  return Encode(e);
}

EventType TypeOf(const OrderEvent& e) {
  return std::holds_alternative<OrderCreated>(e) ? EventType::kOrderCreated
                                                 : EventType::kOrderStatusChanged;
}

Result<OrderEvent> DecodeEvent(uint16_t type, std::string_view payload) {
  if (payload.empty()) return Status::Corruption("empty event payload");
  if (static_cast<uint8_t>(payload[0]) != kEventSchemaVersion) {
    return Status::Corruption("unknown event schema version " +
                              std::to_string(static_cast<uint8_t>(payload[0])));
  }
  payload.remove_prefix(1);
  switch (static_cast<EventType>(type)) {
    case EventType::kOrderCreated:
      return Decode<OrderCreated>(payload);
    case EventType::kOrderStatusChanged: {
      auto ev = Decode<OrderStatusChanged>(payload);
      if (ev.ok()) {
        const auto& c = std::get<OrderStatusChanged>(*ev);
        if (!ValidStatus(c.old_status) || !ValidStatus(c.new_status)) {
          return Status::Corruption("status out of range in OrderStatusChanged");
        }
      }
      return ev;
    }
  }
  return Status::Corruption("unknown event type " + std::to_string(type));
}

Status ApplyEvent(OrderState* state, const OrderEvent& event, uint64_t version, int64_t ts_ms) {
  if (version != state->version + 1) {
    return Status::Corruption("event version " + std::to_string(version) + " does not follow " +
                              std::to_string(state->version));
  }
  if (const auto* created = std::get_if<OrderCreated>(&event)) {
    if (state->version != 0) return Status::Corruption("OrderCreated for an existing order");
    state->customer_id = created->customer_id;
    state->product = created->product;
    state->quantity = created->quantity;
    state->status = OrderStatus::kProcessing;
    state->created_at_ms = ts_ms;
  } else {
    const auto& changed = std::get<OrderStatusChanged>(event);
    if (state->version == 0) return Status::Corruption("OrderStatusChanged before OrderCreated");
    if (changed.old_status != state->status ||
        !CanTransition(changed.old_status, changed.new_status)) {
      return Status::Corruption(std::string("illegal transition ") +
                                StatusName(changed.old_status) + " -> " +
                                StatusName(changed.new_status));
    }
    state->status = changed.new_status;
  }
  state->version = version;
  state->updated_at_ms = ts_ms;
  return Status::Ok();
}

}  // namespace orderlog::domain
