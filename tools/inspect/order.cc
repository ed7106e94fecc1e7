// `order`: one order's history and folded state.
#include "tools/inspect/inspect.h"

namespace orderlog::inspect {

int Order(const std::string& dir, const std::string& id, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  if (!OrderId::Parse(id)) {
    Err("not an order id (a lower-case UUID): " + id);
    return kUnusable;
  }
  LogOptions opt;
  opt.read_only = true;
  auto log = Log::Open(dir, opt);
  if (!log.ok()) {
    Err(log.status().ToString());
    return kUnusable;
  }
  for (const auto& p : (*log)->open_problems()) Err("problem: " + p.ToString());
  std::vector<Event> events;
  Status s = (*log)->ReadStream(id, StreamVersion(1), SIZE_MAX, &events);
  if (!s.ok()) {
    Err(s.ToString());
    return kProblems;
  }
  if (events.empty()) {
    Err("order " + id + " not found");
    return kProblems;
  }
  std::vector<OrderEventRecord> history;
  OrderState state;
  int rc = kOk;
  for (const auto& ev : events) {
    auto rec = ToOrderEventRecord(
        RecordView{ev.position, ev.version, ev.type, ev.timestamp_ms, ev.stream, ev.payload, 0});
    if (!rec.ok()) {
      Err("problem: " + rec.status().ToString());
      rc = kProblems;
      break;
    }
    Status applied = ApplyEvent(&state, rec->event, rec->version, rec->timestamp_ms);
    if (!applied.ok()) {
      Err("problem: position " + std::to_string(ev.position.value) + ": " + applied.message());
      rc = kProblems;
      break;
    }
    history.push_back(std::move(rec).value());
  }
  state.id = *OrderId::Parse(id);
  if (json) {
    Out("{\"order\":" + OrderJson(state) + ",\"events\":" + EventsJson(history, false) + "}");
  } else {
    for (const auto& ev : events) {
      Out(EventLine(
          RecordView{ev.position, ev.version, ev.type, ev.timestamp_ms, ev.stream, ev.payload, 0},
          false));
    }
    Out("state: " + id + " customer_id=" + state.customer_id + " product=" + state.product +
        " quantity=" + std::to_string(state.quantity) + " status=" + StatusName(state.status) +
        " version=" + std::to_string(state.version) +
        " created_at=" + FormatTimestamp(state.created_at_ms) +
        " updated_at=" + FormatTimestamp(state.updated_at_ms));
  }
  return rc;
}

}  // namespace orderlog::inspect
