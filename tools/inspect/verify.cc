// `verify`: every record, segment, index file and snapshot.
#include "tools/inspect/inspect.h"

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
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartObject();
      Key(w, "clean");
      w.Bool(clean);
      Key(w, "records");
      w.Uint64(report->records);
      Key(w, "segments");
      w.Uint64(report->segments.size());
      Key(w, "bytes");
      w.Uint64(report->bytes);
      Key(w, "streams");
      w.Uint64(report->streams);
      Key(w, "last_clean_position");
      w.Uint64(report->last.value);
      Key(w, "seconds");
      w.Double(seconds);
      Key(w, "problems");
      w.StartArray();
      for (const auto& p : report->problems) {
        w.StartObject();
        Key(w, "file");
        Str(w, p.file);
        Key(w, "offset");
        w.Uint64(p.offset);
        Key(w, "problem");
        Str(w, p.what);
        w.EndObject();
      }
      w.EndArray();
      Key(w, "snapshots");
      w.StartArray();
      for (const auto& s : snaps) SnapshotJson(w, s, false);
      w.EndArray();
      w.EndObject();
    }));
  } else {
    for (const auto& p : report->problems) Out(p.ToString());
    for (const auto& s : snaps) {
      if (!s.status.ok()) Out(s.status.message());
    }
    char line[256];
    std::snprintf(line, sizeof(line),
                  "verify: %" PRIu64 " records in %zu segments (%s), %" PRIu64
                  " streams, %zu snapshots: %s (log checked in %.2f s, %.1f M records/s)",
                  report->records, report->segments.size(), HumanBytes(report->bytes).c_str(),
                  report->streams, snaps.size(),
                  clean
                      ? "clean"
                      : (std::to_string(report->problems.size() + bad_snaps) + " problems").c_str(),
                  seconds, static_cast<double>(report->records) / seconds / 1e6);
    Out(line);
  }
  return clean ? kOk : kProblems;
}

}  // namespace orderlog::inspect
