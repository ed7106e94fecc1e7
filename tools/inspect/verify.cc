// `verify`: every record, segment, index file and snapshot.
#include "tools/inspect/report.h"

#include <chrono>
#include <future>

namespace orderlog::inspect {

using Clock = std::chrono::steady_clock;

int Verify(const std::string& dir, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  const auto t0 = Clock::now();
  auto last_line = t0;
  CheckOptions opt;
  opt.progress = [&](uint64_t done, uint64_t total) {
    const auto now = Clock::now();
    if (now - last_line < std::chrono::seconds(1) || done >= total) return;
    last_line = now;
    std::fprintf(stderr, "verify: %s of %s (%.0f%%)\n", HumanBytes(done).c_str(),
                 HumanBytes(total).c_str(), 100.0 * static_cast<double>(done) / total);
  };
  // Snapshots are verified on the other core while the log is checked.
  auto snapshot_check =
      std::async(std::launch::async, [&dir] { return CheckSnapshots(dir, Position(UINT64_MAX)); });
  auto report = CheckLog(Env::Default(), dir, opt);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto snaps = snapshot_check.get();
  if (!report.ok()) {
    Err(report.status().ToString());
    return kUnusable;
  }
  // ... and against the log's end, damaged or not.
  const Position log_end =
      report->highest_seen.value > report->last.value ? report->highest_seen : report->last;
  MarkAheadOfLog(&snaps, log_end);
  size_t bad_snaps = 0;
  for (const auto& s : snaps) bad_snaps += !s.status.ok();
  const bool clean = report->problems.empty() && bad_snaps == 0;
  Report problems = Report::List();
  for (const auto& p : report->problems) problems.Push(ProblemReport(p));
  Report snapshots = Report::List();
  for (const auto& snap : snaps) snapshots.Push(SnapshotReport(snap, false));
  Report out = Report::Object();
  const std::string verdict =
      clean ? "yes" : "no, " + std::to_string(report->problems.size() + bad_snaps) + " problems";
  out.Add("clean", Report(clean).Text(verdict))
      .Add("records", report->records)
      .Add("segments", uint64_t{report->segments.size()})
      .Add("bytes", BytesReport(report->bytes))
      .Add("streams", report->streams)
      .Add("last_clean_position", report->last.value)
      .Add("seconds", seconds)
      .Add("problems", std::move(problems))
      .Add("snapshots", std::move(snapshots));
  Print(out, json);
  return clean ? kOk : kProblems;
}

}  // namespace orderlog::inspect
