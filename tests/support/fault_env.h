// An Env for tests that breaks things on purpose (leveldb's fault_injection_test, SQLite's
// I/O-error loops): fail the Nth write / sync / rename, make writes short (as a full disk does),
// and "crash" by dropping or tearing everything that was not fsynced.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/env.h"

namespace orderlog::testing {

enum class FaultOp : unsigned char { kWrite, kSync, kRename, kAny };

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env* base = Env::Default()) : base_(base) {}

  // The nth (1-based) operation of kind `op` from now on fails with `code` (kIOError or
  // kNoSpace). A failing write first writes `short_bytes` of its data, like a full disk.
  void FailNth(FaultOp op, int n, StatusCode code = StatusCode::kIOError, size_t short_bytes = 0);
  // Every matching operation (on a path containing `path_part`) fails from now on, until Reset().
  void FailAlways(FaultOp op, StatusCode code = StatusCode::kIOError, size_t short_bytes = 0,
                  std::string path_part = "");
  // The process "dies" at the nth operation of kind `op`: it and every operation after it, of any
  // kind, fail (nothing more reaches the disk) until Reset(). Follow with DropUnsyncedData() to
  // get the files a power loss at that moment leaves.
  void CrashAtNth(FaultOp op, int n);
  bool crashed() const;
  void Reset();
  int failures() const { return failures_.load(); }
  // Number of operations seen so far of each kind.
  int count(FaultOp op) const;

  // Every fdatasync of a file whose path contains path_part blocks until ReleaseSyncs(): holds
  // a writer (a snapshot, a seal) in the middle of its work while the test acts.
  void HoldSyncs(std::string path_part);
  void ReleaseSyncs();
  // Waits until a sync is being held; false after `timeout`.
  bool WaitUntilHeld(std::chrono::milliseconds timeout);

  // Simulates power loss: every file written through this env is cut back to its last synced
  // length, plus `keep_unsynced` bytes of what followed (a torn write), when keep_unsynced > 0;
  // bytes written over synced ones (a preallocated file) get their synced contents back, except,
  // with keep_unsynced > 0, the first keep_unsynced of them and the last keep_unsynced of them
  // (pages of one write reaching the disk out of order). Call only when no Log uses the files.
  void DropUnsyncedData(size_t keep_unsynced = 0);

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Status SyncDir(const std::string& dir) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<std::unique_ptr<DirLock>> Lock(const std::string& path) override {
    return base_->Lock(path);
  }

  struct FileState {
    uint64_t size = 0;    // bytes the file holds now
    uint64_t synced = 0;  // bytes that survive a crash
    // Synced bytes written over since the last sync: (offset, their synced contents), in order.
    std::vector<std::pair<uint64_t, std::string>> overwritten;
  };
  // Called by the files: returns the injected failure for this operation, if any.
  Status MaybeFail(FaultOp op, const std::string& path, size_t* short_bytes);
  void NoteWrite(FileState& st, uint64_t end);
  // Before a write of n bytes at offset: keeps what it overwrites of the synced bytes.
  void NoteOverwrite(FileState& st, const File& file, uint64_t offset, size_t n);
  void NoteSync(FileState& st);
  void NoteTruncate(FileState& st, uint64_t size);
  // Called by a file's Sync: blocks while HoldSyncs matches path.
  void MaybeHold(const std::string& path);

 private:
  struct Rule {
    FaultOp op = FaultOp::kAny;
    int remaining = 0;  // fails when it reaches 0; -1 = always
    StatusCode code = StatusCode::kIOError;
    size_t short_bytes = 0;
    bool active = false;
    bool sticky = false;    // once fired, every operation fails
    std::string path_part;  // only operations on paths containing this
  };

  Env* base_;
  mutable std::mutex mu_;
  Rule rule_;
  std::map<FaultOp, int> counts_;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // by current path
  std::atomic<int> failures_{0};

  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  std::string hold_part_;  // GUARDED_BY(hold_mu_); empty: nothing held
  int held_ = 0;           // GUARDED_BY(hold_mu_): syncs blocked right now
};

}  // namespace orderlog::testing
