// OrderService's queries that read the log: an order's history, the global feed, and time
// travel (an order's state at a version or an instant, folded from its events).
#include "server/domain/order_service.h"

namespace orderlog::domain {

Result<OrderEventRecord> ToOrderEventRecord(const RecordView& rec) {
  auto decoded = DecodeEvent(rec.type, rec.payload);
  if (!decoded.ok()) {
    return Status::Corruption("position " + std::to_string(rec.position.value) + ": " +
                              decoded.status().message());
  }
  return OrderEventRecord{
      rec.position,     rec.version.value,       static_cast<EventType>(rec.type),
      rec.timestamp_ms, std::string(rec.stream), std::move(decoded).value()};
}

namespace {
Result<OrderEventRecord> ToRecord(const Event& ev) {
  return ToOrderEventRecord(
      RecordView{ev.position, ev.version, ev.type, ev.timestamp_ms, ev.stream, ev.payload, 0});
}
}  // namespace

Result<std::vector<OrderEventRecord>> OrderService::ReadOrder(std::string_view order_id) const {
  if (!OrderId::Parse(order_id)) return Status::NotFound("Order not found");
  std::vector<Event> events;
  ORDERLOG_RETURN_IF_ERROR(log_->ReadStream(order_id, StreamVersion(1), SIZE_MAX, &events));
  if (events.empty()) return Status::NotFound("Order not found");
  std::vector<OrderEventRecord> out;
  out.reserve(events.size());
  for (const auto& ev : events) {
    auto rec = ToRecord(ev);
    if (!rec.ok()) return rec.status();
    out.push_back(std::move(rec).value());
  }
  return out;
}

Status OrderService::History(std::string_view order_id, std::vector<OrderEventRecord>* out) const {
  auto events = ReadOrder(order_id);
  if (!events.ok()) return events.status();
  *out = std::move(events).value();
  return Status::Ok();
}

Status OrderService::Feed(Position after, size_t limit, std::vector<OrderEventRecord>* out) const {
  std::vector<Event> events;
  ORDERLOG_RETURN_IF_ERROR(log_->ReadRange(after, limit, &events));
  for (const auto& ev : events) {
    auto rec = ToRecord(ev);
    if (!rec.ok()) return rec.status();
    out->push_back(std::move(rec).value());
  }
  return Status::Ok();
}

Result<OrderState> OrderService::GetAtVersion(std::string_view order_id, uint64_t n) const {
  auto events = ReadOrder(order_id);
  if (!events.ok()) return events.status();
  if (n == 0 || n > events->size()) {
    return Status::NotFound("Order " + std::string(order_id) + " has no version " +
                            std::to_string(n));
  }
  OrderState state;
  state.id = *OrderId::Parse(order_id);
  for (uint64_t i = 0; i < n; ++i) {
    const auto& e = (*events)[i];
    ORDERLOG_RETURN_IF_ERROR(ApplyEvent(&state, e.event, e.version, e.timestamp_ms));
  }
  return state;
}

Result<OrderState> OrderService::GetAsOf(std::string_view order_id, int64_t unix_ms) const {
  auto events = ReadOrder(order_id);
  if (!events.ok()) return events.status();
  OrderState state;
  state.id = *OrderId::Parse(order_id);
  for (const auto& e : *events) {
    if (e.timestamp_ms > unix_ms) break;
    ORDERLOG_RETURN_IF_ERROR(ApplyEvent(&state, e.event, e.version, e.timestamp_ms));
  }
  if (state.version == 0) return Status::NotFound("Order did not exist yet at that time");
  return state;
}

}  // namespace orderlog::domain
