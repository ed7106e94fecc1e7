// Repair of a damaged log: cut it at the end of its clean prefix (the records before the first
// damaged one), keeping every byte removed in a side directory. Used by `orderlog-inspect repair`.
//
// The plan is computed by a full check (engine/check.h) and touches nothing. Applying it takes the
// directory lock (so never while a server runs), checks again, then: copies the cut bytes of the
// segment holding the cut into the side directory, moves every later segment and .idx file there
// (newest first, so a crash midway leaves a shorter clean log, and running repair again goes on),
// truncates that segment (removing its footer and .idx: it becomes the active segment), and
// fsyncs. Bad .idx files elsewhere are moved aside too (the next open rebuilds them).
#pragma once

#include <string>
#include <vector>

#include "engine/check.h"
#include "engine/env.h"
#include "engine/status.h"
#include "engine/types.h"

namespace orderlog {

struct RepairPlan {
  bool cut = false;                  // the log must be cut
  std::vector<LogProblem> problems;  // every problem the check found
  Position keep_last;                // records 1..keep_last stay
  Position highest_seen;    // the highest position found anywhere (lost: keep_last+1..this)
  std::string cut_file;     // the segment that is truncated (or removed, at offset 0)
  uint64_t cut_offset = 0;  // bytes from here on are removed
  uint64_t bytes_removed = 0;
  std::vector<std::string> files_moved;  // whole files moved to the side directory
  bool nothing_to_do() const { return !cut && files_moved.empty(); }
};

Result<RepairPlan> PlanRepair(Env* env, const std::string& dir);

// Applies a plan made by PlanRepair (refused with kFailedPrecondition if the log changed since),
// keeping what it removes under side_dir (created). kLocked if a server holds the directory.
// extra_files (the domain's snapshots beyond the cut, say) are moved aside too, under the lock.
Status ApplyRepair(Env* env, const std::string& dir, const RepairPlan& plan,
                   const std::string& side_dir, const std::vector<std::string>& extra_files = {});

}  // namespace orderlog
