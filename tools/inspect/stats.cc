// `stats`: events, orders, types, statuses, sizes, memory.
#include "tools/inspect/inspect.h"

#include <map>

namespace orderlog::inspect {

int Stats(const std::string& dir, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  ServiceOptions opt;
  opt.data_dir = dir;
  opt.log.read_only = true;
  opt.info = [](const std::string& line) { Err("stats: " + line); };
  StartupReport startup;
  auto svc = OrderService::Open(opt, &startup);
  if (!svc.ok()) {
    Err(svc.status().ToString());
    return kProblems;
  }
  const Log& log = (*svc)->log();
  for (const auto& p : log.open_problems()) Err("problem: " + p.ToString());
  const LogStats ls = log.Stats();
  const auto segments = log.Segments();
  // Events and bytes by type: one sequential pass.
  std::map<uint16_t, std::pair<uint64_t, uint64_t>> by_type;
  uint64_t record_bytes = 0;
  Status scanned = log.Scan(Position(0), [&](const RecordView& rec) {
    auto& t = by_type[rec.type];
    ++t.first;
    t.second += rec.length;
    record_bytes += rec.length;
    return true;
  });
  if (!scanned.ok()) Err("problem: " + scanned.ToString());
  std::array<size_t, kStatusCount> by_status{};
  for (int s = 0; s < kStatusCount; ++s) {
    ListFilter filter;
    filter.status = static_cast<OrderStatus>(s);
    (*svc)->List(filter, 0, 0, &by_status[s]);
  }
  const auto snaps = ListSnapshots(Env::Default(), dir);
  const uint64_t events = ls.committed.value;
  const uint64_t model_bytes = (*svc)->model().MemoryUsage();
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartObject();
      Key(w, "events");
      w.Uint64(events);
      Key(w, "orders");
      w.Uint64((*svc)->order_count());
      Key(w, "events_by_type");
      w.StartObject();
      for (const auto& [type, n] : by_type) {
        Key(w, EventTypeName(type));
        w.Uint64(n.first);
      }
      w.EndObject();
      Key(w, "orders_by_status");
      w.StartObject();
      for (int s = 0; s < kStatusCount; ++s) {
        Key(w, StatusName(static_cast<OrderStatus>(s)));
        w.Uint64(by_status[s]);
      }
      w.EndObject();
      Key(w, "segments");
      w.StartArray();
      for (const auto& seg : segments) {
        w.StartObject();
        Key(w, "file");
        Str(w, seg.path);
        Key(w, "records");
        w.Uint64(seg.records);
        Key(w, "bytes");
        w.Uint64(seg.bytes);
        w.EndObject();
      }
      w.EndArray();
      Key(w, "average_record_bytes");
      w.Double(events ? static_cast<double>(record_bytes) / events : 0);
      Key(w, "snapshot_positions");
      w.StartArray();
      for (const auto& s : snaps) w.Uint64(s.position.value);
      w.EndArray();
      Key(w, "index_memory_bytes");
      w.Uint64(ls.index_memory_bytes);
      Key(w, "read_model_memory_bytes");
      w.Uint64(model_bytes);
      w.EndObject();
    }));
    return kOk;
  }
  Out("events:      " + std::to_string(events) + " (last position " +
      std::to_string(ls.committed.value) + ")");
  for (const auto& [type, n] : by_type) {
    char line[128];
    std::snprintf(line, sizeof(line), "  %-20s %12" PRIu64 "  %s", EventTypeName(type), n.first,
                  HumanBytes(n.second).c_str());
    Out(line);
  }
  Out("orders:      " + std::to_string((*svc)->order_count()));
  for (int s = 0; s < kStatusCount; ++s) {
    char line[128];
    std::snprintf(line, sizeof(line), "  %-20s %12zu", StatusName(static_cast<OrderStatus>(s)),
                  by_status[s]);
    Out(line);
  }
  char avg[64];
  std::snprintf(avg, sizeof(avg), "%.1f", events ? static_cast<double>(record_bytes) / events : 0);
  Out("records:     average " + std::string(avg) + " bytes");
  Out("segments:    " + std::to_string(segments.size()));
  for (const auto& seg : segments) {
    Out("  " + seg.path.substr(seg.path.rfind('/') + 1) + "  " + std::to_string(seg.records) +
        " records  " + HumanBytes(seg.bytes) + (seg.sealed ? "  sealed" : "  active"));
  }
  std::string positions;
  for (const auto& s : snaps)
    positions += (positions.empty() ? "" : ", ") + std::to_string(s.position.value);
  Out("snapshots:   " + (snaps.empty() ? std::string("none") : "at positions " + positions));
  Out("memory:      index " + HumanBytes(ls.index_memory_bytes) + " (" +
      std::to_string(ls.streams) + " streams), read model " + HumanBytes(model_bytes));
  return kOk;
}

}  // namespace orderlog::inspect
