// `snapshots`: snapshot files, and the snapshot checks verify shares.
#include "tools/inspect/report.h"

namespace orderlog::inspect {

// A snapshot covering positions the log does not have cannot be loaded on it.
void MarkAheadOfLog(std::vector<SnapshotCheck>* snaps, Position log_last) {
  for (auto& s : *snaps) {
    if (s.status.ok() && s.info.position > log_last) {
      s.status = CorruptionAt(s.info.path, snapshot_header::kPosition,
                              "covers position " + std::to_string(s.info.position.value) +
                                  " but the log ends at " + std::to_string(log_last.value));
    }
  }
}

std::vector<SnapshotCheck> CheckSnapshots(const std::string& dir, Position log_last) {
  std::vector<SnapshotCheck> out;
  for (auto& info : ListSnapshots(Env::Default(), dir)) {
    SnapshotCheck c{info, info.status};
    if (c.status.ok()) c.status = VerifySnapshot(Env::Default(), info.path);
    out.push_back(std::move(c));
  }
  MarkAheadOfLog(&out, log_last);
  return out;
}

Report SnapshotReport(const SnapshotCheck& s, bool detailed) {
  Report r = Report::Object();
  r.Add("file", FileReport(s.info.path)).Add("position", s.info.position.value);
  if (detailed)
    r.Add("revision", uint64_t{s.info.revision}).Add("bytes", BytesReport(s.info.bytes));
  r.Add("valid", Report(s.status.ok()).Text(s.status.ok() ? "valid" : "INVALID"));
  if (!s.status.ok()) r.Add("problem", s.status.message());
  return r;
}

int Snapshots(const std::string& dir, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  const auto snaps = CheckSnapshots(dir, report->highest_seen);
  bool all_valid = true;
  Report list = Report::List();
  for (const auto& s : snaps) {
    all_valid &= s.status.ok();
    list.Push(SnapshotReport(s, true));
  }
  if (!json && snaps.empty()) {
    Out("no snapshots");
  } else {
    Print(list, json);
  }
  return all_valid ? kOk : kProblems;
}

}  // namespace orderlog::inspect
