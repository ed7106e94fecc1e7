// The log's behaviour on a healthy disk: appends, reads, reopen, roll-over, concurrency.
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "engine/format.h"
#include "engine/segment.h"
#include "tests/engine/log_test_util.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

TEST(LogTest, RoundTrip) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  ASSERT_TRUE(log);
  for (uint64_t i = 1; i <= 30; ++i) {
    auto r = log->Append(Req("stream-" + std::to_string(i % 3), PayloadFor(i), 7));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->position, Position(i));
    EXPECT_EQ(r->version, StreamVersion((i + 2) / 3));
  }
  EXPECT_EQ(log->committed_position(), Position(30));

  auto ev = log->Read(Position(4));
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->stream, "stream-1");
  EXPECT_EQ(ev->payload, PayloadFor(4));
  EXPECT_EQ(ev->type, 7);
  EXPECT_EQ(ev->version, StreamVersion(2));
  EXPECT_GT(ev->timestamp_ms, 1'700'000'000'000);

  EXPECT_EQ(log->Read(Position(31)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log->Read(Position(0)).status().code(), StatusCode::kNotFound);

  std::vector<Event> range;
  ASSERT_TRUE(log->ReadRange(Position(10), 5, &range).ok());
  ASSERT_EQ(range.size(), 5u);
  for (size_t i = 0; i < range.size(); ++i) {
    EXPECT_EQ(range[i].position, Position(11 + i));
    EXPECT_EQ(range[i].payload, PayloadFor(11 + i));
  }
  range.clear();
  ASSERT_TRUE(log->ReadRange(Position(28), 100, &range).ok());
  EXPECT_EQ(range.size(), 2u);

  std::vector<Event> stream;
  ASSERT_TRUE(log->ReadStream("stream-2", StreamVersion(1), 100, &stream).ok());
  ASSERT_EQ(stream.size(), 10u);
  for (size_t i = 0; i < stream.size(); ++i) {
    EXPECT_EQ(stream[i].version, StreamVersion(i + 1));
    EXPECT_EQ(stream[i].position, Position(2 + 3 * i));
  }
  stream.clear();
  ASSERT_TRUE(log->ReadStream("stream-2", StreamVersion(9), 100, &stream).ok());
  EXPECT_EQ(stream.size(), 2u);
  stream.clear();
  ASSERT_TRUE(log->ReadStream("stream-2", StreamVersion(1), 3, &stream).ok());
  EXPECT_EQ(stream.size(), 3u);
  EXPECT_EQ(stream.back().version, StreamVersion(3));
  stream.clear();
  ASSERT_TRUE(log->ReadStream("nope", StreamVersion(1), 100, &stream).ok());
  EXPECT_TRUE(stream.empty());
  EXPECT_EQ(log->CurrentVersion("stream-0"), StreamVersion(10));
  EXPECT_EQ(log->CurrentVersion("nope"), StreamVersion(0));
}

TEST(LogTest, TimestampsNeverGoBackwards) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(log->Append(Req("s", "x")).ok());
  std::vector<Event> all;
  ASSERT_TRUE(log->ReadRange(Position(0), 1000, &all).ok());
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i].timestamp_ms, all[i - 1].timestamp_ms);
}

TEST(LogTest, ReopenKeepsEverythingAndContinuesPositions) {
  TempDir dir;
  {
    auto log = OpenOrDie(dir.path());
    for (int i = 1; i <= 10; ++i) ASSERT_TRUE(log->Append(Req("a", PayloadFor(i))).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = OpenOrDie(dir.path());
  EXPECT_EQ(log->committed_position(), Position(10));
  EXPECT_EQ(log->CurrentVersion("a"), StreamVersion(10));
  auto r = log->Append(Req("a", "more", 1, ExpectedVersion::Exact(StreamVersion(10))));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->position, Position(11));
  EXPECT_EQ(r->version, StreamVersion(11));
  auto ev = log->Read(Position(3));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->payload, PayloadFor(3));
}

void RollsOverAndSealsSegmentsIn(Durability durability) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 4096;
  opts.durability = durability;
  const std::string payload(200, 'p');
  {
    auto log = OpenOrDie(dir.path(), opts);
    for (int i = 1; i <= 200; ++i) {
      ASSERT_TRUE(log->Append(Req("s" + std::to_string(i % 7), payload)).ok());
    }
    auto segs = log->Segments();
    ASSERT_GT(segs.size(), 5u);
    for (size_t i = 0; i + 1 < segs.size(); ++i) {
      EXPECT_TRUE(segs[i].sealed);
      EXPECT_LE(segs[i].bytes, opts.segment_size);
      EXPECT_EQ(segs[i + 1].base, segs[i].last.next());
    }
    EXPECT_FALSE(segs.back().sealed);
    ASSERT_TRUE(log->Close().ok());  // waits for the indexer thread
    for (size_t i = 0; i + 1 < segs.size(); ++i) {
      EXPECT_TRUE(std::filesystem::exists(dir.file(IndexFileName(segs[i].base))));
    }
    for (const auto& seg : segs) EXPECT_TRUE(std::filesystem::exists(seg.path)) << seg.path;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      EXPECT_NE(e.path().extension(), format::kPendingSuffix) << e.path();
    }
  }
  // Sealed segments end with a valid footer.
  const std::string first = ReadFileBytes(dir.file(SegmentFileName(Position(1))));
  auto footer =
      DecodeSegmentFooter(std::string_view(first).substr(first.size() - format::kFooterSize));
  ASSERT_TRUE(footer.has_value());
  EXPECT_EQ(footer->last_position.value, footer->record_count);

  auto log = OpenOrDie(dir.path(), opts);
  EXPECT_EQ(log->committed_position(), Position(200));
  std::vector<Event> all;
  ASSERT_TRUE(log->ReadRange(Position(0), 1000, &all).ok());
  ASSERT_EQ(all.size(), 200u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].position, Position(i + 1));
  std::vector<Event> s3;
  ASSERT_TRUE(log->ReadStream("s3", StreamVersion(1), 1000, &s3).ok());
  ASSERT_EQ(s3.size(), 29u);  // i % 7 == 3 for i in 1..200
  for (size_t i = 0; i < s3.size(); ++i) EXPECT_EQ(s3[i].version, StreamVersion(i + 1));
  uint64_t scanned = 0;
  ASSERT_TRUE(log->Scan(Position(50),
                        [&](const RecordView& rec) {
                          EXPECT_EQ(rec.position, Position(51 + scanned));
                          ++scanned;
                          return true;
                        })
                  .ok());
  EXPECT_EQ(scanned, 150u);
}

// In every durability mode (roll-overs in `none` mode do not wait for the disk, the syncer seals
// behind the writer): sealed segments, their .idx files, no ".pending" segment after Close.
TEST(LogTest, RollsOverAndSealsSegments) {
  for (Durability d : {Durability::kSync, Durability::kNone}) {
    SCOPED_TRACE(DurabilityName(d));
    RollsOverAndSealsSegmentsIn(d);
  }
}

TEST(LogTest, ExpectedVersionConflicts) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  ASSERT_TRUE(log->Append(Req("o", "1", 1, ExpectedVersion::NoStream())).ok());
  auto dup = log->Append(Req("o", "again", 1, ExpectedVersion::NoStream()));
  EXPECT_EQ(dup.status().code(), StatusCode::kConflict);
  auto stale = log->Append(Req("o", "x", 1, ExpectedVersion::Exact(StreamVersion(0))));
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  auto ok = log->Append(Req("o", "2", 1, ExpectedVersion::Exact(StreamVersion(1))));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->version, StreamVersion(2));
  // Conflicts consume no position.
  auto next = log->Append(Req("p", "z"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->position, Position(3));
}

TEST(LogTest, RacingAppendsToOneStreamNeverBothWin) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  ASSERT_TRUE(log->Append(Req("o", "create")).ok());
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        const StreamVersion seen = log->CurrentVersion("o");
        auto r = log->Append(Req("o", "change", 2, ExpectedVersion::Exact(seen)));
        if (r.ok()) {
          EXPECT_EQ(r->version, seen.next());
          ++wins;
        } else {
          EXPECT_EQ(r.status().code(), StatusCode::kConflict);
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins + conflicts, 400);
  EXPECT_EQ(log->CurrentVersion("o"), StreamVersion(1 + wins.load()));
  std::vector<Event> hist;
  ASSERT_TRUE(log->ReadStream("o", StreamVersion(1), 1000, &hist).ok());
  ASSERT_EQ(hist.size(), static_cast<size_t>(1 + wins.load()));
  for (size_t i = 0; i < hist.size(); ++i) EXPECT_EQ(hist[i].version, StreamVersion(i + 1));
}

TEST(LogTest, ConcurrentAppendersGetGapFreePositionsThatSurviveReopen) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 64 * 1024;  // several roll-overs under concurrency
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  std::vector<std::vector<AppendResult>> got(kThreads);
  {
    auto log = OpenOrDie(dir.path(), opts);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto r = log->Append(
              Req("t" + std::to_string(t), std::to_string(t) + ":" + std::to_string(i)));
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          got[t].push_back(*r);
        }
      });
    }
    for (auto& th : threads) th.join();
    const LogStats stats = log->Stats();
    EXPECT_LT(stats.fsync.count(), static_cast<uint64_t>(kThreads * kPerThread));  // group commit
  }
  auto log = OpenOrDie(dir.path(), opts);
  std::set<uint64_t> positions;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const AppendResult& r = got[t][i];
      EXPECT_EQ(r.version, StreamVersion(i + 1));
      positions.insert(r.position.value);
      auto ev = log->Read(r.position);
      ASSERT_TRUE(ev.ok()) << ev.status().ToString();
      EXPECT_EQ(ev->payload, std::to_string(t) + ":" + std::to_string(i));
    }
  }
  ASSERT_EQ(positions.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
}

TEST(LogTest, AsyncAppendsCompleteInPositionOrder) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  constexpr int kCount = 5000;
  std::mutex mu;
  std::vector<uint64_t> order;
  std::atomic<int> done{0};
  for (int i = 0; i < kCount; ++i) {
    log->AppendAsync(Req("s" + std::to_string(i % 100), PayloadFor(i)),
                     [&](const Result<AppendResult>& r) {
                       ASSERT_TRUE(r.ok());
                       std::lock_guard lk(mu);
                       order.push_back(r->position.value);
                       ++done;
                     });
  }
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(done.load(), kCount);
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(order[i], static_cast<uint64_t>(i + 1));
  EXPECT_LT(log->Stats().fsync.count(), static_cast<uint64_t>(kCount));
}

TEST(LogTest, ReadersSeeOnlyCompleteCommittedRecordsWhileWriting) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 32 * 1024;
  auto log = OpenOrDie(dir.path(), opts);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 1; i <= 3000; ++i) ASSERT_TRUE(log->Append(Req("w", PayloadFor(i))).ok());
    stop = true;
  });
  uint64_t reads = 0;
  while (!stop) {
    const Position c = log->committed_position();
    if (c.value == 0) continue;
    auto ev = log->Read(c);
    ASSERT_TRUE(ev.ok()) << ev.status().ToString();
    EXPECT_EQ(ev->payload, PayloadFor(c.value));
    EXPECT_GE(log->CurrentVersion("w").value, c.value);
    ++reads;
  }
  writer.join();
  EXPECT_GT(reads, 0u);
}

TEST(LogTest, SecondOpenOfADirectoryIsRefused) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  auto second = Log::Open(dir.path(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kLocked);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos);
  // Read-only opens take no lock.
  LogOptions ro;
  ro.read_only = true;
  auto reader = Log::Open(dir.path(), ro);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  log.reset();
  EXPECT_TRUE(Log::Open(dir.path(), {}).ok());
}

TEST(LogTest, RejectsWhatItCannotStore) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  EXPECT_EQ(log->Append(Req("", "x")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Append(Req(std::string(format::kMaxStreamIdSize + 1, 's'), "x")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Append(Req("s", std::string(format::kMaxPayloadSize + 1, 'x'))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(log->health().ok());
  auto r = log->Append(Req("s", ""));  // empty payloads are fine
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->position, Position(1));
}

// AppendView's promise: the log copies the bytes before AppendAsync returns, so the caller may
// reuse or free its buffers at once. Every append below is submitted from one buffer that is
// overwritten (and finally freed) right after the call, while the writer is still behind; views
// and owning requests share batches.
TEST(LogTest, AppendViewBuffersMayBeReusedAsSoonAsTheCallReturns) {
  TempDir dir;
  constexpr int kN = 2000;
  {
    auto log = OpenOrDie(dir.path());
    std::atomic<int> done{0};
    std::atomic<int> failed{0};
    auto buffer = std::make_unique<std::string>();
    for (int i = 0; i < kN; ++i) {
      auto on_done = [&](const Result<AppendResult>& r) {
        if (!r.ok()) failed.fetch_add(1);
        done.fetch_add(1);
      };
      const std::string stream = "s" + std::to_string(i % 7);
      if (i % 3 == 0) {
        log->AppendAsync(Req(stream, PayloadFor(i)), on_done);
        continue;
      }
      *buffer = stream + PayloadFor(i);
      log->AppendAsync(
          AppendView{std::string_view(*buffer).substr(0, stream.size()), ExpectedVersion::Any(), 1,
                     std::string_view(*buffer).substr(stream.size())},
          on_done);
      buffer->assign(buffer->size(), '#');  // what the log must not have kept a view of
    }
    buffer.reset();
    ASSERT_TRUE(log->Sync().ok());
    while (done.load() < kN) std::this_thread::yield();
    EXPECT_EQ(failed.load(), 0);
  }
  auto log = OpenOrDie(dir.path());
  for (int i = 0; i < kN; ++i) {
    auto ev = log->Read(Position(i + 1));
    ASSERT_TRUE(ev.ok()) << ev.status().ToString();
    EXPECT_EQ(ev->stream, "s" + std::to_string(i % 7));
    EXPECT_EQ(ev->payload, PayloadFor(i));
  }
}

TEST(LogTest, RecordsLargerThanTheReadChunkRoundTrip) {
  TempDir dir;
  LogOptions opts;
  opts.segment_size = 8 << 20;
  const std::string big(3 << 20, 'b');
  {
    auto log = OpenOrDie(dir.path(), opts);
    ASSERT_TRUE(log->Append(Req("s", big)).ok());
    ASSERT_TRUE(log->Append(Req("s", "small")).ok());
    ASSERT_TRUE(log->Append(Req("s", big)).ok());  // rolls over
  }
  auto log = OpenOrDie(dir.path(), opts);
  int n = 0;
  ASSERT_TRUE(log->Scan(Position(0),
                        [&](const RecordView& r) {
                          EXPECT_EQ(r.payload.size(), n == 1 ? 5u : big.size());
                          ++n;
                          return true;
                        })
                  .ok());
  EXPECT_EQ(n, 3);
}

TEST(LogTest, DurabilityModesAcknowledgeAndPersist) {
  for (Durability d : {Durability::kNone, Durability::kInterval, Durability::kSync}) {
    TempDir dir;
    LogOptions opts;
    opts.durability = d;
    opts.sync_interval = std::chrono::milliseconds(2);
    {
      auto log = OpenOrDie(dir.path(), opts);
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 100; ++i) ASSERT_TRUE(log->Append(Req("s", PayloadFor(i))).ok());
      if (d == Durability::kSync) {
        // Each acknowledged append waited for an fdatasync; their time is within the loop's.
        const LogStats stats = log->Stats();
        EXPECT_GE(stats.fsync.count(), 1u);
        const auto elapsed =
            static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::steady_clock::now() - t0)
                                      .count());
        EXPECT_LE(stats.fsync.sum_micros, elapsed);
        // Every fdatasync is in one bucket of the histogram, no longer than the whole loop.
        uint64_t counted = 0;
        for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
          counted += stats.fsync.counts[i];
          if (stats.fsync.counts[i] > 0 && i > 0) {
            EXPECT_LE(LatencyHistogram::kBoundMicros[i - 1], elapsed) << "bucket " << i;
          }
        }
        EXPECT_EQ(counted, stats.fsync.count());
      }
      if (d == Durability::kInterval) {
        // The timer syncs within a few intervals; a loaded machine gets up to 5 s.
        for (int i = 0; i < 500 && log->Stats().fsync.count() == 0; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT_GE(log->Stats().fsync.count(), 1u) << DurabilityName(d);
      }
      if (d == Durability::kNone) {
        EXPECT_EQ(log->Stats().fsync.count(), 0u);
        EXPECT_EQ(log->Stats().fsync.sum_micros, 0u);
        for (uint64_t n : log->Stats().fsync.counts) EXPECT_EQ(n, 0u);
      }
    }
    auto log = OpenOrDie(dir.path(), opts);
    EXPECT_EQ(log->committed_position(), Position(100)) << DurabilityName(d);
  }
}

TEST(LogTest, ParsesDurabilityNames) {
  Durability d{};
  EXPECT_TRUE(ParseDurability("interval", &d));
  EXPECT_EQ(d, Durability::kInterval);
  EXPECT_FALSE(ParseDurability("SYNC", &d));
}

}  // namespace
}  // namespace orderlog::testing
