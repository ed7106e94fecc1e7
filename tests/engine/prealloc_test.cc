// LogOptions::preallocate: segments that start as zero-filled spares, prepared in the background,
// and what that changes for recovery, checking and live readers.
#include <chrono>
#include <filesystem>
#include <thread>

#include "engine/check.h"
#include "engine/cursor.h"
#include "engine/format.h"
#include "engine/segment.h"
#include "tests/engine/log_test_util.h"
#include "tests/support/fault_env.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

namespace f = format;

constexpr uint64_t kSegmentSize = 64 << 10;

LogOptions Preallocated(Durability d = Durability::kSync) {
  LogOptions opts;
  opts.durability = d;
  opts.segment_size = kSegmentSize;
  opts.preallocate = true;
  return opts;
}

std::string SegPath(const std::string& dir, const SegmentInfo& s) {
  return dir + "/" + SegmentFileName(s.base);
}

// Appends (blocking) until `segments` segments have started in a spare; returns the count.
uint64_t AppendUntilPreallocated(Log& log, uint64_t segments, uint64_t* n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (log.Stats().preallocated_segments < segments &&
         std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(log.Append(Req("s" + std::to_string(*n % 7), PayloadFor(*n))).ok());
    ++*n;
  }
  return log.Stats().preallocated_segments;
}

CheckReport CheckOrDie(const std::string& dir) {
  auto report = CheckLog(Env::Default(), dir, CheckOptions{});
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.ok() ? std::move(report).value() : CheckReport{};
}

TEST(PreallocTest, SegmentsStartAsZeroFilledSparesAndAreSealedToTheirRecords) {
  TempDir dir;
  uint64_t n = 0;
  {
    auto log = OpenOrDie(dir.path(), Preallocated());
    ASSERT_GE(AppendUntilPreallocated(*log, 3, &n), 3u);
    EXPECT_EQ(log->Stats().spare_failures, 0u);
    const auto segs = log->Segments();
    ASSERT_GE(segs.size(), 4u);
    // The first segment of a new log is an ordinary file, rolled over early, once the first
    // spare was ready (an eighth of the way in, at the earliest).
    EXPECT_TRUE(segs[0].sealed);
    EXPECT_LT(segs[0].bytes, kSegmentSize);
    for (const auto& s : segs) {
      if (s.sealed) {
        EXPECT_EQ(FileSize(SegPath(dir.path(), s)), s.bytes) << s.path;  // records and footer
      }
    }
    // The active segment is a whole spare: its size does not grow with its records.
    EXPECT_FALSE(segs.back().sealed);
    EXPECT_EQ(FileSize(SegPath(dir.path(), segs.back())), kSegmentSize);
    EXPECT_EQ(segs.back().bytes, kSegmentSize);
  }
  const CheckReport report = CheckOrDie(dir.path());
  EXPECT_TRUE(report.problems.empty()) << report.problems.front().ToString();
  EXPECT_FALSE(report.torn_tail);
  EXPECT_EQ(report.records, n);

  auto log = OpenOrDie(dir.path(), Preallocated());
  ASSERT_EQ(log->committed_position().value, n);
  for (uint64_t p = 1; p <= n; ++p) EXPECT_EQ(log->Read(Position(p))->payload, PayloadFor(p - 1));
}

TEST(PreallocTest, ReopeningKeepsTheActiveSpareAndAppendsGoOnIntoIt) {
  TempDir dir;
  uint64_t n = 0;
  std::string active;
  {
    auto log = OpenOrDie(dir.path(), Preallocated());
    ASSERT_GE(AppendUntilPreallocated(*log, 1, &n), 1u);
    active = SegPath(dir.path(), log->Segments().back());
  }
  for (int reopen = 0; reopen < 3; ++reopen) {
    auto log = OpenOrDie(dir.path(), Preallocated());
    EXPECT_EQ(FileSize(active), kSegmentSize);  // the zeros are kept, not cut as a torn tail
    EXPECT_EQ(log->committed_position().value, n);
    EXPECT_EQ(log->Stats().preallocated_segments, 0u);  // nothing new started in a spare
    for (int i = 0; i < 20; ++i, ++n) {
      auto r = log->Append(Req("s" + std::to_string(n % 7), PayloadFor(n)));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->position.value, n + 1);
    }
    EXPECT_EQ(SegPath(dir.path(), log->Segments().back()), active);
  }
  EXPECT_TRUE(CheckOrDie(dir.path()).problems.empty());
  // Without preallocate, a spare's zeros are a tail like any other: cut.
  auto log = OpenOrDie(dir.path());
  EXPECT_LT(FileSize(active), kSegmentSize);
  EXPECT_EQ(log->committed_position().value, n);
}

// A crash can leave records that were never synced with whole pages missing between them (their
// zeros, in a spare) — writes reach the disk in any order until an fdatasync. The records after
// the hole were written before the hole's records were durable, and say so: the hole is a torn
// tail, cut at open. The same hole among records that were synced one by one is corruption.
TEST(PreallocTest, AHoleAmongRecordsThatWereNeverSyncedIsATornTailAmongSyncedOnesCorruption) {
  for (Durability d : {Durability::kInterval, Durability::kSync}) {
    SCOPED_TRACE(DurabilityName(d));
    TempDir dir;
    LogOptions opts;
    opts.durability = d;
    opts.sync_interval = std::chrono::hours(1);  // kInterval: nothing is synced until Close
    {
      auto log = OpenOrDie(dir.path(), opts);
      for (int i = 0; i < 40; ++i) ASSERT_TRUE(log->Append(Req("s", PayloadFor(i))).ok());
    }
    const std::string seg = dir.file(SegmentFileName(Position(1)));
    auto file = Env::Default()->Open(seg, OpenMode::kReadOnly);
    SegmentReader reader(file->get(), f::kSegmentHeaderSize, FileSize(seg));
    RecordView rec;
    std::vector<uint64_t> offsets;
    while (reader.Read(&rec) == SegmentReader::Next::kRecord) offsets.push_back(reader.offset());
    ASSERT_EQ(offsets.size(), 40u);
    std::string bytes = ReadFileBytes(seg);
    std::fill(bytes.begin() + static_cast<long>(offsets[20]),
              bytes.begin() + static_cast<long>(offsets[23]), '\0');
    WriteFileBytes(seg, bytes);

    auto opened = Log::Open(dir.path(), opts);
    if (d == Durability::kInterval) {
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      EXPECT_EQ((*opened)->committed_position(), Position(20));
      EXPECT_EQ(FileSize(seg), offsets[20]);
    } else {
      ASSERT_FALSE(opened.ok());
      EXPECT_EQ(opened.status().code(), StatusCode::kCorruption);
      EXPECT_NE(opened.status().message().find(seg + " offset " + std::to_string(offsets[20])),
                std::string::npos)
          << opened.status().message();
      EXPECT_NE(opened.status().message().find("written after this one was durable"),
                std::string::npos);
      EXPECT_EQ(FileSize(seg), bytes.size());  // nothing cut: the operator decides
      const CheckReport report = CheckOrDie(dir.path());
      ASSERT_FALSE(report.problems.empty());
      EXPECT_EQ(report.problems.front().offset, offsets[20]);
    }
  }
}

TEST(PreallocTest, SparesLeftByAnEarlierRunAreUsedOnlyWhenWhole) {
  TempDir dir;
  { auto log = OpenOrDie(dir.path(), Preallocated()); }
  const std::string spare = dir.file(f::kSpareFileName);
  // Half-written (never renamed) and wrong-sized spares go; a whole one becomes the next segment.
  WriteFileBytes(spare + f::kSpareTempSuffix, std::string(100, '\0'));
  WriteFileBytes(spare, std::string(kSegmentSize / 2, '\0'));
  {
    auto log = OpenOrDie(dir.path(), Preallocated());
    EXPECT_FALSE(std::filesystem::exists(spare + f::kSpareTempSuffix));
    EXPECT_FALSE(std::filesystem::exists(spare));
  }
  WriteFileBytes(spare, std::string(kSegmentSize, '\0'));
  auto log = OpenOrDie(dir.path(), Preallocated());
  EXPECT_TRUE(log->Stats().spare_ready);
  ASSERT_TRUE(log->Append(Req("s", "first")).ok());
  ASSERT_TRUE(log->Append(Req("s", "second")).ok());  // the spare is ready: an early roll-over
  EXPECT_FALSE(std::filesystem::exists(spare));
  EXPECT_EQ(log->Stats().preallocated_segments, 1u);
  EXPECT_EQ(FileSize(SegPath(dir.path(), log->Segments().back())), kSegmentSize);
  EXPECT_EQ(log->Read(Position(2))->payload, "second");
}

// Open counts what it recovers as durable (records written after it say so in their durable
// gap), so it must make it durable: after a crash of the process alone, the records can still be
// only in the page cache. Here the first process dies unsynced (interval mode), the second
// recovers its records and writes one more, then the power goes: had open not synced, the
// recovered records could be lost around the new one, which would claim them durable — a log
// that no longer opens.
TEST(PreallocTest, RecordsRecoveredAfterAProcessCrashAreSyncedBeforeAnythingClaimsThem) {
  TempDir dir;
  FaultEnv env;
  LogOptions opts = Preallocated(Durability::kInterval);
  opts.sync_interval = std::chrono::hours(1);  // nothing synced but seals and spares
  opts.env = &env;
  uint64_t n = 0;
  {
    auto log = OpenOrDie(dir.path(), opts);
    ASSERT_GE(AppendUntilPreallocated(*log, 1, &n), 1u);
    for (int i = 0; i < 20; ++i, ++n) {
      ASSERT_TRUE(log->Append(Req("s" + std::to_string(n % 7), PayloadFor(n))).ok());
    }
    env.CrashAtNth(FaultOp::kSync, 1);  // the process dies: Close syncs nothing
  }
  env.Reset();
  const std::string late = "late";
  {
    auto log = OpenOrDie(dir.path(), opts);  // the page cache still has everything
    ASSERT_TRUE(log);
    ASSERT_EQ(log->committed_position().value, n);
    ASSERT_TRUE(log->Append(Req("s", late)).ok());
    env.CrashAtNth(FaultOp::kSync, 1);
  }
  env.Reset();
  // Power loss: of what was written since the last sync, only the first and last record-sized
  // pieces reach the disk.
  env.DropUnsyncedData(f::kRecordHeaderSize + 1 + late.size());
  opts.env = nullptr;
  auto log = OpenOrDie(dir.path(), opts);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->committed_position().value, n + 1);
  for (uint64_t p = 1; p <= n; ++p) EXPECT_EQ(log->Read(Position(p))->payload, PayloadFor(p - 1));
  EXPECT_EQ(log->Read(Position(n + 1))->payload, late);
}

// A spare that cannot be written (a full disk, here) costs the preallocation, nothing else; the
// next segment asks again.
TEST(PreallocTest, ASpareThatCannotBeWrittenIsAskedForAgainInTheNextSegment) {
  TempDir dir;
  FaultEnv env;
  LogOptions opts = Preallocated();
  opts.env = &env;
  env.FailAlways(FaultOp::kWrite, StatusCode::kNoSpace, 0, f::kSpareFileName);
  auto log = OpenOrDie(dir.path(), opts);
  uint64_t n = 0;
  while (log->Segments().size() < 4) {
    ASSERT_TRUE(log->Append(Req("s", PayloadFor(n++))).ok());
  }
  EXPECT_GE(log->Stats().spare_failures, 2u);
  EXPECT_EQ(log->Stats().preallocated_segments, 0u);
  env.Reset();
  EXPECT_GE(AppendUntilPreallocated(*log, 1, &n), 1u);
  for (uint64_t p = 1; p <= n; ++p) EXPECT_EQ(log->Read(Position(p))->payload, PayloadFor(p - 1));
}

// A reader beside the writer: in a spare, new records appear without the file growing.
TEST(PreallocTest, ACursorFollowsRecordsWrittenIntoASpare) {
  TempDir dir;
  uint64_t n = 0;
  auto log = OpenOrDie(dir.path(), Preallocated());
  ASSERT_GE(AppendUntilPreallocated(*log, 1, &n), 1u);
  auto cursor = LogCursor::Open(Env::Default(), dir.path(), Position(0));
  ASSERT_TRUE(cursor.ok()) << cursor.status().ToString();
  RecordView rec;
  uint64_t seen = 0;
  while ((*cursor)->Read(&rec) == LogCursor::Next::kRecord) ++seen;
  EXPECT_EQ(seen, n);
  EXPECT_FALSE((*cursor)->pending_tail().has_value());  // zeros are not a torn record
  for (int i = 0; i < 5; ++i, ++n) ASSERT_TRUE(log->Append(Req("late", PayloadFor(n))).ok());
  while ((*cursor)->Read(&rec) == LogCursor::Next::kRecord) {
    ++seen;
    EXPECT_EQ(rec.stream, "late");
  }
  EXPECT_EQ(seen, n);
}

}  // namespace
}  // namespace orderlog::testing
