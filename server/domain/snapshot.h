// Snapshot files of the read model: header (magic, revision, position covered, body length,
// XXH3 of the body, header checksum) + the cereal body of ReadModel::Serialize.
//
//   0  8  magic "OLOGSNAP"
//   8  4  revision (kSnapshotRevision)
//   12 4  reserved (0)
//   16 8  log position the snapshot covers (every event <= it is folded in)
//   24 8  body length
//   32 8  XXH3-64 of the body
//   40 8  XXH3-64 of bytes 0..40
//   48 .. body
//
// Files are named snapshot-<20-digit position>.snap and written atomically (temp file, fsync,
// rename, directory fsync). The newest two are kept.
#pragma once

#include <string>
#include <vector>

#include "engine/env.h"
#include "engine/types.h"
#include "server/domain/read_model.h"

namespace orderlog::domain {

inline constexpr uint32_t kSnapshotRevision = 1;
inline constexpr size_t kSnapshotHeaderSize = 48;
// Offsets of the snapshot header fields (above).
namespace snapshot_header {
inline constexpr size_t kMagic = 0;
inline constexpr size_t kRevision = 8;
inline constexpr size_t kReserved = 12;
inline constexpr size_t kPosition = 16;
inline constexpr size_t kBodyLength = 24;
inline constexpr size_t kBodyChecksum = 32;
inline constexpr size_t kChecksum = 40;  // of the bytes before it
}  // namespace snapshot_header
inline constexpr size_t kSnapshotsKept = 2;

struct SnapshotInfo {
  std::string path;
  Position position;  // from the file name; the header's once checked
  uint32_t revision = 0;
  uint64_t bytes = 0;
  Status status;  // Ok when the header is valid (the body is checked on load)
};

std::string SnapshotFileName(Position position);
// Snapshot files of dir, newest first, with their headers checked.
std::vector<SnapshotInfo> ListSnapshots(Env* env, const std::string& dir);
// Writes the frozen model as a snapshot; returns its file size.
Result<uint64_t> WriteSnapshot(Env* env, const std::string& dir, const ReadModel::Frozen& frozen);
// Verifies the whole file (header, revision, body checksum) and loads it into model. Returns the
// position it covers. Any problem is an error saying why; the model is then unchanged.
Result<Position> LoadSnapshot(Env* env, const std::string& path, ReadModel* model);
// Verifies a snapshot file without loading it (for the inspection tool).
Status VerifySnapshot(Env* env, const std::string& path);
// Removes all but the newest `keep` snapshot files (and stray temp files).
Status PruneSnapshots(Env* env, const std::string& dir, size_t keep = kSnapshotsKept);

}  // namespace orderlog::domain
