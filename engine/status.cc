#include "engine/status.h"

namespace orderlog {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kIOError:
      return "IOError";
    case StatusCode::kNoSpace:
      return "NoSpace";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kConflict:
      return "Conflict";
    case StatusCode::kReadOnly:
      return "ReadOnly";
    case StatusCode::kLocked:
      return "Locked";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kClosed:
      return "Closed";
  }
  return "Unknown";
}

std::string Damage::ToString() const {
  return file + " offset " + std::to_string(offset) + ": " + reason;
}

Status Status::CorruptionAt(std::string file, uint64_t offset, std::string reason) {
  auto damage = std::make_shared<const Damage>(Damage{std::move(file), offset, std::move(reason)});
  Status s(StatusCode::kCorruption, damage->ToString());
  s.damage_ = std::move(damage);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

}  // namespace orderlog
