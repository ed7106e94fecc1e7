// The file-system seam of the engine. Everything the log does to disk goes through Env and File,
// so tests can substitute an implementation that fails the Nth operation, writes short, runs out
// of space or "crashes" (drops what was not synced). See tests/support/fault_env.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace orderlog {

// An open file. ReadAt may be called from any thread at any time; the mutating calls are made by
// one thread at a time (the log's writer).
class File {
 public:
  virtual ~File() = default;
  // Writes all of `data` at `offset`. On failure some prefix of `data` may have been written.
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // Reads up to n bytes at offset; *got < n only at end of file.
  virtual Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* got) const = 0;
  // fdatasync: everything written so far survives a crash once this returns ok.
  virtual Status Sync() = 0;
  // Writes [offset, offset + n) back to the device and waits for it: no metadata, no cache flush,
  // so no durability promise (Sync gives that) — a way to pace a big write. Default: nothing.
  virtual Status WriteBack(uint64_t offset, uint64_t n) {
    (void)offset;
    (void)n;
    return Status::Ok();
  }
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

// Held for as long as the process may write to a data directory.
class DirLock {
 public:
  virtual ~DirLock() = default;
};

enum class OpenMode : unsigned char {
  kReadOnly,   // must exist
  kReadWrite,  // must exist
  kCreate,     // created if missing, read-write
};

class Env {
 public:
  virtual ~Env() = default;
  // The real POSIX file system. Never destroyed.
  static Env* Default();

  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  virtual Status CreateDirs(const std::string& dir) = 0;
  // Names (not paths) of the entries of dir.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // fsync of the directory itself, so created, renamed and removed names are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // An exclusive, non-blocking flock on path (created if missing). kLocked if someone holds it.
  virtual Result<std::unique_ptr<DirLock>> Lock(const std::string& path) = 0;
};

// Writes data to path atomically: temp file, fsync, rename, fsync of the directory.
Status WriteFileAtomically(Env* env, const std::string& dir, const std::string& name,
                           std::string_view data);
// Reads a whole file.
Result<std::string> ReadWholeFile(Env* env, const std::string& path);

// "a/b" + "c" -> "a/b/c".
std::string JoinPath(const std::string& dir, std::string_view name);

}  // namespace orderlog
