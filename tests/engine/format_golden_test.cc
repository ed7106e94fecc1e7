// Golden bytes: the on-disk layout of docs/log-format.md, pinned byte for byte.
#include <gtest/gtest.h>
#include <xxhash.h>

#include "engine/format.h"
#include "engine/record.h"
#include "engine/segment.h"
#include "engine/segment_index.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

std::string Le64(uint64_t v) {
  return std::string(reinterpret_cast<const char*>(&v), 8);
}

TEST(FormatGoldenTest, Record) {
  RecordView rec;
  rec.position = Position(0x0102030405060708);
  rec.version = StreamVersion(3);
  rec.type = 2;
  rec.timestamp_ms = 1'795'000'000'123;
  rec.stream = "order-1";
  rec.payload = "hi";
  rec.durable_gap = DurableGap(rec.position, Position(0x0102030405060700));
  std::string out;
  EncodeRecord(&out, rec);
  ASSERT_EQ(out.size(), 53u);
  const std::string body =
      "35000000"          // length 53
      "0200"              // type 2
      "0700"              // stream id length 7
      "0807060504030201"  // position
      "0300000000000000"  // stream version 3
      "7b5e56eea1010000"  // timestamp 1795000000123 ms
      "08000000"          // durable gap 8: positions up to 0x0102030405060700 were durable
      "6f726465722d31"    // "order-1"
      "6869";             // "hi"
  EXPECT_EQ(ToHex(out.substr(8)), body);
  EXPECT_EQ(ToHex(out.substr(0, 8)), ToHex(Le64(XXH3_64bits(out.data() + 8, out.size() - 8))));
  EXPECT_EQ(ToHex(out.substr(0, 8)), "96a451065ca679bf");  // the checksum itself, pinned

  RecordView back;
  ASSERT_EQ(DecodeRecord(out.data(), out.size(), &back).outcome, DecodeOutcome::kOk);
  EXPECT_EQ(back.position, rec.position);
  EXPECT_EQ(back.stream, "order-1");
  EXPECT_EQ(back.payload, "hi");
  EXPECT_EQ(back.durable_gap, 8u);
  EXPECT_EQ(back.durable_before(), 0x0102030405060700u);
  EXPECT_EQ(DecodeRecord(out.data(), out.size() - 1, &back).outcome, DecodeOutcome::kTruncated);
  out[49] ^= 1;
  EXPECT_EQ(DecodeRecord(out.data(), out.size(), &back).outcome, DecodeOutcome::kBad);
}

// The durable gap is a u32: a distance that does not fit claims nothing, never more than is true.
TEST(FormatGoldenTest, ARecordsDurableGapNeverClaimsMoreThanTheWriterKnew) {
  RecordView rec;
  rec.position = Position(10'000'000'000);
  rec.version = StreamVersion(1);
  rec.stream = "s";
  for (uint64_t durable : {uint64_t{0}, uint64_t{5}, uint64_t{9'999'999'999}}) {
    rec.durable_gap = DurableGap(rec.position, Position(durable));
    std::string out;
    EncodeRecord(&out, rec);
    RecordView back;
    ASSERT_EQ(DecodeRecord(out.data(), out.size(), &back).outcome, DecodeOutcome::kOk);
    EXPECT_EQ(back.durable_before(), durable == 9'999'999'999 ? durable : 0) << durable;
    EXPECT_EQ(ToHex(out.substr(format::kRecDurableGap, 4)),
              durable == 9'999'999'999 ? "01000000" : "ffffffff");
  }
  RecordView small;
  small.position = Position(5);
  small.durable_gap = DurableGap(small.position, Position(0));
  EXPECT_EQ(small.durable_gap, 5u);
  EXPECT_EQ(small.durable_before(), 0u);
  small.durable_gap = 7;  // more than the position: claims nothing
  EXPECT_EQ(small.durable_before(), 0u);
  EXPECT_EQ(DurableGap(small.position, Position(5)),
            format::kNoDurableClaim);  // not below the position
}

TEST(FormatGoldenTest, SegmentHeader) {
  const std::string h = EncodeSegmentHeader(Position(42));
  EXPECT_EQ(ToHex(h.substr(0, 24)),
            "4f4c4f4753454700"    // "OLOGSEG\0"
            "02000000"            // format version 2
            "00000000"            // flags
            "2a00000000000000");  // base position 42
  EXPECT_EQ(h.substr(24), Le64(XXH3_64bits(h.data(), 24)));
  EXPECT_EQ(ToHex(h.substr(24)), "d439490863ab398c");
  auto base = DecodeSegmentHeader(h, "f");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(*base, Position(42));
}

TEST(FormatGoldenTest, SegmentFooter) {
  const std::string foot = EncodeSegmentFooter({5, Position(46), 0xAABBCCDDEEFF0011});
  EXPECT_EQ(ToHex(foot.substr(0, 32)),
            "4f4c4f47454e4400"    // "OLOGEND\0"
            "0500000000000000"    // 5 records
            "2e00000000000000"    // last position 46
            "1100ffeeddccbbaa");  // segment checksum
  EXPECT_EQ(foot.substr(32), Le64(XXH3_64bits(foot.data(), 32)));
  auto back = DecodeSegmentFooter(foot);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->record_count, 5u);
  std::string bad = foot;
  bad[9] ^= 1;
  EXPECT_FALSE(DecodeSegmentFooter(bad).has_value());
}

TEST(FormatGoldenTest, SegmentIndex) {
  const std::string idx =
      EncodeSegmentIndex(Position(7), {32, 81}, {0, 7}, {{"ab", Position(8), 2}});
  EXPECT_EQ(ToHex(idx.substr(0, idx.size() - 8)),
            "4f4c4f4749445800"                  // "OLOGIDX\0"
            "02000000"                          // version
            "01000000"                          // 1 stream
            "0700000000000000"                  // base 7
            "0200000000000000"                  // 2 records
            "01000000"                          // 1 stream starts in this segment
            "00000000"                          // reserved
            "2000000051000000"                  // offsets 32, 81
            "00000000000000000700000000000000"  // prevs 0, 7
            "0200"
            "6162"
            "0800000000000000"
            "02000000");  // "ab", last 8, count 2
  std::vector<uint32_t> offsets;
  std::vector<uint64_t> prevs;
  std::vector<SegmentStreamEntry> streams;
  ASSERT_TRUE(DecodeSegmentIndex(idx, "i", Position(7), 2, &offsets, &prevs, &streams).ok());
  EXPECT_EQ(offsets, (std::vector<uint32_t>{32, 81}));
  EXPECT_EQ(prevs, (std::vector<uint64_t>{0, 7}));
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].id, "ab");
  EXPECT_FALSE(DecodeSegmentIndex(idx, "i", Position(7), 3, &offsets, &prevs, &streams).ok());
}

TEST(FormatGoldenTest, FileNames) {
  EXPECT_EQ(SegmentFileName(Position(1)), "00000000000000000001.seg");
  EXPECT_EQ(IndexFileName(Position(123456)), "00000000000000123456.idx");
  EXPECT_EQ(ParseSegmentFileName("00000000000000000001.seg"), Position(1));
  EXPECT_FALSE(ParseSegmentFileName("00000000000000000001.idx").has_value());
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000001.seg").has_value());
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000000x.seg").has_value());
  EXPECT_FALSE(ParseSegmentFileName("00000000000000000000.seg").has_value());
}

}  // namespace
}  // namespace orderlog::testing
