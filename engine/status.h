// Errors as values across the engine API (leveldb's Status, with a small code enum).
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace orderlog {

enum class StatusCode : unsigned char {
  kOk = 0,
  kNotFound,            // no such position / stream / file
  kCorruption,          // a checksum or structural check failed; damage() says where
  kIOError,             // the operating system refused a read, write or sync
  kNoSpace,             // ENOSPC / EDQUOT while writing
  kInvalidArgument,     // the caller passed something the engine cannot store
  kConflict,            // expected-version check failed
  kReadOnly,            // the log stopped accepting writes (earlier failure, or opened read-only)
  kLocked,              // another process holds the data directory
  kClosed,              // the log is shutting down
  kFailedPrecondition,  // a caller's precondition (If-Match) does not hold
};

const char* StatusCodeName(StatusCode code);

// Where a corruption was found, as data: a tool reports it field by field and never parses the
// message back.
struct Damage {
  std::string file;
  uint64_t offset = 0;
  std::string reason;
  std::string ToString() const;  // "<file> offset <n>: <reason>"
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  // A corruption with no one place in a file (prefer CorruptionAt).
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  // Message: "<file> offset <n>: <reason>".
  static Status CorruptionAt(std::string file, uint64_t offset, std::string reason);
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {StatusCode::kReadOnly, std::move(m)}; }
  static Status Locked(std::string m) { return {StatusCode::kLocked, std::move(m)}; }
  static Status Closed(std::string m) { return {StatusCode::kClosed, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Set for a corruption made by CorruptionAt; nullptr otherwise.
  const Damage* damage() const { return damage_.get(); }
  // "Corruption: <message>", for logs and error details.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::shared_ptr<const Damage> damage_;  // shared: a Status is copied more than it is made
};

inline Status CorruptionAt(std::string file, uint64_t offset, std::string reason) {
  return Status::CorruptionAt(std::move(file), offset, std::move(reason));
}

// A value or the Status saying why there is none. Never holds an ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace orderlog

#define ORDERLOG_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::orderlog::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)
