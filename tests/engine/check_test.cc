// CheckLog (behind `orderlog-inspect verify`): a clean log checks clean with any number of
// threads, and every kind of damage is reported with its file and byte offset, whether it lies
// inside one segment (found by the worker checking it) or across segments (found by the merge).
#include "engine/check.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/format.h"
#include "engine/record.h"
#include "engine/segment.h"
#include "engine/segment_index.h"
#include "tests/engine/log_test_util.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

namespace f = format;

// Writes segment files, footers and .idx files by hand (CheckLog must find what the engine would
// never write), with the links and entries the engine would write unless a test changes them.
class HandLog {
 public:
  struct Rec {
    std::string stream;
    uint64_t version;
  };
  struct Parts {  // what a test may change before a segment is written
    std::vector<uint64_t> prevs;
    std::vector<std::pair<std::string, std::pair<uint64_t, uint32_t>>> entries;  // id, last, count
    SegmentFooter footer;
  };

  explicit HandLog(std::string dir) : dir_(std::move(dir)) {}

  // A segment of recs at the next positions (or at `base` when given).
  void Segment(const std::vector<Rec>& recs, bool sealed = true, uint64_t base = 0,
               const std::function<void(Parts*)>& tamper = nullptr) {
    if (base == 0) base = next_;
    std::string bytes = EncodeSegmentHeader(Position(base));
    Parts parts;
    std::vector<uint32_t> offsets;
    std::map<std::string, std::pair<uint64_t, uint32_t>> per_stream;
    uint64_t pos = base;
    for (const auto& r : recs) {
      offsets.push_back(static_cast<uint32_t>(bytes.size()));
      offsets_[pos] = bytes.size();
      parts.prevs.push_back(last_[r.stream]);
      last_[r.stream] = pos;
      auto& e = per_stream[r.stream];
      e.first = pos;
      ++e.second;
      const std::string payload = "payload of " + std::to_string(pos);
      EncodeRecord(&bytes,
                   RecordView{Position(pos), StreamVersion(r.version), 1,
                              1700000000000 + static_cast<int64_t>(pos), r.stream, payload, 0});
      ++pos;
    }
    next_ = pos;
    for (auto& [id, e] : per_stream) parts.entries.push_back({id, e});
    std::sort(parts.entries.begin(), parts.entries.end(),
              [](const auto& x, const auto& y) { return x.second.first < y.second.first; });
    parts.footer = {recs.size(), Position(pos - 1), XXH3_64bits(bytes.data(), bytes.size())};
    if (tamper) tamper(&parts);
    if (sealed) {
      bytes += EncodeSegmentFooter(parts.footer);
      std::vector<SegmentStreamEntry> entries;
      for (const auto& [id, e] : parts.entries)
        entries.push_back({id, Position(e.first), e.second});
      WriteFileBytes(dir_ + "/" + IndexFileName(Position(base)),
                     EncodeSegmentIndex(Position(base), offsets, parts.prevs, entries));
    }
    WriteFileBytes(dir_ + "/" + SegmentFileName(Position(base)), bytes);
  }

  uint64_t OffsetOf(uint64_t position) const { return offsets_.at(position); }
  std::string Seg(uint64_t base) const { return dir_ + "/" + SegmentFileName(Position(base)); }
  std::string Idx(uint64_t base) const { return dir_ + "/" + IndexFileName(Position(base)); }

 private:
  std::string dir_;
  uint64_t next_ = 1;
  std::map<std::string, uint64_t> last_;
  std::map<uint64_t, uint64_t> offsets_;
};

CheckReport Check(const std::string& dir, unsigned threads = 0) {
  CheckOptions options;
  options.threads = threads;
  auto report = CheckLog(Env::Default(), dir, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.ok() ? std::move(report).value() : CheckReport{};
}

std::string Describe(const CheckReport& r) {
  std::string out;
  for (const auto& p : r.problems) out += "  " + p.ToString() + "\n";
  return out;
}

// The one problem in file at offset; fails unless it is there.
const LogProblem* ProblemAt(const CheckReport& r, const std::string& file, uint64_t offset) {
  for (const auto& p : r.problems) {
    if (p.file == file && p.offset == offset) return &p;
  }
  ADD_FAILURE() << "no problem at " << file << " offset " << offset << "; found:\n" << Describe(r);
  return nullptr;
}

TEST(CheckTest, ALogWrittenByTheEngineIsCleanWithAnyNumberOfThreads) {
  TempDir dir;
  LogOptions options;
  options.segment_size = 4096;
  std::set<std::string> streams;
  {
    auto log = OpenOrDie(dir.path(), options);
    for (int i = 1; i <= 3000; ++i) {
      // Streams that live across many segments, and short ones that live in one.
      const std::string stream =
          i % 3 == 0 ? "long-" + std::to_string(i % 7) : "short-" + std::to_string(i / 6);
      ASSERT_TRUE(log->Append(Req(stream, PayloadFor(i))).ok());
      streams.insert(stream);
    }
  }
  std::vector<CheckReport> reports;
  for (unsigned threads : {1u, 2u, 5u}) {
    SCOPED_TRACE(threads);
    reports.push_back(Check(dir.path(), threads));
    const CheckReport& r = reports.back();
    EXPECT_TRUE(r.problems.empty()) << Describe(r);
    EXPECT_EQ(r.records, 3000u);
    EXPECT_EQ(r.streams, streams.size());
    EXPECT_EQ(r.last, Position(3000));
    EXPECT_FALSE(r.torn_tail);
    ASSERT_GT(r.segments.size(), 20u);
    for (size_t i = 0; i + 1 < r.segments.size(); ++i) {
      EXPECT_EQ(r.segments[i].index, IndexFileState::kValid) << r.segments[i].path;
      EXPECT_EQ(r.segments[i + 1].base, r.segments[i].last.next());
    }
  }
  for (size_t i = 0; i < reports[0].segments.size(); ++i) {
    EXPECT_EQ(reports[1].segments[i].path, reports[0].segments[i].path);
    EXPECT_EQ(reports[2].segments[i].records, reports[0].segments[i].records);
  }
}

TEST(CheckTest, AHandWrittenLogWithTheEnginesLinksIsClean) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}, {"a", 2}});
  log.Segment({{"b", 2}, {"c", 1}, {"a", 3}});
  log.Segment({{"c", 2}}, /*sealed=*/false);
  const CheckReport r = Check(dir.path());
  EXPECT_TRUE(r.problems.empty()) << Describe(r);
  EXPECT_EQ(r.records, 7u);
  EXPECT_EQ(r.streams, 3u);
}

TEST(CheckTest, AStreamCreatedAgainInALaterSegmentIsReportedAtThatRecord) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}});
  log.Segment({{"c", 1}, {"a", 1}});  // "a" again, version 1 (the .idx links it to 1, as written)
  for (unsigned threads : {1u, 2u}) {
    const CheckReport r = Check(dir.path(), threads);
    const LogProblem* p = ProblemAt(r, log.Seg(3), log.OffsetOf(4));
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->reason.find("stream a version 1 does not follow 1"), std::string::npos)
        << p->reason;
    EXPECT_EQ(p->cut_position, 4u);
    EXPECT_EQ(r.last, Position(3));
  }
}

TEST(CheckTest, AVersionGapInsideASegmentIsReportedAtThatRecord) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}, {"a", 2}, {"a", 4}});
  log.Segment({{"b", 2}}, /*sealed=*/false);
  const CheckReport r = Check(dir.path());
  const LogProblem* p = ProblemAt(r, log.Seg(1), log.OffsetOf(4));
  ASSERT_NE(p, nullptr);
  EXPECT_NE(p->reason.find("stream a version 4 does not follow 2"), std::string::npos) << p->reason;
  EXPECT_EQ(p->cut_position, 4u);
}

TEST(CheckTest, AVersionGapAcrossSegmentsIsReportedAtTheFirstRecordAfterIt) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"a", 2}});
  log.Segment({{"b", 1}, {"a", 5}}, /*sealed=*/false);
  const CheckReport r = Check(dir.path());
  const LogProblem* p = ProblemAt(r, log.Seg(3), log.OffsetOf(4));
  ASSERT_NE(p, nullptr);
  EXPECT_NE(p->reason.find("stream a version 5 does not follow 2"), std::string::npos) << p->reason;
}

TEST(CheckTest, AnIndexLinkThatSkipsARecordOfItsStreamIsReported) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"a", 2}});
  // Across segments: "a" at 3 follows 2, the .idx says 1.
  log.Segment({{"a", 3}, {"b", 1}}, true, 0, [](HandLog::Parts* p) { p->prevs[0] = 1; });
  // Inside a segment: "c" at 7 follows 5, the .idx says 6 (a record of "d").
  log.Segment({{"c", 1}, {"d", 1}, {"c", 2}}, true, 0, [](HandLog::Parts* p) { p->prevs[2] = 6; });
  // Inside a segment, to a record of its own stream: "e" at 10 follows 9, the .idx says 8.
  log.Segment({{"e", 1}, {"e", 2}, {"e", 3}}, true, 0, [](HandLog::Parts* p) { p->prevs[2] = 8; });
  log.Segment({{"b", 2}}, /*sealed=*/false);
  const CheckReport r = Check(dir.path());
  const LogProblem* own = ProblemAt(r, log.Idx(8), f::idx::PrevAt(3, 2));
  ASSERT_NE(own, nullptr);
  EXPECT_NE(own->reason.find("record 2 follows position 9 of its stream, the index says 8"),
            std::string::npos)
      << own->reason;
  const LogProblem* across = ProblemAt(r, log.Idx(3), f::idx::PrevAt(2, 0));
  ASSERT_NE(across, nullptr);
  EXPECT_NE(across->reason.find("record 0 follows position 2 of its stream, the index says 1"),
            std::string::npos)
      << across->reason;
  EXPECT_EQ(across->cut_position, 0u);  // the records are fine: only the .idx is wrong
  const LogProblem* inside = ProblemAt(r, log.Idx(5), f::idx::PrevAt(3, 2));
  ASSERT_NE(inside, nullptr);
  EXPECT_NE(inside->reason.find("the index says 6"), std::string::npos) << inside->reason;
  EXPECT_EQ(r.last, Position(11));
}

TEST(CheckTest, AnIndexStreamEntryThatDisagreesWithTheRecordsIsReported) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}, {"a", 2}}, true, 0, [](HandLog::Parts* p) {
    p->entries[1].second.second = 1;  // "a": 1 event (it has 2)
    p->entries[0].second.second = 2;  // "b": 2 (so the counts still add up to the records)
  });
  log.Segment({{"b", 2}}, /*sealed=*/false);
  const CheckReport r = Check(dir.path());
  bool found = false;
  for (const auto& p : r.problems) {
    found |= p.file == log.Idx(1) && p.reason.find("the index says") != std::string::npos;
  }
  EXPECT_TRUE(found) << Describe(r);
  EXPECT_EQ(r.last, Position(4));
}

TEST(CheckTest, AWholeSegmentChecksumMismatchIsReportedAtTheFooter) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}}, true, 0,
              [](HandLog::Parts* p) { p->footer.segment_checksum ^= 1; });
  log.Segment({{"a", 2}}, /*sealed=*/false);
  const CheckReport r = Check(dir.path());
  const uint64_t footer = FileSize(log.Seg(1)) - f::kFooterSize;
  const LogProblem* p = ProblemAt(r, log.Seg(1), footer + f::footer::kSegmentChecksum);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->reason, "whole-segment checksum mismatch");
  EXPECT_EQ(r.problems.size(), 1u) << Describe(r);
}

// The footer rule is ReadSegmentFrame's: opening the log refuses what CheckLog reports, at the
// same file and offset.
TEST(CheckTest, AFooterWhoseCountAndLastPositionDisagreeIsReportedAsOpenRefusesIt) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}}, true, 0,
              [](HandLog::Parts* p) { p->footer.last_position = Position(3); });
  log.Segment({{"a", 2}}, /*sealed=*/false);
  const CheckReport r = Check(dir.path());
  const uint64_t at = FileSize(log.Seg(1)) - f::kFooterSize + f::footer::kRecordCount;
  const LogProblem* p = ProblemAt(r, log.Seg(1), at);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_EQ(p->reason, "footer count and last position disagree");

  auto opened = Log::Open(dir.path(), LogOptions{});
  ASSERT_FALSE(opened.ok());
  ASSERT_NE(opened.status().damage(), nullptr) << opened.status().ToString();
  EXPECT_EQ(opened.status().damage()->file, log.Seg(1));
  EXPECT_EQ(opened.status().damage()->offset, at);
}

TEST(CheckTest, AGapBetweenSegmentsIsReportedAndTheCleanPrefixEndsBeforeIt) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}});
  log.Segment({{"a", 2}}, /*sealed=*/false, /*base=*/5);
  const CheckReport r = Check(dir.path());
  const LogProblem* p = ProblemAt(r, log.Seg(5), 0);
  ASSERT_NE(p, nullptr);
  EXPECT_NE(p->reason.find("segment starts at position 5 but the log before it ends at 2"),
            std::string::npos)
      << p->reason;
  EXPECT_EQ(r.last, Position(2));
  EXPECT_EQ(r.highest_seen, Position(5));
}

TEST(CheckTest, ADamagedRecordInASealedSegmentIsReportedAndTheRestStillChecked) {
  TempDir dir;
  HandLog log(dir.path());
  log.Segment({{"a", 1}, {"b", 1}, {"a", 2}});
  log.Segment({{"b", 3}}, /*sealed=*/false);  // a gap the check must still find past the damage
  FlipByte(log.Seg(1), log.OffsetOf(2) + f::kRecordHeaderSize + 1);
  const CheckReport r = Check(dir.path());
  const LogProblem* bad = ProblemAt(r, log.Seg(1), log.OffsetOf(2));
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->cut_position, 2u);
  ASSERT_NE(ProblemAt(r, log.Seg(4), log.OffsetOf(4)), nullptr);
  EXPECT_EQ(r.last, Position(1));
}

}  // namespace
}  // namespace orderlog::testing
