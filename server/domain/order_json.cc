#include "server/domain/order_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace orderlog::domain {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

template <typename W>
void Str(W& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

template <typename W>
void Order(W& w, const OrderState& o) {
  w.StartObject();
  Str(w, "customer_id");
  Str(w, o.customer_id);
  Str(w, "product");
  Str(w, o.product);
  Str(w, "quantity");
  w.Uint(o.quantity);
  Str(w, "order_id");
  Str(w, o.id.ToString());
  Str(w, "status");
  Str(w, StatusName(o.status));
  Str(w, "version");
  w.Uint64(o.version);
  Str(w, "created_at");
  Str(w, FormatTimestamp(o.created_at_ms));
  Str(w, "updated_at");
  Str(w, FormatTimestamp(o.updated_at_ms));
  w.EndObject();
}

// The members every event has, decoded or not; the caller closes the object.
template <typename W>
void OpenEvent(W& w, Position position, const std::string_view* order_id, uint64_t version,
               uint16_t type, int64_t timestamp_ms) {
  w.StartObject();
  Str(w, "position");
  w.Uint64(position.value);
  if (order_id != nullptr) {
    Str(w, "order_id");
    Str(w, *order_id);
  }
  Str(w, "version");
  w.Uint64(version);
  Str(w, "type");
  Str(w, EventTypeName(type));
  Str(w, "timestamp");
  Str(w, FormatTimestamp(timestamp_ms));
}

template <typename W>
void Event(W& w, const OrderEventRecord& e, bool with_order_id) {
  const std::string_view id = e.order_id;
  OpenEvent(w, e.position, with_order_id ? &id : nullptr, e.version, static_cast<uint16_t>(e.type),
            e.timestamp_ms);
  Str(w, "data");
  w.StartObject();
  if (const auto* c = std::get_if<OrderCreated>(&e.event)) {
    Str(w, "customer_id");
    Str(w, c->customer_id);
    Str(w, "product");
    Str(w, c->product);
    Str(w, "quantity");
    w.Uint(c->quantity);
    Str(w, "status");
    Str(w, StatusName(OrderStatus::kProcessing));
  } else {
    const auto& s = std::get<OrderStatusChanged>(e.event);
    Str(w, "old_status");
    Str(w, StatusName(s.old_status));
    Str(w, "new_status");
    Str(w, StatusName(s.new_status));
  }
  w.EndObject();
  w.EndObject();
}

std::string Take(const rapidjson::StringBuffer& b) {
  return std::string(b.GetString(), b.GetSize());
}

}  // namespace

namespace {

// RapidJSON's output stream concept over a std::string the caller owns.
struct AppendTo {
  using Ch = char;
  std::string* out;
  void Put(char c) { out->push_back(c); }
  void Flush() {}
};

}  // namespace

void AppendOrderJson(const OrderState& order, std::string* out) {
  AppendTo sink{out};
  rapidjson::Writer<AppendTo> w(sink);
  Order(w, order);
}

void AppendEventJson(const OrderEventRecord& event, bool with_order_id, std::string* out) {
  AppendTo sink{out};
  rapidjson::Writer<AppendTo> w(sink);
  Event(w, event, with_order_id);
}

std::string OrderJson(const OrderState& order) {
  rapidjson::StringBuffer b;
  Writer w(b);
  Order(w, order);
  return Take(b);
}

std::string OrdersJson(const std::vector<OrderState>& orders) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartArray();
  for (const auto& o : orders) Order(w, o);
  w.EndArray();
  return Take(b);
}

std::string EventsJson(const std::vector<OrderEventRecord>& events, bool with_order_id) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartArray();
  for (const auto& e : events) Event(w, e, with_order_id);
  w.EndArray();
  return Take(b);
}

std::string EventJson(const OrderEventRecord& event, bool with_order_id) {
  rapidjson::StringBuffer b;
  Writer w(b);
  Event(w, event, with_order_id);
  return Take(b);
}

std::string UndecodableEventJson(const RecordView& rec, const std::string& why,
                                 const std::string& payload_hex) {
  rapidjson::StringBuffer b;
  Writer w(b);
  OpenEvent(w, rec.position, &rec.stream, rec.version.value, rec.type, rec.timestamp_ms);
  Str(w, "type_code");
  w.Uint(rec.type);
  Str(w, "error");
  Str(w, why);
  Str(w, "payload_hex");
  Str(w, payload_hex);
  w.EndObject();
  return Take(b);
}

}  // namespace orderlog::domain
