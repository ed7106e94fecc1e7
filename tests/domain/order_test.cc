// Order ids, statuses and the state machine, timestamps, event encoding.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "server/domain/events.h"
#include "server/domain/order.h"
#include "server/domain/order_service.h"

namespace orderlog::domain {
namespace {

TEST(OrderTest, StateMachineTable) {
  using S = OrderStatus;
  const S all[] = {S::kProcessing, S::kShipped, S::kDelivered, S::kCancelled};
  // allowed[from][to]
  const bool allowed[4][4] = {
      /* processing */ {false, true, false, true},
      /* shipped    */ {false, false, true, true},
      /* delivered  */ {false, false, false, false},
      /* cancelled  */ {false, false, false, false},
  };
  for (int f = 0; f < 4; ++f) {
    for (int t = 0; t < 4; ++t) {
      EXPECT_EQ(CanTransition(all[f], all[t]), allowed[f][t])
          << StatusName(all[f]) << " -> " << StatusName(all[t]);
    }
  }
  EXPECT_TRUE(IsFinal(S::kDelivered));
  EXPECT_TRUE(IsFinal(S::kCancelled));
  EXPECT_FALSE(IsFinal(S::kShipped));
}

TEST(OrderTest, StatusNamesAreExact) {
  for (const char* s : {"processing", "shipped", "delivered", "cancelled"}) {
    auto parsed = ParseStatus(s);
    ASSERT_TRUE(parsed.has_value()) << s;
    EXPECT_STREQ(StatusName(*parsed), s);
  }
  for (const char* s : {"SHIPPED", " shipped", "shipped ", "", "Shipped", "canceled"}) {
    EXPECT_FALSE(ParseStatus(s).has_value()) << s;
  }
}

TEST(OrderTest, OrderIdsAreCanonicalUuidV4) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string text = OrderId::Random().ToString();
    ASSERT_EQ(text.size(), 36u);
    EXPECT_EQ(text[14], '4');
    EXPECT_TRUE(text[19] == '8' || text[19] == '9' || text[19] == 'a' || text[19] == 'b');
    auto back = OrderId::Parse(text);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->ToString(), text);
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(OrderId::Parse("D136CA70-F39C-4232-85C4-E39B3C950226").has_value());
  EXPECT_FALSE(OrderId::Parse("d136ca70f39c423285c4e39b3c950226").has_value());
  EXPECT_FALSE(OrderId::Parse("d136ca70-f39c-4232-85c4-e39b3c95022").has_value());
  EXPECT_FALSE(OrderId::Parse("d136ca70-f39c-4232-85c4-e39b3c95022g").has_value());
  EXPECT_TRUE(OrderId::Parse("d136ca70-f39c-4232-85c4-e39b3c950226").has_value());
}

TEST(OrderTest, Timestamps) {
  EXPECT_EQ(FormatTimestamp(1795000000123), "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(ParseTimestamp("2026-11-18T11:06:40.123Z"), 1795000000123);
  EXPECT_EQ(ParseTimestamp("2026-11-18T11:06:40Z"), 1795000000000);
  EXPECT_EQ(ParseTimestamp("2026-11-18T12:06:40.1234+01:00"), 1795000000123);
  EXPECT_EQ(ParseTimestamp("2026-11-18T06:06:40.5-05:00"), 1795000000500);
  EXPECT_EQ(ParseTimestamp("2024-02-29T00:00:00Z"), 1709164800000);
  for (const char* bad : {"", "2026-11-18", "2026-11-18T08:26:40", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-18T24:00:00Z", "2026-11-18T08:26:40.Z",
                          "2026-11-18T08:26:40+0100", "2026-11-18T08:26:40Zjunk", "yesterday"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
}

TEST(OrderTest, EventsRoundTripAndRejectUnknownSchemas) {
  OrderCreated c{"cust", "Laptop", 2, "key-1"};
  auto decoded = DecodeEvent(static_cast<uint16_t>(EventType::kOrderCreated), EncodeEvent(c));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto& back = std::get<OrderCreated>(*decoded);
  EXPECT_EQ(back.customer_id, "cust");
  EXPECT_EQ(back.product, "Laptop");
  EXPECT_EQ(back.quantity, 2u);
  EXPECT_EQ(back.idempotency_key, "key-1");

  OrderStatusChanged s{OrderStatus::kShipped, OrderStatus::kDelivered};
  std::string bytes = EncodeEvent(s);
  auto d2 = DecodeEvent(static_cast<uint16_t>(EventType::kOrderStatusChanged), bytes);
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(std::get<OrderStatusChanged>(*d2).new_status, OrderStatus::kDelivered);

  std::string future = bytes;
  future[0] = 2;
  EXPECT_EQ(DecodeEvent(2, future).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeEvent(9, bytes).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeEvent(1, bytes.substr(0, 2)).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeEvent(2, bytes + "x").status().code(), StatusCode::kCorruption);
  std::string bad_status = bytes;
  bad_status[2] = 9;
  EXPECT_EQ(DecodeEvent(2, bad_status).status().code(), StatusCode::kCorruption);
}

// Found by fuzz_event (fuzz/corpus/event/regression-huge-string-length): a string length prefix
// far beyond the payload made cereal allocate petabytes before it noticed the bytes were missing.
TEST(OrderTest, EventStringLengthBeyondThePayloadIsCorruptionNotAnAllocation) {
  std::string bytes = EncodeEvent(OrderCreated{"customer", "product", 3, "k"});
  // schema byte, then customer_id's 8-byte length: claim 2^60 bytes.
  const uint64_t huge = 1ull << 60;
  std::memcpy(bytes.data() + 1, &huge, sizeof(huge));
  auto d = DecodeEvent(static_cast<uint16_t>(EventType::kOrderCreated), bytes);
  ASSERT_EQ(d.status().code(), StatusCode::kCorruption);
  EXPECT_NE(d.status().message().find("exceeds"), std::string::npos) << d.status().ToString();

  // The same for the last field, one byte too long, and for exactly the bytes left (valid).
  const std::string good = EncodeEvent(OrderCreated{"c", "p", 1, "key"});
  std::string longer = good;
  const uint64_t four = 4;
  std::memcpy(longer.data() + longer.size() - 3 - 8, &four, sizeof(four));
  EXPECT_EQ(DecodeEvent(1, longer).status().code(), StatusCode::kCorruption);
  auto ok = DecodeEvent(1, good);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(std::get<OrderCreated>(*ok).idempotency_key, "key");
}

TEST(OrderTest, ValidateCreateAppliesTheContractsRules) {
  EXPECT_TRUE(ValidateCreate({"123", "Laptop", 2, ""}).ok());
  EXPECT_TRUE(ValidateCreate({" ", "ü", 1, ""}).ok());
  EXPECT_TRUE(ValidateCreate({std::string(256, 'c'), "p", 1'000'000, ""}).ok());
  EXPECT_FALSE(ValidateCreate({std::string(257, 'c'), "p", 1, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"", "p", 1, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"c", "", 1, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"c", "p", 0, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"c", "p", 1'000'001, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"c", "p", -1, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"a\tb", "p", 1, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"a\x7f", "p", 1, ""}).ok());
  EXPECT_FALSE(ValidateCreate({std::string("a\0b", 3), "p", 1, ""}).ok());
  EXPECT_FALSE(ValidateCreate({"\xc3", "p", 1, ""}).ok());          // truncated sequence
  EXPECT_FALSE(ValidateCreate({"\xed\xa0\x80", "p", 1, ""}).ok());  // surrogate
  EXPECT_FALSE(ValidateCreate({"\xc0\xaf", "p", 1, ""}).ok());      // overlong
  auto s = ValidateCreate({"c", "p", 0, ""});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("quantity"), std::string::npos);
}

}  // namespace
}  // namespace orderlog::domain
