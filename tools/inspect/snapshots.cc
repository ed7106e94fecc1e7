// `snapshots`: snapshot files, and the snapshot checks verify shares.
#include "tools/inspect/inspect.h"

namespace orderlog::inspect {

// A snapshot covering positions the log does not have cannot be loaded on it.
void MarkAheadOfLog(std::vector<SnapshotCheck>* snaps, Position log_last) {
  for (auto& s : *snaps) {
    if (s.status.ok() && s.info.position > log_last) {
      s.status = Status::Corruption(s.info.path + " offset 16: covers position " +
                                    std::to_string(s.info.position.value) +
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

void SnapshotJson(JsonWriter& w, const SnapshotCheck& s, bool detailed) {
  w.StartObject();
  Key(w, "file");
  Str(w, s.info.path);
  Key(w, "position");
  w.Uint64(s.info.position.value);
  if (detailed) {
    Key(w, "revision");
    w.Uint(s.info.revision);
    Key(w, "bytes");
    w.Uint64(s.info.bytes);
  }
  Key(w, "valid");
  w.Bool(s.status.ok());
  if (!s.status.ok()) {
    Key(w, "problem");
    Str(w, s.status.message());
  }
  w.EndObject();
}

int Snapshots(const std::string& dir, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  const auto snaps = CheckSnapshots(dir, report->highest_seen);
  bool all_valid = true;
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartArray();
      for (const auto& s : snaps) SnapshotJson(w, s, true);
      w.EndArray();
    }));
  }
  for (const auto& s : snaps) {
    all_valid &= s.status.ok();
    if (json) continue;
    Out(s.info.path.substr(s.info.path.rfind('/') + 1) + "  position " +
        std::to_string(s.info.position.value) + "  revision " + std::to_string(s.info.revision) +
        "  " + HumanBytes(s.info.bytes) + "  " +
        (s.status.ok() ? std::string("valid") : "INVALID: " + s.status.message()));
  }
  if (!json && snaps.empty()) Out("no snapshots");
  return all_valid ? kOk : kProblems;
}

}  // namespace orderlog::inspect
