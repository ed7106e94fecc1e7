// `repair`: cut a torn tail or the log at its first damage, keeping what is cut.
#include "tools/inspect/report.h"

#include <ctime>

#include "engine/repair.h"

namespace orderlog::inspect {

namespace {

std::string UtcStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

int Repair(const std::string& dir, bool yes, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  auto plan = PlanRepair(Env::Default(), dir);
  if (!plan.ok()) {
    Err(plan.status().ToString());
    return kProblems;
  }
  // Snapshots the cut log would not support (or that are damaged) go aside with it.
  std::vector<std::string> snapshots_moved;
  for (const auto& s : CheckSnapshots(dir, plan->keep_last)) {
    if (!s.status.ok()) snapshots_moved.push_back(s.info.path);
  }
  const bool nothing = plan->nothing_to_do() && snapshots_moved.empty();
  const uint64_t lost = plan->highest_seen.value > plan->keep_last.value
                            ? plan->highest_seen.value - plan->keep_last.value
                            : 0;
  std::vector<std::string> lines;
  for (const auto& p : plan->problems) lines.push_back("problem: " + p.ToString());
  if (plan->cut) {
    lines.push_back("keep: positions 1.." + std::to_string(plan->keep_last.value));
    lines.push_back(lost ? "lose: positions " + std::to_string(plan->keep_last.value + 1) + ".." +
                               std::to_string(plan->highest_seen.value) + " (" +
                               std::to_string(lost) +
                               " events, counting every position seen past the damage)"
                         : "lose: no event (only bytes that are not a whole record)");
    lines.push_back((plan->cut_offset == 0 ? "remove: " + plan->cut_file
                                           : "cut: " + plan->cut_file + " at offset " +
                                                 std::to_string(plan->cut_offset)) +
                    " (" + std::to_string(plan->bytes_removed) + " bytes removed in all)");
  }
  for (const auto& f : plan->files_moved) lines.push_back("move aside: " + f);
  for (const auto& f : snapshots_moved) lines.push_back("move aside: " + f);
  const std::string side = JoinPath(dir, "repair-" + UtcStamp());
  if (nothing) lines.push_back("nothing to repair");
  Status applied;
  if (!nothing && yes) {
    applied = ApplyRepair(Env::Default(), dir, *plan, side, snapshots_moved);
    lines.push_back(applied.ok() ? "repaired: everything removed is kept in " + side
                                 : "repair refused: " + applied.ToString());
  } else if (!nothing) {
    lines.push_back(
        "dry run: nothing changed; run again with --yes to repair (what is removed "
        "is kept in " +
        dir + "/repair-<time>/)");
  }
  Report messages = Report::List();
  for (const auto& l : lines) messages.Push(Report(l).Text(l));
  Report out = Report::Object();
  out.Add("needed", !nothing)
      .Add("applied", !nothing && yes && applied.ok())
      .Add("keep_last", plan->keep_last.value)
      .Add("events_lost", plan->cut ? lost : uint64_t{0})
      .Add("messages", std::move(messages));
  Print(out, json);
  if (nothing) return kOk;
  if (!yes) return kProblems;
  return applied.ok() ? kOk : kProblems;
}

}  // namespace orderlog::inspect
