// `dump`: records in position order, decoded, one per line.
#include "tools/inspect/inspect.h"

namespace orderlog::inspect {

namespace {

std::optional<uint16_t> ParseType(const std::string& t) {
  if (t == "OrderCreated") return static_cast<uint16_t>(EventType::kOrderCreated);
  if (t == "OrderStatusChanged") return static_cast<uint16_t>(EventType::kOrderStatusChanged);
  if (!t.empty() && t.size() <= 5 && t.find_first_not_of("0123456789") == std::string::npos) {
    const unsigned long v = std::stoul(t);
    if (v <= 0xFFFF) return static_cast<uint16_t>(v);
  }
  return std::nullopt;
}

}  // namespace

int Dump(const std::string& dir, const DumpFilter& f, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  std::optional<uint16_t> type;
  if (!f.type.empty()) {
    type = ParseType(f.type);
    if (!type) {
      Err("--type: OrderCreated, OrderStatusChanged or a type number, not " + f.type);
      return kUnusable;
    }
  }
  auto cursor = LogCursor::Open(Env::Default(), dir, Position(f.from == 0 ? 0 : f.from - 1));
  if (!cursor.ok()) {
    Err(cursor.status().ToString());
    return kUnusable;
  }
  uint64_t printed = 0;
  RecordView rec;
  LogCursor::Next r;
  while (printed < f.limit && (r = (*cursor)->Read(&rec)) == LogCursor::Next::kRecord) {
    if (rec.position.value > f.to) break;
    if (!f.order.empty() && rec.stream != f.order) continue;
    if (type && rec.type != *type) continue;
    Out(EventLine(rec, json));
    ++printed;
  }
  std::fflush(stdout);
  if (printed < f.limit && r == LogCursor::Next::kProblem) {
    Err("problem: " + (*cursor)->problem().ToString());
    return kProblems;
  }
  if (auto tail = (*cursor)->pending_tail()) Err("note: " + *tail);
  return kOk;
}

}  // namespace orderlog::inspect
