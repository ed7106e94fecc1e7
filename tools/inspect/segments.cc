// `segments`: every segment file, its positions, records, bytes, state and index.
#include "tools/inspect/inspect.h"

namespace orderlog::inspect {

int Segments(const std::string& dir, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartArray();
      for (const auto& s : report->segments) {
        w.StartObject();
        Key(w, "file");
        Str(w, s.path);
        Key(w, "base");
        w.Uint64(s.base.value);
        Key(w, "last");
        w.Uint64(s.last.value);
        Key(w, "records");
        w.Uint64(s.records);
        Key(w, "bytes");
        w.Uint64(s.bytes);
        Key(w, "state");
        Str(w, s.sealed ? "sealed" : "active");
        Key(w, "first_timestamp");
        s.records ? Str(w, FormatTimestamp(s.first_timestamp_ms)) : (void)w.Null();
        Key(w, "last_timestamp");
        s.records ? Str(w, FormatTimestamp(s.last_timestamp_ms)) : (void)w.Null();
        Key(w, "index");
        Str(w, s.sealed ? IndexFileStateName(s.index) : "none");
        if (!s.index_problem.empty()) {
          Key(w, "index_problem");
          Str(w, s.index_problem);
        }
        w.EndObject();
      }
      w.EndArray();
    }));
  } else {
    char line[512];
    std::snprintf(line, sizeof(line), "%-26s %12s %12s %10s %12s %-7s %-24s %-24s %s", "file",
                  "base", "last", "records", "bytes", "state", "first", "last written", "index");
    Out(line);
    for (const auto& s : report->segments) {
      const std::string name = s.path.substr(s.path.rfind('/') + 1);
      std::snprintf(line, sizeof(line),
                    "%-26s %12" PRIu64 " %12" PRIu64 " %10" PRIu64 " %12" PRIu64
                    " %-7s %-24s %-24s %s",
                    name.c_str(), s.base.value, s.last.value, s.records, s.bytes,
                    s.sealed ? "sealed" : "active", Ts(s.first_timestamp_ms).c_str(),
                    Ts(s.last_timestamp_ms).c_str(), s.sealed ? IndexFileStateName(s.index) : "-");
      Out(line);
    }
    Out(std::to_string(report->segments.size()) + " segments, " + std::to_string(report->records) +
        " records, " + HumanBytes(report->bytes));
  }
  for (const auto& p : report->problems) Err("problem: " + p.ToString());
  return report->problems.empty() ? kOk : kProblems;
}

}  // namespace orderlog::inspect
