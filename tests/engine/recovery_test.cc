// Recovery on open: torn tails are cut, everything else that is damaged is reported with file and
// offset, and never served.
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "engine/format.h"
#include "engine/segment.h"
#include "tests/engine/log_test_util.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

namespace f = format;

std::string Seg(const TempDir& dir, uint64_t base) {
  return dir.file(SegmentFileName(Position(base)));
}

// Offsets of every record in a segment file, read with the engine's own reader.
std::vector<uint64_t> RecordOffsets(const std::string& path) {
  auto file = Env::Default()->Open(path, OpenMode::kReadOnly);
  std::vector<uint64_t> out;
  SegmentReader reader(file->get(), f::kSegmentHeaderSize, FileSize(path));
  RecordView rec;
  while (reader.Read(&rec) == SegmentReader::Next::kRecord) out.push_back(reader.offset());
  return out;
}

void WriteEvents(const std::string& dir, int n, LogOptions opts = {}) {
  auto log = OpenOrDie(dir, opts);
  for (int i = 1; i <= n; ++i) {
    ASSERT_TRUE(log->Append(Req("s" + std::to_string(i % 2), PayloadFor(i))).ok());
  }
}

TEST(RecoveryTest, TornTailAtEveryByteOfTheLastRecordRecoversThePreviousRecord) {
  TempDir dir;
  const std::string src = dir.file("src");
  WriteEvents(src, 5);
  const std::string seg = src + "/" + SegmentFileName(Position(1));
  const auto offsets = RecordOffsets(seg);
  ASSERT_EQ(offsets.size(), 5u);
  const uint64_t last_start = offsets.back();
  const uint64_t full = FileSize(seg);
  for (uint64_t cut = last_start; cut < full; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string copy = dir.file("cut" + std::to_string(cut));
    CopyDir(src, copy);
    const std::string copy_seg = copy + "/" + SegmentFileName(Position(1));
    TruncateFile(copy_seg, cut);
    {
      auto log = OpenOrDie(copy);
      ASSERT_TRUE(log);
      EXPECT_EQ(log->committed_position(), Position(4));
      EXPECT_EQ(FileSize(copy_seg), last_start);  // the torn bytes are gone
      EXPECT_EQ(log->CurrentVersion("s1"), StreamVersion(2));
      auto r = log->Append(Req("s1", "after"));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->position, Position(5));
      EXPECT_EQ(r->version, StreamVersion(3));
    }
    auto log = OpenOrDie(copy);
    EXPECT_EQ(log->Read(Position(5))->payload, "after");
    std::filesystem::remove_all(copy);
  }
}

TEST(RecoveryTest, GarbageAfterTheLastRecordIsATornTail) {
  TempDir dir;
  WriteEvents(dir.path(), 3);
  const std::string seg = Seg(dir, 1);
  const uint64_t size = FileSize(seg);
  WriteFileBytes(seg, ReadFileBytes(seg) + std::string(4096, '\0'));  // zero-filled pages
  auto log = OpenOrDie(dir.path());
  EXPECT_EQ(log->committed_position(), Position(3));
  EXPECT_EQ(FileSize(seg), size);
}

TEST(RecoveryTest, DamagedRecordFollowedByValidOneFailsOpenWithFileAndOffset) {
  TempDir dir;
  WriteEvents(dir.path(), 5);
  const std::string seg = Seg(dir, 1);
  const auto offsets = RecordOffsets(seg);
  FlipByte(seg, offsets[2] + f::kRecordHeaderSize + 3);  // a byte of record 3's stream id
  auto log = Log::Open(dir.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find(seg + " offset " + std::to_string(offsets[2])),
            std::string::npos)
      << log.status().message();
  EXPECT_NE(log.status().message().find("checksum"), std::string::npos);
  // Nothing was truncated: the operator decides.
  EXPECT_GT(FileSize(seg), offsets[4]);

  // A read-only open serves what precedes the damage and reports it.
  LogOptions ro;
  ro.read_only = true;
  auto inspect = Log::Open(dir.path(), ro);
  ASSERT_TRUE(inspect.ok()) << inspect.status().ToString();
  EXPECT_EQ((*inspect)->committed_position(), Position(2));
  ASSERT_EQ((*inspect)->open_problems().size(), 1u);
  EXPECT_EQ((*inspect)->open_problems()[0].code(), StatusCode::kCorruption);
}

TEST(RecoveryTest, BitFlipInASealedSegmentPayloadIsDetectedOnReadWithFileAndOffset) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  WriteEvents(dir.path(), 100, opts);
  const std::string seg = Seg(dir, 1);
  const auto offsets = RecordOffsets(seg);
  ASSERT_GT(offsets.size(), 3u);
  FlipByte(seg, offsets[3] + f::kRecordHeaderSize + 3, 0x40);  // inside record 4's payload

  auto log = OpenOrDie(dir.path(), opts);  // sealed segments are not rescanned at open
  auto ev = log->Read(Position(4));
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), StatusCode::kCorruption);
  EXPECT_NE(ev.status().message().find(seg + " offset " + std::to_string(offsets[3])),
            std::string::npos)
      << ev.status().message();
  EXPECT_TRUE(log->Read(Position(3)).ok());

  std::vector<Event> range;
  EXPECT_EQ(log->ReadRange(Position(0), 10, &range).code(), StatusCode::kCorruption);
  uint64_t seen = 0;
  Status scan = log->Scan(Position(0), [&](const RecordView&) { return ++seen, true; });
  EXPECT_EQ(scan.code(), StatusCode::kCorruption);
  EXPECT_EQ(seen, 3u);  // nothing at or after the damage is served
  std::vector<Event> hist;
  EXPECT_EQ(log->ReadStream("s0", StreamVersion(1), 100, &hist).code(), StatusCode::kCorruption);
}

TEST(RecoveryTest, BitFlipInASealedSegmentIsFoundWhenItsIndexMustBeRebuilt) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  WriteEvents(dir.path(), 100, opts);
  const std::string seg = Seg(dir, 1);
  const auto offsets = RecordOffsets(seg);
  FlipByte(seg, offsets[1] + 20);  // record 2's position field
  std::filesystem::remove(dir.file(IndexFileName(Position(1))));
  auto log = Log::Open(dir.path(), opts);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find(seg + " offset " + std::to_string(offsets[1])),
            std::string::npos)
      << log.status().message();
}

TEST(RecoveryTest, MissingOrCorruptIndexFileIsRebuilt) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  WriteEvents(dir.path(), 100, opts);
  const std::string idx = dir.file(IndexFileName(Position(1)));
  const std::string original = ReadFileBytes(idx);
  ASSERT_FALSE(original.empty());

  std::filesystem::remove(idx);
  {
    auto log = OpenOrDie(dir.path(), opts);
    EXPECT_EQ(log->committed_position(), Position(100));
    EXPECT_EQ(log->CurrentVersion("s0"), StreamVersion(50));
  }
  EXPECT_EQ(ReadFileBytes(idx), original);

  FlipByte(idx, 40);
  {
    auto log = OpenOrDie(dir.path(), opts);
    std::vector<Event> s1;
    ASSERT_TRUE(log->ReadStream("s1", StreamVersion(1), 100, &s1).ok());
    EXPECT_EQ(s1.size(), 50u);
  }
  EXPECT_EQ(ReadFileBytes(idx), original);

  TruncateFile(idx, 10);
  auto log = OpenOrDie(dir.path(), opts);
  EXPECT_EQ(log->committed_position(), Position(100));
  EXPECT_EQ(ReadFileBytes(idx), original);
}

TEST(RecoveryTest, UnsealedSegmentFollowedByAnotherIsCorruption) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  WriteEvents(dir.path(), 100, opts);
  const std::string seg = Seg(dir, 1);
  TruncateFile(seg, FileSize(seg) - 1);  // break the footer of a sealed segment
  auto log = Log::Open(dir.path(), opts);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find(seg), std::string::npos);
}

TEST(RecoveryTest, MissingSegmentIsAGap) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  WriteEvents(dir.path(), 300, opts);
  auto names = Env::Default()->ListDir(dir.path());
  std::vector<Position> bases;
  for (const auto& n : *names) {
    if (auto b = ParseSegmentFileName(n)) bases.push_back(*b);
  }
  std::sort(bases.begin(), bases.end());
  ASSERT_GE(bases.size(), 3u);
  std::filesystem::remove(dir.file(SegmentFileName(bases[1])));
  auto log = Log::Open(dir.path(), opts);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find("but the log before it ends at"), std::string::npos)
      << log.status().message();
}

TEST(RecoveryTest, BadSegmentHeaderIsCorruption) {
  TempDir dir;
  WriteEvents(dir.path(), 3);
  FlipByte(Seg(dir, 1), 2);
  auto log = Log::Open(dir.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find(Seg(dir, 1) + " offset 0"), std::string::npos);
}

TEST(RecoveryTest, UnknownFormatVersionIsRefused) {
  TempDir dir;
  WriteEvents(dir.path(), 1);
  std::string bytes = ReadFileBytes(Seg(dir, 1));
  std::string header = bytes.substr(0, f::kSegmentHeaderSize);
  header[8] = 9;  // version 9, with a correct header checksum
  const uint64_t sum = XXH3_64bits(header.data(), f::header::kChecksum);
  std::memcpy(header.data() + 24, &sum, 8);
  WriteFileBytes(Seg(dir, 1), header + bytes.substr(f::kSegmentHeaderSize));
  auto log = Log::Open(dir.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("unsupported segment format version 9"), std::string::npos);
}

TEST(RecoveryTest, HalfCreatedLastSegmentIsReplaced) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  WriteEvents(dir.path(), 100, opts);
  auto log0 = OpenOrDie(dir.path(), opts);
  const auto segs = log0->Segments();
  log0.reset();
  const Position next = segs.back().base;
  // Simulate a crash right after the previous segment was sealed: the new file is only partly
  // there. Remove the real last segment and leave a 10-byte stub in its place.
  std::filesystem::remove(dir.file(SegmentFileName(next)));
  auto prev = segs[segs.size() - 2];
  WriteFileBytes(dir.file(SegmentFileName(prev.last.next())), std::string(10, 'x'));
  auto log = OpenOrDie(dir.path(), opts);
  EXPECT_EQ(log->committed_position(), prev.last);
  auto r = log->Append(Req("s", "x"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->position, prev.last.next());
}

TEST(RecoveryTest, CrashAfterSealBeforeNextSegmentContinuesCleanly) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  WriteEvents(dir.path(), 100, opts);
  Position last_sealed;
  {
    auto log = OpenOrDie(dir.path(), opts);
    const auto segs = log->Segments();
    last_sealed = segs[segs.size() - 2].last;
  }
  // Drop the active segment and the sealed one's index: as if we crashed mid-roll.
  std::filesystem::remove(dir.file(SegmentFileName(last_sealed.next())));
  auto log = OpenOrDie(dir.path(), opts);
  EXPECT_EQ(log->committed_position(), last_sealed);
  auto r = log->Append(Req("s0", "x"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->position, last_sealed.next());
}

}  // namespace
}  // namespace orderlog::testing
