#include "engine/repair.h"

#include <algorithm>

#include "engine/format.h"
#include "engine/record.h"
#include "engine/segment.h"

namespace orderlog {

namespace f = format;

namespace {

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The offset just past record `last` in the segment file (header size if last < base).
Result<uint64_t> EndOfRecord(Env* env, const std::string& path, Position base, Position last) {
  if (last < base) return uint64_t{f::kSegmentHeaderSize};
  auto file = env->Open(path, OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  SegmentReader reader(file->get(), f::kSegmentHeaderSize, *size);
  RecordView rec;
  while (reader.Read(&rec) == SegmentReader::Next::kRecord) {
    if (rec.position == last) return reader.next_offset();
  }
  return Status::Corruption(path + ": record " + std::to_string(last.value) +
                            " of the clean prefix is not readable any more");
}

}  // namespace

Result<RepairPlan> PlanRepair(Env* env, const std::string& dir) {
  if (env == nullptr) env = Env::Default();
  auto report = CheckLog(env, dir, CheckOptions{});
  if (!report.ok()) return report.status();
  RepairPlan plan;
  plan.problems = report->problems;
  plan.keep_last = report->last;
  plan.highest_seen = report->highest_seen;
  for (const auto& p : report->problems) {
    if (p.cut_position != 0) plan.cut = true;
  }
  for (const auto& seg : report->segments) {
    if (seg.index == IndexFileState::kInvalid) {
      plan.files_moved.push_back(JoinPath(dir, IndexFileName(seg.base)));
    }
  }
  if (!plan.cut) return plan;

  // The segment the cut falls in: the last one starting at or before keep_last + 1.
  const SegmentCheck* at = nullptr;
  for (const auto& seg : report->segments) {
    if (seg.base.value <= plan.keep_last.value + 1) at = &seg;
  }
  if (at == nullptr) return Status::Corruption(dir + ": no segment holds position 1");
  auto offset = EndOfRecord(env, at->path, at->base, plan.keep_last);
  if (!offset.ok()) return offset.status();
  plan.cut_file = at->path;
  // Nothing of the segment kept: remove the whole file (it may not even have a valid header).
  plan.cut_offset = plan.keep_last < at->base ? 0 : *offset;
  plan.bytes_removed = at->bytes - plan.cut_offset;
  bool after = false;
  for (const auto& seg : report->segments) {
    if (after) {
      plan.files_moved.push_back(seg.path);
      plan.bytes_removed += seg.bytes;
      const std::string idx = JoinPath(dir, IndexFileName(seg.base));
      if (env->Exists(idx) && std::find(plan.files_moved.begin(), plan.files_moved.end(), idx) ==
                                  plan.files_moved.end()) {
        plan.files_moved.push_back(idx);
      }
    }
    if (&seg == at) after = true;
  }
  const std::string at_idx = JoinPath(dir, IndexFileName(at->base));
  if (env->Exists(at_idx) && std::find(plan.files_moved.begin(), plan.files_moved.end(), at_idx) ==
                                 plan.files_moved.end()) {
    plan.files_moved.push_back(at_idx);
  }
  if (plan.cut_offset == 0) plan.files_moved.push_back(at->path);
  return plan;
}

Status ApplyRepair(Env* env, const std::string& dir, const RepairPlan& plan,
                   const std::string& side_dir, const std::vector<std::string>& extra_files) {
  if (env == nullptr) env = Env::Default();
  auto lock = env->Lock(JoinPath(dir, f::kLockFileName));
  if (!lock.ok()) {
    if (lock.status().code() == StatusCode::kLocked) {
      return Status::Locked("a server holds " + dir +
                            " (stop it first): " + lock.status().message());
    }
    return lock.status();
  }
  auto again = PlanRepair(env, dir);
  if (!again.ok()) return again.status();
  if (again->cut != plan.cut || again->keep_last != plan.keep_last ||
      again->cut_file != plan.cut_file || again->cut_offset != plan.cut_offset ||
      again->files_moved != plan.files_moved) {
    return Status::FailedPrecondition("the log changed since the plan was made; plan again");
  }
  if (plan.nothing_to_do() && extra_files.empty()) return Status::Ok();
  ORDERLOG_RETURN_IF_ERROR(env->CreateDirs(side_dir));

  // 1. Keep the bytes cut from the segment that stays.
  if (plan.cut && plan.cut_offset > 0) {
    auto src = env->Open(plan.cut_file, OpenMode::kReadWrite);
    if (!src.ok()) return src.status();
    auto size = (*src)->Size();
    if (!size.ok()) return size.status();
    if (*size > plan.cut_offset) {
      std::string bytes(*size - plan.cut_offset, '\0');
      size_t got = 0;
      ORDERLOG_RETURN_IF_ERROR((*src)->ReadAt(plan.cut_offset, bytes.size(), bytes.data(), &got));
      bytes.resize(got);
      ORDERLOG_RETURN_IF_ERROR(WriteFileAtomically(
          env, side_dir,
          BaseName(plan.cut_file) + ".from-offset-" + std::to_string(plan.cut_offset), bytes));
    }
  }
  // 2. Move whole files aside, newest first.
  std::vector<std::string> moving = plan.files_moved;
  moving.insert(moving.end(), extra_files.begin(), extra_files.end());
  std::sort(moving.rbegin(), moving.rend());
  for (const auto& path : moving) {
    ORDERLOG_RETURN_IF_ERROR(env->Rename(path, JoinPath(side_dir, BaseName(path))));
    ORDERLOG_RETURN_IF_ERROR(env->SyncDir(dir));
  }
  ORDERLOG_RETURN_IF_ERROR(env->SyncDir(side_dir));
  // 3. Cut.
  if (plan.cut && plan.cut_offset > 0) {
    auto file = env->Open(plan.cut_file, OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    ORDERLOG_RETURN_IF_ERROR((*file)->Truncate(plan.cut_offset));
    ORDERLOG_RETURN_IF_ERROR((*file)->Sync());
  }
  return env->SyncDir(dir);
}

}  // namespace orderlog
