// Strong types for the numbers that must never be mixed up, and the event as the engine sees it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace orderlog {

// A number with a tag, so a Position cannot be passed where a StreamVersion is expected.
template <typename Tag>
struct StrongU64 {
  uint64_t value = 0;

  constexpr StrongU64() = default;
  constexpr explicit StrongU64(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const StrongU64&) const = default;
  constexpr StrongU64 next() const { return StrongU64(value + 1); }
  constexpr StrongU64 prev() const { return StrongU64(value - 1); }
};

// Place of an event in the whole log: 1, 2, 3, ... without gaps. 0 means "none".
using Position = StrongU64<struct PositionTag>;
// Place of an event in its own stream: 1, 2, 3, ... 0 means "the stream does not exist".
using StreamVersion = StrongU64<struct StreamVersionTag>;

// The check an append makes against the stream's current version, atomically with the append.
struct ExpectedVersion {
  enum class Kind : unsigned char { kAny, kNoStream, kExact };
  Kind kind = Kind::kAny;
  StreamVersion version;

  static ExpectedVersion Any() { return {Kind::kAny, StreamVersion(0)}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, StreamVersion(0)}; }
  static ExpectedVersion Exact(StreamVersion v) { return {Kind::kExact, v}; }
  bool Matches(StreamVersion current) const {
    switch (kind) {
      case Kind::kAny:
        return true;
      case Kind::kNoStream:
        return current.value == 0;
      case Kind::kExact:
        return current == version;
    }
    return false;
  }
};

// One stored event. The engine does not interpret type or payload.
struct Event {
  Position position;
  StreamVersion version;
  uint16_t type = 0;
  int64_t timestamp_ms = 0;  // Unix epoch milliseconds, set by the writer
  std::string stream;
  std::string payload;
};

struct AppendResult {
  Position position;
  StreamVersion version;
  int64_t timestamp_ms = 0;  // the record's timestamp
};

}  // namespace orderlog
