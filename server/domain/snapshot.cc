#include "server/domain/snapshot.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "engine/coding.h"

namespace orderlog::domain {

namespace {

constexpr char kMagicBytes[8] = {'O', 'L', 'O', 'G', 'S', 'N', 'A', 'P'};
constexpr std::string_view kPrefix = "snapshot-";
constexpr std::string_view kSuffix = ".snap";

std::optional<Position> ParseName(std::string_view name) {
  if (name.size() != kPrefix.size() + 20 + kSuffix.size()) return std::nullopt;
  if (name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : name.substr(kPrefix.size(), 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return Position(v);
}

struct Header {
  uint32_t revision = 0;
  Position position;
  uint64_t body_length = 0;
  uint64_t body_checksum = 0;
};

Result<Header> DecodeHeader(std::string_view bytes, const std::string& path) {
  auto bad = [&](size_t offset, const std::string& why) { return CorruptionAt(path, offset, why); };
  if (bytes.size() < kSnapshotHeaderSize) return bad(0, "snapshot header is truncated");
  using namespace snapshot_header;
  if (std::memcmp(bytes.data() + kMagic, kMagicBytes, sizeof(kMagicBytes)) != 0) {
    return bad(kMagic, "not a snapshot (bad magic)");
  }
  if (coding::Get<uint64_t>(bytes.data() + kChecksum) != XXH3_64bits(bytes.data(), kChecksum)) {
    return bad(kChecksum, "snapshot header checksum mismatch");
  }
  Header h;
  h.revision = coding::Get<uint32_t>(bytes.data() + kRevision);
  h.position = Position(coding::Get<uint64_t>(bytes.data() + kPosition));
  h.body_length = coding::Get<uint64_t>(bytes.data() + kBodyLength);
  h.body_checksum = coding::Get<uint64_t>(bytes.data() + kBodyChecksum);
  return h;
}

// Checks everything but the body's meaning; returns the body.
Result<std::string_view> CheckFile(std::string_view bytes, const std::string& path,
                                   Header* header) {
  auto h = DecodeHeader(bytes, path);
  if (!h.ok()) return h.status();
  *header = *h;
  if (h->revision != kSnapshotRevision) {
    return Status::Corruption(path + " offset 8: snapshot revision " + std::to_string(h->revision) +
                              ", this build reads revision " + std::to_string(kSnapshotRevision));
  }
  if (bytes.size() - kSnapshotHeaderSize != h->body_length) {
    return Status::Corruption(path + ": snapshot is truncated (body " +
                              std::to_string(bytes.size() - kSnapshotHeaderSize) + " of " +
                              std::to_string(h->body_length) + " bytes)");
  }
  const std::string_view body = bytes.substr(kSnapshotHeaderSize);
  if (XXH3_64bits(body.data(), body.size()) != h->body_checksum) {
    return Status::Corruption(path + " offset 48: snapshot body checksum mismatch");
  }
  return body;
}

}  // namespace

std::string SnapshotFileName(Position position) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "snapshot-%020llu.snap",
                static_cast<unsigned long long>(position.value));
  return buf;
}

std::vector<SnapshotInfo> ListSnapshots(Env* env, const std::string& dir) {
  std::vector<SnapshotInfo> out;
  auto names = env->ListDir(dir);
  if (!names.ok()) return out;
  for (const auto& name : *names) {
    auto pos = ParseName(name);
    if (!pos) continue;
    SnapshotInfo info;
    info.path = JoinPath(dir, name);
    info.position = *pos;
    auto file = env->Open(info.path, OpenMode::kReadOnly);
    if (!file.ok()) {
      info.status = file.status();
    } else {
      auto size = (*file)->Size();
      info.bytes = size.ok() ? *size : 0;
      std::string head(kSnapshotHeaderSize, '\0');
      size_t got = 0;
      info.status = (*file)->ReadAt(0, head.size(), head.data(), &got);
      if (info.status.ok()) {
        auto h = DecodeHeader(std::string_view(head.data(), got), info.path);
        if (!h.ok()) {
          info.status = h.status();
        } else {
          info.revision = h->revision;
          if (h->position != info.position) {
            info.status = Status::Corruption(info.path + " offset 16: header says position " +
                                             std::to_string(h->position.value));
          }
        }
      }
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.position > b.position; });
  return out;
}

Result<uint64_t> WriteSnapshot(Env* env, const std::string& dir, const ReadModel::Frozen& frozen) {
  const std::string body = ReadModel::Serialize(frozen);
  std::string file(kSnapshotHeaderSize, '\0');
  using namespace snapshot_header;
  std::memcpy(file.data() + kMagic, kMagicBytes, sizeof(kMagicBytes));
  coding::Put<uint32_t>(file.data() + kRevision, kSnapshotRevision);
  coding::Put<uint32_t>(file.data() + kReserved, 0);
  coding::Put<uint64_t>(file.data() + kPosition, frozen.position().value);
  coding::Put<uint64_t>(file.data() + kBodyLength, body.size());
  coding::Put<uint64_t>(file.data() + kBodyChecksum, XXH3_64bits(body.data(), body.size()));
  coding::Put<uint64_t>(file.data() + kChecksum, XXH3_64bits(file.data(), kChecksum));
  file += body;
  ORDERLOG_RETURN_IF_ERROR(
      WriteFileAtomically(env, dir, SnapshotFileName(frozen.position()), file));
  return static_cast<uint64_t>(file.size());
}

Result<Position> LoadSnapshot(Env* env, const std::string& path, ReadModel* model) {
  auto bytes = ReadWholeFile(env, path);
  if (!bytes.ok()) return bytes.status();
  Header header;
  auto body = CheckFile(*bytes, path, &header);
  if (!body.ok()) return body.status();
  Status s = model->Deserialize(*body, header.position);
  if (!s.ok()) return Status::Corruption(path + ": " + s.message());
  return header.position;
}

Status VerifySnapshot(Env* env, const std::string& path) {
  auto bytes = ReadWholeFile(env, path);
  if (!bytes.ok()) return bytes.status();
  Header header;
  auto body = CheckFile(*bytes, path, &header);
  if (!body.ok()) return body.status();
  ReadModel scratch;
  Status s = scratch.Deserialize(*body, header.position);
  return s.ok() ? s : Status::Corruption(path + ": " + s.message());
}

Status PruneSnapshots(Env* env, const std::string& dir, size_t keep) {
  auto snaps = ListSnapshots(env, dir);
  size_t kept = 0;
  for (const auto& s : snaps) {
    if (s.status.ok() && kept < keep) {
      ++kept;
      continue;
    }
    if (kept >= keep) ORDERLOG_RETURN_IF_ERROR(env->Remove(s.path));
  }
  return Status::Ok();
}

}  // namespace orderlog::domain
