// The order: ids, statuses, the state machine, and the state folded from an order's events.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderlog::domain {

enum class OrderStatus : uint8_t { kProcessing = 0, kShipped = 1, kDelivered = 2, kCancelled = 3 };
inline constexpr int kStatusCount = 4;

const char* StatusName(OrderStatus s);
// Exactly the four lower-case names; anything else is nullopt.
std::optional<OrderStatus> ParseStatus(std::string_view s);
// processing -> shipped | cancelled; shipped -> delivered | cancelled; delivered, cancelled final.
bool CanTransition(OrderStatus from, OrderStatus to);
bool IsFinal(OrderStatus s);

// A UUIDv4, kept as 16 bytes; its text form is the canonical lower-case 36-character one.
struct OrderId {
  std::array<uint8_t, 16> bytes{};

  // Fresh random id (getrandom(2)).
  static OrderId Random();
  // Canonical lower-case form only ("8-4-4-4-12" hex digits); anything else is nullopt.
  static std::optional<OrderId> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const OrderId&) const = default;
};

// Limits of the API contract.
inline constexpr size_t kMaxFieldBytes = 256;
inline constexpr int64_t kMinQuantity = 1;
inline constexpr int64_t kMaxQuantity = 1'000'000;

// The state of one order after some prefix of its events.
struct OrderState {
  OrderId id;
  std::string customer_id;
  std::string product;
  uint32_t quantity = 0;
  OrderStatus status = OrderStatus::kProcessing;
  uint64_t version = 0;  // number of events folded
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// "2026-11-26T10:51:33.123Z".
std::string FormatTimestamp(int64_t unix_ms);
// RFC 3339 with any offset and optional fraction (truncated to milliseconds); nullopt if invalid.
std::optional<int64_t> ParseTimestamp(std::string_view text);

}  // namespace orderlog::domain
