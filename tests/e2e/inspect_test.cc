// orderlog-inspect end to end: the real binary on logs written by the engine and the domain, on
// damaged copies of them, and beside a running server.
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "engine/log.h"
#include "engine/segment.h"
#include "server/domain/order_service.h"
#include "server/domain/snapshot.h"
#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

struct ToolRun {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

ToolRun RunTool(const std::vector<std::string>& args, const TempDir& scratch) {
  std::string cmd = Quote(ORDERLOG_INSPECT_PATH);
  for (const auto& a : args) cmd += " " + Quote(a);
  const std::string out = scratch.file("tool.out"), err = scratch.file("tool.err");
  cmd += " >" + Quote(out) + " 2>" + Quote(err);
  const int status = std::system(cmd.c_str());
  ToolRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFileBytes(out);
  r.err = ReadFileBytes(err);
  return r;
}

size_t CountLines(const std::string& s) {
  return std::count(s.begin(), s.end(), '\n');
}

// A log of a few segments written through the order service: creates, status changes, one
// snapshot. Returns the order ids in creation order.
std::vector<std::string> WriteOrders(const std::string& dir, int orders, bool snapshot = true) {
  domain::ServiceOptions opt;
  opt.data_dir = dir;
  opt.log.segment_size = 16 << 10;
  opt.snapshot_every = 0;
  opt.snapshot_on_close = false;
  opt.info = [](const std::string&) {};
  auto svc = domain::OrderService::Open(opt);
  EXPECT_TRUE(svc.ok()) << svc.status().ToString();
  std::vector<std::string> ids;
  for (int i = 0; i < orders; ++i) {
    auto created = (*svc)->CreateAndWait(
        domain::CreateCommand{"cust-" + std::to_string(i % 7), "product-" + std::to_string(i),
                              1 + i % 5, i % 10 == 0 ? "key-" + std::to_string(i) : ""});
    EXPECT_TRUE(created.ok());
    ids.push_back(created->id.ToString());
    if (i % 2 == 0) {
      EXPECT_TRUE(
          (*svc)->ChangeStatusAndWait({ids.back(), domain::OrderStatus::kShipped, {}}).ok());
    }
  }
  if (snapshot) {
    EXPECT_TRUE((*svc)->TakeSnapshot().ok());
  }
  EXPECT_TRUE((*svc)->Close().ok());
  return ids;
}

// The offset of record `position` in its segment file, read with the engine's own reader.

class InspectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() + "/data";
    ids_ = WriteOrders(data_, 300);
    events_ = 300 + 150;
  }
  ToolRun Run(std::vector<std::string> args) { return RunTool(args, dir_); }

  TempDir dir_;
  std::string data_;
  std::vector<std::string> ids_;
  uint64_t events_ = 0;
};

TEST_F(InspectTest, SegmentsListsEverySegmentWithItsPositionsAndIndex) {
  ToolRun r = Run({"segments", data_, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  rapidjson::Document d = Json(r.out);
  ASSERT_TRUE(d.IsArray());
  ASSERT_GE(d.Size(), 3u) << "expected several segments of 16 KiB";
  uint64_t next = 1, records = 0;
  for (rapidjson::SizeType i = 0; i < d.Size(); ++i) {
    const auto& s = d[i];
    EXPECT_EQ(s["base"].GetUint64(), next);
    next = s["last"].GetUint64() + 1;
    records += s["records"].GetUint64();
    const bool last = i + 1 == d.Size();
    EXPECT_STREQ(s["state"].GetString(), last ? "active" : "sealed");
    EXPECT_STREQ(s["index"].GetString(), last ? "none" : "valid");
    EXPECT_TRUE(s["first_timestamp"].IsString());
    EXPECT_EQ(s["bytes"].GetUint64(), FileSize(s["file"].GetString()));
  }
  EXPECT_EQ(records, events_);
  r = Run({"segments", data_});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("sealed"), std::string::npos);
  EXPECT_NE(r.out.find(std::to_string(events_) + " records"), std::string::npos) << r.out;
}

TEST_F(InspectTest, DumpDecodesEveryRecordAndFilters) {
  ToolRun r = Run({"dump", data_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(CountLines(r.out), events_);
  EXPECT_NE(r.out.find("OrderCreated customer_id=cust-0 product=product-0 quantity=1 "
                       "idempotency_key=key-0"),
            std::string::npos);

  r = Run({"dump", data_, "--json", "--from", "10", "--to", "19"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  uint64_t expect = 10;
  while (std::getline(lines, line)) {
    rapidjson::Document d = Json(line);
    EXPECT_EQ(d["position"].GetUint64(), expect++);
    EXPECT_TRUE(d["data"].IsObject());
    EXPECT_TRUE(d["order_id"].IsString());
  }
  EXPECT_EQ(expect, 20u);

  r = Run({"dump", data_, "--order", ids_[4], "--json"});
  ASSERT_EQ(r.code, 0);
  ASSERT_EQ(CountLines(r.out), 2u) << r.out;  // created, shipped
  EXPECT_NE(r.out.find("\"new_status\":\"shipped\""), std::string::npos);

  r = Run({"dump", data_, "--type", "OrderStatusChanged", "--limit", "5"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(CountLines(r.out), 5u);
  EXPECT_EQ(r.out.find("OrderCreated"), std::string::npos);

  EXPECT_EQ(Run({"dump", data_, "--type", "Nope"}).code, 2);
  EXPECT_EQ(Run({"dump", data_, "--from", "0"}).code, 2);
}

TEST_F(InspectTest, OrderShowsHistoryAndFoldedStateLikeTheApi) {
  ToolRun r = Run({"order", data_, ids_[2], "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  rapidjson::Document d = Json(r.out);
  EXPECT_STREQ(d["order"]["order_id"].GetString(), ids_[2].c_str());
  EXPECT_STREQ(d["order"]["status"].GetString(), "shipped");
  EXPECT_EQ(d["order"]["version"].GetUint64(), 2u);
  ASSERT_EQ(d["events"].Size(), 2u);
  EXPECT_STREQ(d["events"][0]["type"].GetString(), "OrderCreated");
  EXPECT_EQ(d["events"][1]["version"].GetUint64(), 2u);

  r = Run({"order", data_, ids_[3]});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("status=processing version=1"), std::string::npos) << r.out;

  EXPECT_EQ(Run({"order", data_, "00000000-0000-4000-8000-000000000000"}).code, 1);
  EXPECT_EQ(Run({"order", data_, "not-an-id"}).code, 2);
}

TEST_F(InspectTest, StatsAndSnapshotsReportTheLogAndTheModel) {
  ToolRun r = Run({"stats", data_, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  rapidjson::Document d = Json(r.out);
  EXPECT_EQ(d["events"].GetUint64(), events_);
  EXPECT_EQ(d["orders"].GetUint64(), 300u);
  EXPECT_EQ(d["events_by_type"]["OrderCreated"].GetUint64(), 300u);
  EXPECT_EQ(d["events_by_type"]["OrderStatusChanged"].GetUint64(), 150u);
  EXPECT_EQ(d["orders_by_status"]["shipped"].GetUint64(), 150u);
  EXPECT_EQ(d["orders_by_status"]["processing"].GetUint64(), 150u);
  ASSERT_EQ(d["snapshot_positions"].Size(), 1u);
  EXPECT_EQ(d["snapshot_positions"][0].GetUint64(), events_);
  EXPECT_GT(d["index_memory_bytes"].GetUint64(), 0u);
  EXPECT_GT(d["read_model_memory_bytes"].GetUint64(), 0u);
  EXPECT_GT(d["average_record_bytes"].GetDouble(), 40.0);

  r = Run({"snapshots", data_, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  d = Json(r.out);
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_TRUE(d[0]["valid"].GetBool());
  EXPECT_EQ(d[0]["position"].GetUint64(), events_);
}

TEST_F(InspectTest, TailPrintsTheLastEvents) {
  ToolRun r = Run({"tail", data_, "-n", "3", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(CountLines(r.out), 3u);
  EXPECT_NE(r.out.find("\"position\":" + std::to_string(events_)), std::string::npos);
  EXPECT_NE(r.out.find("\"position\":" + std::to_string(events_ - 2)), std::string::npos);
}

TEST_F(InspectTest, VerifyOfACleanLogExitsZero) {
  ToolRun r = Run({"verify", data_});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("(^|\n)clean: +yes\n"))) << r.out;
  r = Run({"verify", data_, "--json"});
  rapidjson::Document d = Json(r.out);
  EXPECT_TRUE(d["clean"].GetBool());
  EXPECT_EQ(d["records"].GetUint64(), events_);
  EXPECT_EQ(d["streams"].GetUint64(), 300u);
}

TEST_F(InspectTest, VerifyReportsATornTailWithFileAndOffset) {
  auto bases = *ListSegmentFiles(Env::Default(), data_);
  const std::string active = SegPath(data_, bases.back().value);
  const uint64_t size = FileSize(active);
  WriteFileBytes(active, ReadFileBytes(active) + std::string(25, '\x7f'));
  ToolRun r = Run({"verify", data_});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(active + " offset " + std::to_string(size) + ": torn tail"),
            std::string::npos)
      << r.out;

  // repair: the dry run changes nothing; --yes cuts the 25 bytes and keeps them aside.
  r = Run({"repair", data_});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("lose: no event"), std::string::npos) << r.out;
  EXPECT_EQ(FileSize(active), size + 25);
  r = Run({"repair", data_, "--yes"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(FileSize(active), size);
  EXPECT_EQ(Run({"verify", data_}).code, 0);
}

TEST_F(InspectTest, VerifyFindsAFlippedBitInASealedSegmentAndRepairCutsThere) {
  const uint64_t bad_position = 40;  // in the first, sealed segment
  const uint64_t offset = RecordOffset(data_, bad_position);
  const std::string seg = SegPath(data_, 1);
  FlipByte(seg, offset + format::kRecordHeaderSize + 3, 0x10);

  ToolRun r = Run({"verify", data_, "--json"});
  EXPECT_EQ(r.code, 1);
  rapidjson::Document d = Json(r.out);
  EXPECT_FALSE(d["clean"].GetBool());
  ASSERT_GE(d["problems"].Size(), 1u);
  EXPECT_STREQ(d["problems"][0]["file"].GetString(), seg.c_str());
  EXPECT_EQ(d["problems"][0]["offset"].GetUint64(), offset);
  EXPECT_EQ(d["last_clean_position"].GetUint64(), bad_position - 1);
  // It goes on past the damage: the records after it are still counted.
  EXPECT_EQ(d["records"].GetUint64(), events_ - 1);

  // The server refuses this log; repair (dry run first) cuts it at the bad record.
  const std::string before = ReadFileBytes(seg);
  r = Run({"repair", data_});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("keep: positions 1.." + std::to_string(bad_position - 1)), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("lose: positions " + std::to_string(bad_position) + ".." +
                       std::to_string(events_)),
            std::string::npos)
      << r.out;
  EXPECT_EQ(ReadFileBytes(seg), before);  // a dry run changes nothing

  {  // refused while someone holds the lock
    auto lock = Env::Default()->Lock(data_ + "/LOCK");
    ASSERT_TRUE(lock.ok());
    r = Run({"repair", data_, "--yes"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("holds"), std::string::npos) << r.out;
    EXPECT_EQ(ReadFileBytes(seg), before);
  }

  r = Run({"repair", data_, "--yes"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(FileSize(seg), offset);
  // The cut bytes are kept.
  const size_t side = r.out.find("kept in ");
  ASSERT_NE(side, std::string::npos);
  std::string side_dir = r.out.substr(side + 8);
  side_dir = side_dir.substr(0, side_dir.find('\n'));
  EXPECT_EQ(ReadFileBytes(side_dir + "/" + SegmentFileName(Position(1)) + ".from-offset-" +
                          std::to_string(offset)),
            before.substr(offset));

  EXPECT_EQ(Run({"verify", data_}).code, 0);
  // The server opens the repaired log and keeps everything before the cut.
  ServerProcess server(data_);
  ASSERT_TRUE(server.started()) << server.FullOutput();
  HttpClient client(server.port());
  HttpResponse h = client.Request("GET", "/health");
  EXPECT_EQ(Json(h.body)["position"].GetUint64(), bad_position - 1);
  HttpResponse o = client.Request("GET", "/orders/" + ids_[0] + "/");
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(client.Request("POST", "/orders/", OrderBody()).status, 201);
}

TEST_F(InspectTest, VerifyReportsABadIndexFileAndRepairMovesItAside) {
  const std::string idx = data_ + "/" + IndexFileName(Position(1));
  FlipByte(idx, format::idx::OffsetAt(1));  // a record offset; the .idx checksum now fails
  ToolRun r = Run({"verify", data_, "--json"});
  EXPECT_EQ(r.code, 1);
  rapidjson::Document d = Json(r.out);
  ASSERT_EQ(d["problems"].Size(), 1u) << r.out;
  EXPECT_STREQ(d["problems"][0]["file"].GetString(), idx.c_str());
  EXPECT_EQ(d["last_clean_position"].GetUint64(), events_);  // the records are fine
  r = Run({"segments", data_, "--json"});
  EXPECT_STREQ(Json(r.out)[0]["index"].GetString(), "invalid");

  r = Run({"repair", data_, "--yes"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("move aside: " + idx), std::string::npos) << r.out;
  EXPECT_FALSE(Env::Default()->Exists(idx));
  r = Run({"verify", data_});
  EXPECT_EQ(r.code, 0) << r.out;  // a missing .idx is not damage: the next open rebuilds it
  r = Run({"dump", data_});
  EXPECT_EQ(CountLines(r.out), events_);
}

TEST_F(InspectTest, VerifyReportsACorruptSnapshotWithFileAndOffset) {
  auto snaps = domain::ListSnapshots(Env::Default(), data_);
  ASSERT_EQ(snaps.size(), 1u);
  FlipByte(snaps[0].path, domain::kSnapshotHeaderSize + 100);
  ToolRun r = Run({"verify", data_});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(snaps[0].path + " offset 48: snapshot body checksum mismatch"),
            std::string::npos)
      << r.out;
  r = Run({"snapshots", data_});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("INVALID"), std::string::npos);
}

TEST(InspectExitCodes, UnusableArgumentsOrDirectoryExitTwo) {
  TempDir dir;
  EXPECT_EQ(RunTool({"verify", dir.path() + "/missing"}, dir).code, 2);
  EXPECT_EQ(RunTool({"frobnicate", dir.path()}, dir).code, 2);
  EXPECT_EQ(RunTool({"verify"}, dir).code, 2);
  EXPECT_EQ(RunTool({}, dir).code, 2);
  ToolRun help = RunTool({"dump", "--help"}, dir);
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--from"), std::string::npos);
}

TEST(InspectLive, WorksBesideARunningServerAndTailFollows) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  ServerProcess server(data, {"--segment-size-mib", "1"});
  ASSERT_TRUE(server.started()) << server.FullOutput();
  std::atomic<bool> stop{false};
  std::atomic<int> created{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      HttpClient c(server.port());
      while (!stop) {
        if (c.Request("POST", "/orders/", OrderBody("live", std::string(200, 'x'))).status == 201) {
          ++created;
        }
      }
    });
  }
  // Enough to roll a 1 MiB segment before the checks start; more rolls happen during them.
  while (created < 4000) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  // tail -f in the background, writing to a file.
  const std::string tail_out = dir.file("tail.out");
  const std::string cmd = Quote(ORDERLOG_INSPECT_PATH) + " tail " + Quote(data) + " -n 1 -f >" +
                          Quote(tail_out) + " 2>&1 & echo $!";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  int tail_pid = 0;
  ASSERT_EQ(std::fscanf(p, "%d", &tail_pid), 1);
  pclose(p);

  // Everything read-only works while the server writes (several segments roll meanwhile).
  for (int round = 0; round < 3; ++round) {
    ToolRun v = RunTool({"verify", data}, dir);
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    ToolRun segments = RunTool({"segments", data}, dir);
    EXPECT_EQ(segments.code, 0) << segments.out << segments.err;
    ToolRun d = RunTool({"dump", data, "--limit", "100"}, dir);
    EXPECT_EQ(d.code, 0) << d.err;
    EXPECT_EQ(CountLines(d.out), 100u);
    ToolRun stats = RunTool({"stats", data}, dir);
    EXPECT_EQ(stats.code, 0) << stats.out << stats.err;
  }
  stop = true;
  for (auto& w : writers) w.join();
  EXPECT_GE(ListSegmentFiles(Env::Default(), data)->size(), 2u);
  HttpClient c(server.port());
  const std::string marker =
      Json(c.Request("POST", "/orders/", OrderBody("the-last-one")).body)["order_id"].GetString();
  // tail -f prints the last order within a few seconds, having followed every roll-over.
  std::string seen;
  for (int i = 0; i < 100 && seen.find(marker) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = ReadFileBytes(tail_out);
  }
  kill(tail_pid, SIGTERM);
  EXPECT_NE(seen.find(marker), std::string::npos) << seen.substr(0, 2000);
  EXPECT_EQ(seen.find("problem"), std::string::npos) << seen.substr(0, 2000);
  // Every event tail printed follows the one before it.
  std::istringstream lines(seen);
  std::string line;
  uint64_t prev = 0;
  while (std::getline(lines, line)) {
    const uint64_t pos = std::stoull(line.substr(0, line.find(' ')));
    if (prev != 0) {
      EXPECT_EQ(pos, prev + 1) << line;
    }
    prev = pos;
  }
  EXPECT_EQ(server.Terminate(), 0);
  EXPECT_EQ(RunTool({"verify", data}, dir).code, 0);
}

}  // namespace
}  // namespace orderlog::testing
