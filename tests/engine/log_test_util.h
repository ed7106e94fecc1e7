// Helpers for engine tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/log.h"

namespace orderlog::testing {

inline std::unique_ptr<Log> OpenOrDie(const std::string& dir, LogOptions options = {}) {
  auto log = Log::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return nullptr;
  return std::move(log).value();
}

inline AppendRequest Req(std::string stream, std::string payload, uint16_t type = 1,
                         ExpectedVersion expected = ExpectedVersion::Any()) {
  return AppendRequest{std::move(stream), expected, type, std::move(payload)};
}

inline std::string PayloadFor(uint64_t i) {
  return "payload-" + std::to_string(i);
}

}  // namespace orderlog::testing
