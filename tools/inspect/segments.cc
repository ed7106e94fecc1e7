// `segments`: every segment file, its positions, records, bytes, state and index.
#include "tools/inspect/report.h"

namespace orderlog::inspect {

int Segments(const std::string& dir, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  Report list = Report::List();
  for (const auto& s : report->segments) {
    auto when = [&](int64_t ms) {
      return s.records ? Report(FormatTimestamp(ms)) : Report::Null();
    };
    Report seg = Report::Object();
    seg.Add("file", FileReport(s.path))
        .Add("base", s.base.value)
        .Add("last", s.last.value)
        .Add("records", s.records)
        .Add("bytes", BytesReport(s.bytes))
        .Add("state", s.sealed ? "sealed" : "active")
        .Add("first_timestamp", when(s.first_timestamp_ms))
        .Add("last_timestamp", when(s.last_timestamp_ms))
        .Add("index", s.sealed ? IndexFileStateName(s.index) : "none");
    if (!s.index_problem.empty()) seg.Add("index_problem", s.index_problem);
    list.Push(std::move(seg));
  }
  Print(list, json);
  // The table's total line: text only, the JSON array is the segments alone.
  if (!json) {
    Out(std::to_string(report->segments.size()) + " segments, " + std::to_string(report->records) +
        " records, " + HumanBytes(report->bytes));
  }
  for (const auto& p : report->problems) Err("problem: " + p.ToString());
  return report->problems.empty() ? kOk : kProblems;
}

}  // namespace orderlog::inspect
