// The log on a disk that fails: failing fsync, full disk, short writes, power loss, and a loop
// that fails every I/O operation of a workload in turn (SQLite's I/O-error loop).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "engine/format.h"
#include "engine/segment.h"
#include "tests/engine/log_test_util.h"
#include "tests/support/fault_env.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

// The default options (sync mode) on a fault-injecting env.
LogOptions OptionsOn(FaultEnv* env) {
  LogOptions opts;
  opts.env = env;
  return opts;
}

TEST(FaultTest, FailingFsyncMakesTheLogReadOnlyForGood) {
  TempDir dir;
  FaultEnv env;
  LogOptions opts = OptionsOn(&env);
  auto log = OpenOrDie(dir.path(), opts);
  ASSERT_TRUE(log->Append(Req("s", "durable")).ok());
  env.FailNth(FaultOp::kSync, 1);
  auto failed = log->Append(Req("s", "lost"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kReadOnly);
  EXPECT_NE(failed.status().message().find("fdatasync"), std::string::npos);
  EXPECT_FALSE(log->health().ok());
  env.Reset();
  // Even with a healthy disk again, no further write is accepted.
  auto later = log->Append(Req("s", "later"));
  EXPECT_EQ(later.status().code(), StatusCode::kReadOnly);
  EXPECT_NE(later.status().message().find("read-only"), std::string::npos);
  // Reads keep working and never show the unacknowledged event.
  EXPECT_EQ(log->committed_position(), Position(1));
  EXPECT_EQ(log->Read(Position(1))->payload, "durable");
  EXPECT_EQ(log->Read(Position(2)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log->CurrentVersion("s"), StreamVersion(1));
  std::vector<Event> stream;
  ASSERT_TRUE(log->ReadStream("s", StreamVersion(1), 10, &stream).ok());
  ASSERT_EQ(stream.size(), 1u);
  EXPECT_EQ(stream[0].payload, "durable");
  log.reset();

  auto reopened = OpenOrDie(dir.path());
  EXPECT_GE(reopened->committed_position(), Position(1));
  EXPECT_EQ(reopened->Read(Position(1))->payload, "durable");
  EXPECT_TRUE(reopened->Append(Req("s", "fresh")).ok());
}

// A slow disk shows in the fdatasync histogram (LogStats::fsync, the server's
// orderlog_fsync_duration_seconds): a sync held for 30 ms lands in the bucket that covers it.
TEST(FaultTest, ASlowFdatasyncLandsInItsBucketOfTheHistogram) {
  TempDir dir;
  FaultEnv env;
  LogOptions opts = OptionsOn(&env);
  auto log = OpenOrDie(dir.path(), opts);
  ASSERT_TRUE(log->Append(Req("s", "fast")).ok());
  const LogStats before = log->Stats();
  env.HoldSyncs(".seg");
  std::thread appender([&] { EXPECT_TRUE(log->Append(Req("s", "slow")).ok()); });
  ASSERT_TRUE(env.WaitUntilHeld(std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  env.ReleaseSyncs();
  appender.join();
  const LogStats after = log->Stats();
  ASSERT_EQ(after.fsync.count(), before.fsync.count() + 1);
  // The one new sync is in the bucket (25 ms, 50 ms] (30 ms plus the release), or in a later one
  // if this thread was descheduled that long: never in a bucket of shorter syncs.
  const size_t slow = static_cast<size_t>(std::find(LatencyHistogram::kBoundMicros.begin(),
                                                    LatencyHistogram::kBoundMicros.end(), 50000u) -
                                          LatencyHistogram::kBoundMicros.begin());
  ASSERT_LT(slow, LatencyHistogram::kBoundMicros.size());
  uint64_t slow_ones = 0;
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    const uint64_t added = after.fsync.counts[i] - before.fsync.counts[i];
    if (i < slow) {
      EXPECT_EQ(added, 0u) << "bucket " << i;
    } else {
      slow_ones += added;
    }
  }
  EXPECT_EQ(slow_ones, 1u);
  EXPECT_GE(after.fsync.sum_micros - before.fsync.sum_micros, 30000u);
}

TEST(FaultTest, FullDiskFailsTheWriteCorruptsNothingAndReopenWorks) {
  TempDir dir;
  FaultEnv env;
  LogOptions opts = OptionsOn(&env);
  auto log = OpenOrDie(dir.path(), opts);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(log->Append(Req("s", PayloadFor(i))).ok());
  const uint64_t size_before = FileSize(dir.file(SegmentFileName(Position(1))));
  env.FailNth(FaultOp::kWrite, 1, StatusCode::kNoSpace, /*short_bytes=*/17);
  auto r = log->Append(Req("s", "does not fit"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoSpace);
  EXPECT_NE(r.status().message().find("No space left on device"), std::string::npos);
  EXPECT_EQ(log->health().code(), StatusCode::kNoSpace);
  // The partial write was cut back.
  EXPECT_EQ(FileSize(dir.file(SegmentFileName(Position(1)))), size_before);
  log.reset();
  env.Reset();

  auto reopened = OpenOrDie(dir.path(), opts);
  EXPECT_EQ(reopened->committed_position(), Position(3));
  auto again = reopened->Append(Req("s", "space again"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->position, Position(4));
}

TEST(FaultTest, ShortWriteThatCannotBeCutBackIsATornTailOnReopen) {
  TempDir dir;
  FaultEnv env;
  LogOptions opts = OptionsOn(&env);
  {
    auto log = OpenOrDie(dir.path(), opts);
    ASSERT_TRUE(log->Append(Req("s", "one")).ok());
    env.FailNth(FaultOp::kWrite, 1, StatusCode::kIOError, 30);
    EXPECT_FALSE(log->Append(Req("s", "two")).ok());
  }
  // Put the torn bytes back, as if the cut-back had failed too.
  const std::string seg = dir.file(SegmentFileName(Position(1)));
  WriteFileBytes(seg, ReadFileBytes(seg) + std::string(30, '\x7f'));
  env.Reset();
  auto log = OpenOrDie(dir.path(), opts);
  EXPECT_EQ(log->committed_position(), Position(1));
  EXPECT_TRUE(log->Append(Req("s", "two")).ok());
}

// With preallocated segments the unsynced records overwrite zeros: power loss gives the zeros
// back, except (torn > 0) the first and last `torn` bytes of what was written since the last sync,
// as when the pages of a write reach the disk out of order.
TEST(FaultTest, PowerLossKeepsEveryAcknowledgedAppend) {
  for (bool prealloc : {false, true})
    for (size_t torn : {0, 1, 39, 40, 100, 4096}) {
      SCOPED_TRACE("unsynced bytes kept: " + std::to_string(torn) +
                   (prealloc ? ", preallocated" : ""));
      TempDir dir;
      FaultEnv env;
      LogOptions opts = OptionsOn(&env);
      opts.segment_size = 8192;
      opts.preallocate = prealloc;
      std::vector<AppendResult> acked;
      {
        auto log = OpenOrDie(dir.path(), opts);
        for (int i = 0; i < 300; ++i) {
          auto r = log->Append(Req("s" + std::to_string(i % 5), PayloadFor(i)));
          ASSERT_TRUE(r.ok());
          acked.push_back(*r);
        }
        // Unacknowledged work in flight when the power goes.
        for (int i = 0; i < 20; ++i) log->AppendAsync(Req("late", "x"), [](const auto&) {});
      }
      env.DropUnsyncedData(torn);
      auto log = OpenOrDie(dir.path(), LogOptions{.preallocate = prealloc});
      ASSERT_GE(log->committed_position().value, acked.size());
      for (size_t i = 0; i < acked.size(); ++i) {
        auto ev = log->Read(acked[i].position);
        ASSERT_TRUE(ev.ok()) << ev.status().ToString();
        EXPECT_EQ(ev->payload, PayloadFor(i));
      }
    }
}

bool AnyPendingSegment(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == format::kPendingSuffix) return true;
  }
  return false;
}

// Buffered mode, 4 KiB segments: a roll-over every ~20 appends, each seal left to the syncer.
LogOptions RollingBuffered(FaultEnv* env) {
  LogOptions opts = OptionsOn(env);
  opts.durability = Durability::kNone;
  opts.segment_size = 4096;
  return opts;
}

// Scans the whole log: positions gap-free from 1, stream versions consecutive. Returns the count.
uint64_t ScanChecked(const Log& log) {
  uint64_t expect = 1;
  std::map<std::string, uint64_t> versions;
  EXPECT_TRUE(log.Scan(Position(0),
                       [&](const RecordView& rec) {
                         EXPECT_EQ(rec.position.value, expect++);
                         EXPECT_EQ(rec.version.value, ++versions[std::string(rec.stream)]);
                         return true;
                       })
                  .ok());
  return expect - 1;
}

// After a crash: reopens dir (on a healthy disk) and checks that every acknowledged append is
// there with its payload, positions are gap-free and versions consecutive, and appends go on.
void ExpectRecovered(const std::string& dir, LogOptions opts,
                     const std::map<uint64_t, std::string>& acked) {
  opts.env = nullptr;
  auto log = OpenOrDie(dir, opts);
  ASSERT_TRUE(log);
  for (const auto& [pos, payload] : acked) {
    auto ev = log->Read(Position(pos));
    ASSERT_TRUE(ev.ok()) << "acknowledged position " << pos << ": " << ev.status().ToString();
    EXPECT_EQ(ev->payload, payload);
  }
  const uint64_t count = ScanChecked(*log);
  EXPECT_GE(count, acked.size());
  auto more = log->Append(Req("s0", "after recovery"));
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_EQ(more->position.value, count + 1);
}

// Preallocated segments: appends overwrite zeros, and what was not synced when the power went may
// reach the disk in any order — here the first and last `torn` bytes written since the last sync
// survive and the middle is zeros again, so valid records can follow a hole. They were written
// before the hole's records were durable (their durable gap says so): a torn tail, cut at open,
// never corruption; and every acknowledged append survives.
TEST(FaultTest, PowerLossWithPreallocatedSegmentsCutsWritesThatLandedOutOfOrder) {
  int runs_in_a_spare = 0;
  for (size_t torn : {0, 100, 1000, 4096}) {
    for (int n : {5, 15, 30, 50}) {
      SCOPED_TRACE("crash at sync " + std::to_string(n) + ", " + std::to_string(torn) +
                   " bytes kept at each end");
      TempDir dir;
      FaultEnv env;
      LogOptions opts = OptionsOn(&env);
      opts.segment_size = 64 << 10;
      opts.preallocate = true;
      std::mutex mu;
      std::map<uint64_t, std::string> acked;  // position -> payload
      {
        auto log = OpenOrDie(dir.path(), opts);
        env.CrashAtNth(FaultOp::kSync, n);
        for (int round = 0; round < 40 && !env.crashed(); ++round) {
          std::atomic<int> done{0};
          for (int i = 0; i < 100; ++i) {
            std::string payload = PayloadFor(round * 100 + i);
            log->AppendAsync(Req("s" + std::to_string(i % 9), payload),
                             [&, payload](const Result<AppendResult>& r) {
                               if (r.ok()) {
                                 std::lock_guard lk(mu);
                                 acked[r->position.value] = payload;
                               }
                               done.fetch_add(1);
                             });
          }
          while (done.load() < 100) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (log->Stats().preallocated_segments > 0) ++runs_in_a_spare;
      }
      env.Reset();
      env.DropUnsyncedData(torn);
      ASSERT_NO_FATAL_FAILURE(ExpectRecovered(dir.path(), opts, acked));
    }
  }
  EXPECT_GT(runs_in_a_spare, 8);
}

// A log that crashed inside its first seal: written until the first roll-over, the old segment's
// seal held until the writer has put records into the new (".pending") segment, then the seal let
// run into a crash at its rename (its sync ran). Each test decides what the crash took.
class RollOverCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.CrashAtNth(FaultOp::kRename, 1);
    auto log = OpenOrDie(dir_.path(), opts_);
    auto append = [&](int i) {
      if (!log->Append(Req("s" + std::to_string(i % 3), PayloadFor(i))).ok()) return false;
      ++accepted_;
      return true;
    };
    env_.HoldSyncs(SegmentFileName(Position(1)));
    int i = 0;
    while (i < 1000 && !env_.WaitUntilHeld(std::chrono::milliseconds(0))) ASSERT_TRUE(append(i++));
    ASSERT_TRUE(env_.WaitUntilHeld(std::chrono::seconds(10)));
    for (int j = 0; j < 10; ++j) ASSERT_TRUE(append(i++));
    env_.ReleaseSyncs();
    while (i < 1000 && append(i)) ++i;
    log.reset();
    ASSERT_TRUE(env_.crashed());
    env_.Reset();
  }

  TempDir dir_;
  FaultEnv env_;
  const LogOptions opts_ = RollingBuffered(&env_);
  uint64_t accepted_ = 0;  // the appends the log acknowledged
};

// A roll-over does not wait for the disk: the old segment's seal is synced by the syncer, and the
// new segment keeps its ".pending" name until then. A crash in between must leave a log that
// opens cleanly at the old segment's end, never one with a newer segment after an unsealed one.
TEST_F(RollOverCrashTest, ARollOverWhoseSealNeverBecameDurableIsUndoneAtOpen) {
  env_.DropUnsyncedData();
  ASSERT_TRUE(AnyPendingSegment(dir_.path()));
  const std::vector<Position> before = *ListSegmentFiles(Env::Default(), dir_.path());
  ASSERT_EQ(before.size(), 1u);

  auto log = OpenOrDie(dir_.path(), opts_);
  EXPECT_FALSE(AnyPendingSegment(dir_.path()));
  const auto segs = log->Segments();
  ASSERT_GE(segs.size(), 2u);  // the old segment, sealed, and a fresh one after it
  EXPECT_TRUE(segs[0].sealed);
  EXPECT_GT(segs[0].records, 10u);
  EXPECT_LT(segs[0].records, accepted_);
  EXPECT_EQ(log->committed_position().value, segs[0].records);
  EXPECT_EQ(ScanChecked(*log), segs[0].records);
  auto more = log->Append(Req("s0", "after recovery"));
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_EQ(more->position.value, segs[0].records + 1);
}

// The same roll-over, but only the process dies: the page cache keeps the old segment's footer and
// the new segment's records. Those records were acknowledged once written (this mode promises
// they survive kill -9), so open finishes the roll-over instead of undoing it, and keeps them.
TEST_F(RollOverCrashTest, AProcessCrashBeforeARollOversSealIsDurableLosesNothingWritten) {
  // No power loss: every write the process made is still there.
  ASSERT_TRUE(AnyPendingSegment(dir_.path()));

  auto log = OpenOrDie(dir_.path(), opts_);
  EXPECT_FALSE(AnyPendingSegment(dir_.path()));
  const auto segs = log->Segments();
  ASSERT_GE(segs.size(), 2u);
  EXPECT_TRUE(segs[0].sealed);
  EXPECT_LT(segs[0].records, accepted_);  // some of what was accepted is in the second segment
  EXPECT_EQ(log->committed_position().value, accepted_);
  EXPECT_EQ(ScanChecked(*log), accepted_);
  auto more = log->Append(Req("s0", "after recovery"));
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_EQ(more->position.value, accepted_ + 1);
}

// Power loss in buffered mode, at every sync of a workload that rolls over many times: whatever
// survives must open without errors as a gap-free log, and everything Sync() acknowledged is in it.
TEST(FaultTest, PowerLossInBufferedModeLeavesAGapFreeLog) {
  for (int n = 1; n <= 12; ++n) {
    SCOPED_TRACE("power lost at sync " + std::to_string(n));
    TempDir dir;
    FaultEnv env;
    const LogOptions opts = RollingBuffered(&env);
    uint64_t synced = 0;
    {
      auto log = OpenOrDie(dir.path(), opts);
      env.CrashAtNth(FaultOp::kSync, n);
      for (int i = 0; i < 400; ++i) {
        if (!log->Append(Req("s" + std::to_string(i % 7), PayloadFor(i))).ok()) break;
        if (i % 97 == 96 && log->Sync().ok()) synced = log->committed_position().value;
      }
    }
    env.Reset();
    env.DropUnsyncedData(n % 2 ? 0 : 50);
    auto log = OpenOrDie(dir.path(), opts);
    ASSERT_TRUE(log);
    EXPECT_FALSE(AnyPendingSegment(dir.path()));
    const uint64_t count = ScanChecked(*log);
    EXPECT_GE(count, synced);
    EXPECT_EQ(log->committed_position().value, count);
    for (uint64_t p = 1; p <= count; ++p) {
      EXPECT_EQ(log->Read(Position(p))->payload, PayloadFor(p - 1));
    }
  }
}

// The fail-the-Nth-operation loop: for N = 1, 2, ... the Nth write, sync or rename of a workload
// with roll-overs fails. After each run: reopen on a healthy disk (also after dropping whatever
// was not synced) and check that every acknowledged append is there, positions are gap-free and
// stream versions consecutive.
// With preallocate, the spares' writes, syncs and renames (on the indexer thread) fail in turn too.
TEST(FaultTest, FailEveryIoOperationInTurn) {
  for (bool prealloc : {false, true}) {
    int runs_with_failure = 0;
    for (int n = 1;; ++n) {
      SCOPED_TRACE("failing operation " + std::to_string(n) + (prealloc ? ", preallocated" : ""));
      TempDir dir;
      FaultEnv env;
      LogOptions opts = OptionsOn(&env);
      opts.segment_size = 4096;
      opts.preallocate = prealloc;
      std::map<uint64_t, std::string> acked;  // position -> payload
      env.FailNth(FaultOp::kAny, n, n % 2 ? StatusCode::kIOError : StatusCode::kNoSpace, n % 50);
      {
        auto log = Log::Open(dir.path(), opts);
        if (log.ok()) {
          for (int i = 0; i < 120; ++i) {
            const std::string payload = PayloadFor(i) + std::string(i % 37, 'z');
            auto r = (*log)->Append(Req("s" + std::to_string(i % 4), payload));
            if (r.ok()) {
              acked[r->position.value] = payload;
            } else {
              EXPECT_TRUE(r.status().code() == StatusCode::kReadOnly ||
                          r.status().code() == StatusCode::kNoSpace)
                  << r.status().ToString();
            }
          }
        }
      }
      const bool injected = env.failures() > 0;
      env.Reset();
      env.DropUnsyncedData(n % 3 == 0 ? 0 : 64);
      ASSERT_NO_FATAL_FAILURE(ExpectRecovered(dir.path(), opts, acked));
      if (!injected) break;  // the workload ran out of operations to fail
      ++runs_with_failure;
    }
    EXPECT_GT(runs_with_failure, 100);
  }
}

}  // namespace
}  // namespace orderlog::testing

namespace orderlog::testing {
namespace {

// The .idx files are written off the append path; one that cannot be written costs nothing but
// a rebuild at the next open.
TEST(FaultTest, IndexFilesThatCannotBeWrittenAreCountedAndRebuiltAtOpen) {
  TempDir dir;
  FaultEnv env;
  LogOptions opts = OptionsOn(&env);
  opts.segment_size = 4096;
  env.FailAlways(FaultOp::kRename, StatusCode::kIOError, 0, ".idx");  // the atomic .idx write
  {
    auto log = OpenOrDie(dir.path(), opts);
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(log->Append(Req("s", PayloadFor(i))).ok());
    EXPECT_TRUE(log->health().ok());
    ASSERT_TRUE(log->Close().ok());
    EXPECT_GT(log->Stats().index_write_failures, 0u);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file(IndexFileName(Position(1)))));
  env.Reset();
  auto log = OpenOrDie(dir.path(), opts);
  EXPECT_EQ(log->committed_position(), Position(300));
  EXPECT_TRUE(std::filesystem::exists(dir.file(IndexFileName(Position(1)))));
  EXPECT_EQ(log->Read(Position(7))->payload, PayloadFor(6));
}

}  // namespace
}  // namespace orderlog::testing
