// `tail`: the last events; with -f, follow the server as it appends.
#include "tools/inspect/inspect.h"

#include <chrono>
#include <csignal>
#include <thread>

namespace orderlog::inspect {

namespace {

volatile std::sig_atomic_t g_stop = 0;

}  // namespace

int Tail(const std::string& dir, uint64_t n, bool follow, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  const uint64_t last = report->last.value;
  auto cursor = LogCursor::Open(Env::Default(), dir, Position(last > n ? last - n : 0));
  if (!cursor.ok()) {
    Err(cursor.status().ToString());
    return kUnusable;
  }
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  RecordView rec;
  for (;;) {
    const auto r = (*cursor)->Read(&rec);
    if (r == LogCursor::Next::kRecord) {
      Out(EventLine(rec, json));
      continue;
    }
    std::fflush(stdout);
    if (r == LogCursor::Next::kProblem) {
      Err("problem: " + (*cursor)->problem().ToString());
      return kProblems;
    }
    if (!follow || g_stop) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return kOk;
}

}  // namespace orderlog::inspect
