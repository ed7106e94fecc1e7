#include "tests/support/fault_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace orderlog::testing {

namespace {

class FaultFile final : public File {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<File> base, std::shared_ptr<FaultEnv::FileState> state)
      : env_(env), base_(std::move(base)), state_(std::move(state)) {}

  Status WriteAt(uint64_t offset, std::string_view data) override {
    size_t short_bytes = 0;
    Status s = env_->MaybeFail(FaultOp::kWrite, path(), &short_bytes);
    if (!s.ok()) {
      const size_t n = std::min(short_bytes, data.size());
      if (n > 0) env_->NoteOverwrite(*state_, *base_, offset, n);
      if (n > 0 && base_->WriteAt(offset, data.substr(0, n)).ok()) {
        env_->NoteWrite(*state_, offset + n);
      }
      return s;
    }
    env_->NoteOverwrite(*state_, *base_, offset, data.size());
    ORDERLOG_RETURN_IF_ERROR(base_->WriteAt(offset, data));
    env_->NoteWrite(*state_, offset + data.size());
    return Status::Ok();
  }
  Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* got) const override {
    return base_->ReadAt(offset, n, dst, got);
  }
  Status Sync() override {
    size_t unused = 0;
    ORDERLOG_RETURN_IF_ERROR(env_->MaybeFail(FaultOp::kSync, path(), &unused));
    env_->MaybeHold(path());
    ORDERLOG_RETURN_IF_ERROR(base_->Sync());
    env_->NoteSync(*state_);
    return Status::Ok();
  }
  Status WriteBack(uint64_t offset, uint64_t n) override {
    if (env_->crashed()) return Status::IOError("injected crash: write-back of " + path());
    return base_->WriteBack(offset, n);  // not a sync: nothing becomes durable here
  }
  Status Truncate(uint64_t size) override {
    if (env_->crashed()) return Status::IOError("injected crash: truncate of " + path());
    ORDERLOG_RETURN_IF_ERROR(base_->Truncate(size));
    env_->NoteTruncate(*state_, size);
    return Status::Ok();
  }
  Result<uint64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultEnv* env_;
  std::unique_ptr<File> base_;
  std::shared_ptr<FaultEnv::FileState> state_;  // follows the file through renames
};

bool Matches(FaultOp rule, FaultOp op) {
  return rule == FaultOp::kAny || rule == op;
}

}  // namespace

void FaultEnv::FailNth(FaultOp op, int n, StatusCode code, size_t short_bytes) {
  std::lock_guard lk(mu_);
  rule_ = Rule{op, n, code, short_bytes, true};
}

void FaultEnv::FailAlways(FaultOp op, StatusCode code, size_t short_bytes, std::string path_part) {
  std::lock_guard lk(mu_);
  rule_ = Rule{op, -1, code, short_bytes, true, false, std::move(path_part)};
}

void FaultEnv::CrashAtNth(FaultOp op, int n) {
  std::lock_guard lk(mu_);
  rule_ = Rule{op, n, StatusCode::kIOError, 0, true, true};
}

bool FaultEnv::crashed() const {
  std::lock_guard lk(mu_);
  return rule_.active && rule_.sticky && rule_.remaining == 0;
}

void FaultEnv::Reset() {
  std::lock_guard lk(mu_);
  rule_ = Rule{};
}

int FaultEnv::count(FaultOp op) const {
  std::lock_guard lk(mu_);
  auto it = counts_.find(op);
  return it == counts_.end() ? 0 : it->second;
}

Status FaultEnv::MaybeFail(FaultOp op, const std::string& path, size_t* short_bytes) {
  std::lock_guard lk(mu_);
  ++counts_[op];
  ++counts_[FaultOp::kAny];
  if (!rule_.active) return Status::Ok();
  if (rule_.sticky && rule_.remaining == 0) {
    // crashed: nothing reaches the disk any more
  } else {
    if (!Matches(rule_.op, op)) return Status::Ok();
    if (path.find(rule_.path_part) == std::string::npos) return Status::Ok();
    if (rule_.remaining > 0 && --rule_.remaining > 0) return Status::Ok();
    if (rule_.remaining == 0 && !rule_.sticky) rule_.active = false;  // a one-shot rule fires once
  }
  *short_bytes = rule_.short_bytes;
  failures_.fetch_add(1);
  static const char* const kOpNames[] = {"write", "fdatasync", "rename", "operation"};
  const std::string what =
      std::string("injected ") + kOpNames[static_cast<int>(op)] + " failure on " + path;
  return rule_.code == StatusCode::kNoSpace ? Status::NoSpace(what + ": No space left on device")
                                            : Status::IOError(what + ": Input/output error");
}

void FaultEnv::HoldSyncs(std::string path_part) {
  std::lock_guard lk(hold_mu_);
  hold_part_ = std::move(path_part);
}

void FaultEnv::ReleaseSyncs() {
  {
    std::lock_guard lk(hold_mu_);
    hold_part_.clear();
  }
  hold_cv_.notify_all();
}

bool FaultEnv::WaitUntilHeld(std::chrono::milliseconds timeout) {
  std::unique_lock lk(hold_mu_);
  return hold_cv_.wait_for(lk, timeout, [&] { return held_ > 0; });
}

void FaultEnv::MaybeHold(const std::string& path) {
  std::unique_lock lk(hold_mu_);
  auto holds = [&] { return !hold_part_.empty() && path.find(hold_part_) != std::string::npos; };
  if (!holds()) return;
  ++held_;
  hold_cv_.notify_all();
  hold_cv_.wait(lk, [&] { return !holds(); });
  --held_;
}

void FaultEnv::NoteWrite(FileState& st, uint64_t end) {
  std::lock_guard lk(mu_);
  st.size = std::max(st.size, end);
}

void FaultEnv::NoteOverwrite(FileState& st, const File& file, uint64_t offset, size_t n) {
  std::lock_guard lk(mu_);
  if (offset >= st.synced) return;
  std::string old(static_cast<size_t>(std::min<uint64_t>(n, st.synced - offset)), '\0');
  size_t got = 0;
  if (file.ReadAt(offset, old.size(), old.data(), &got).ok()) {
    old.resize(got);
    st.overwritten.emplace_back(offset, std::move(old));
  }
}

void FaultEnv::NoteSync(FileState& st) {
  std::lock_guard lk(mu_);
  st.synced = st.size;
  st.overwritten.clear();
}

void FaultEnv::NoteTruncate(FileState& st, uint64_t size) {
  std::lock_guard lk(mu_);
  st.size = size;
  st.synced = std::min(st.synced, size);
  for (auto& [off, bytes] : st.overwritten) {
    if (off >= size) {
      bytes.clear();
    } else if (off + bytes.size() > size) {
      bytes.resize(static_cast<size_t>(size - off));
    }
  }
}

Result<std::unique_ptr<File>> FaultEnv::Open(const std::string& path, OpenMode mode) {
  auto base = base_->Open(path, mode);
  if (!base.ok()) return base.status();
  auto size = (*base)->Size();
  std::shared_ptr<FileState> state;
  {
    std::lock_guard lk(mu_);
    auto& slot = files_[path];
    if (!slot) {
      const uint64_t n = size.ok() ? *size : 0;
      slot = std::make_shared<FileState>(FileState{n, n});
    }
    state = slot;
  }
  return std::unique_ptr<File>(
      std::make_unique<FaultFile>(this, std::move(base).value(), std::move(state)));
}

Status FaultEnv::SyncDir(const std::string& dir) {
  size_t unused = 0;
  ORDERLOG_RETURN_IF_ERROR(MaybeFail(FaultOp::kSync, dir, &unused));
  return base_->SyncDir(dir);
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  size_t unused = 0;
  ORDERLOG_RETURN_IF_ERROR(MaybeFail(FaultOp::kRename, from, &unused));
  ORDERLOG_RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard lk(mu_);
  if (auto it = files_.find(from); it != files_.end()) {
    files_[to] = it->second;
    files_.erase(it);
  }
  return Status::Ok();
}

Status FaultEnv::Remove(const std::string& path) {
  if (crashed()) return Status::IOError("injected crash: remove of " + path);
  ORDERLOG_RETURN_IF_ERROR(base_->Remove(path));
  std::lock_guard lk(mu_);
  files_.erase(path);
  return Status::Ok();
}

void FaultEnv::DropUnsyncedData(size_t keep_unsynced) {
  std::lock_guard lk(mu_);
  for (auto& [path, state] : files_) {
    FileState& st = *state;
    if (!st.overwritten.empty()) {
      // The unsynced overwrites span [lo, hi); all but its first and last keep_unsynced bytes go
      // back to their synced contents, newest write first.
      uint64_t lo = UINT64_MAX;
      uint64_t hi = 0;
      for (const auto& [off, bytes] : st.overwritten) {
        if (bytes.empty()) continue;
        lo = std::min(lo, off);
        hi = std::max<uint64_t>(hi, off + bytes.size());
      }
      const int fd = ::open(path.c_str(), O_WRONLY);
      for (auto it = st.overwritten.rbegin(); fd >= 0 && it != st.overwritten.rend(); ++it) {
        if (keep_unsynced == 0) {
          (void)!::pwrite(fd, it->second.data(), it->second.size(), static_cast<off_t>(it->first));
          continue;
        }
        for (uint64_t i = 0; i < it->second.size(); ++i) {
          const uint64_t at = it->first + i;
          if (keep_unsynced > 0 && (at < lo + keep_unsynced || at + keep_unsynced >= hi)) continue;
          if (::pwrite(fd, it->second.data() + i, 1, static_cast<off_t>(at)) != 1) break;
        }
      }
      if (fd >= 0) ::close(fd);
      st.overwritten.clear();
    }
    if (st.size <= st.synced) continue;
    const uint64_t keep = std::min<uint64_t>(st.size, st.synced + keep_unsynced);
    if (::truncate(path.c_str(), static_cast<off_t>(keep)) == 0) st.size = keep;
  }
}

}  // namespace orderlog::testing
