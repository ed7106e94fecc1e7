// `stats`: events, orders, types, statuses, sizes, memory.
#include "tools/inspect/report.h"

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
  Report by_type_report = Report::Object();
  for (const auto& [type, n] : by_type) {
    by_type_report.Add(EventTypeName(type),
                       Report(n.first).Text(std::to_string(n.first) + "  " + HumanBytes(n.second)));
  }
  Report by_status_report = Report::Object();
  for (int s = 0; s < kStatusCount; ++s) {
    by_status_report.Add(StatusName(static_cast<OrderStatus>(s)), uint64_t{by_status[s]});
  }
  Report segment_list = Report::List();
  for (const auto& seg : segments) {
    Report row = Report::Object();
    row.Add("file", FileReport(seg.path))
        .Add("records", seg.records)
        .Add("bytes", BytesReport(seg.bytes))
        .Add("state", seg.sealed ? "sealed" : "active");
    segment_list.Push(std::move(row));
  }
  Report snapshot_positions = Report::List();
  for (const auto& snap : snaps) snapshot_positions.Push(snap.position.value);
  Report out = Report::Object();
  out.Add("events", events)
      .Add("orders", (*svc)->order_count())
      .Add("events_by_type", std::move(by_type_report))
      .Add("orders_by_status", std::move(by_status_report))
      .Add("segments", std::move(segment_list))
      .Add("average_record_bytes", events ? static_cast<double>(record_bytes) / events : 0.0)
      .Add("snapshot_positions", std::move(snapshot_positions))
      .Add("streams", ls.streams)
      .Add("index_memory_bytes", BytesReport(ls.index_memory_bytes))
      .Add("read_model_memory_bytes", BytesReport((*svc)->model().MemoryUsage()));
  Print(out, json);
  return kOk;
}

}  // namespace orderlog::inspect
