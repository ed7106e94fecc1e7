#include "engine/stream_table.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_map>

namespace orderlog {
namespace {

TEST(StreamTableTest, BehavesLikeAMapThroughGrowth) {
  StreamTable table;
  std::unordered_map<std::string, uint64_t> model;
  std::vector<std::string_view> keys;
  for (uint64_t i = 0; i < 50'000; ++i) {
    const std::string id = "stream-" + std::to_string(i * 7919 % 20'011);
    std::string_view key;
    StreamState* st = table.FindOrInsert(id, &key);
    EXPECT_EQ(key, id);
    st->version = st->version.next();
    st->last = Position(i + 1);
    ++model[id];
    if (i < 100) keys.push_back(key);
  }
  EXPECT_EQ(table.size(), model.size());
  for (const auto& [id, n] : model) {
    const StreamState* st = table.Find(id);
    ASSERT_NE(st, nullptr) << id;
    EXPECT_EQ(st->version.value, n);
  }
  EXPECT_EQ(table.Find("missing"), nullptr);
  for (size_t i = 0; i < keys.size(); ++i) {  // keys stay valid across growth
    EXPECT_EQ(keys[i], "stream-" + std::to_string(i * 7919 % 20'011));
  }
  EXPECT_LT(table.MemoryUsage() / table.size(), 128u);
}

}  // namespace
}  // namespace orderlog
