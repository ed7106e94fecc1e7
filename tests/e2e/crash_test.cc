// Durability of acknowledged writes against kill -9, and clean draining on SIGTERM.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

// Writers create orders and ship them until the server dies; returns what was acknowledged.
struct Acked {
  std::mutex mu;
  std::set<std::string> created;
  std::set<std::string> shipped;
};

void Load(uint16_t port, Acked* acked, std::atomic<bool>* stop, int threads) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([=] {
      HttpClient c(port, std::chrono::seconds(5));
      while (!stop->load()) {
        HttpResponse r = c.Request("POST", "/orders/", OrderBody("crash"));
        if (r.status != 201) break;
        const std::string id = Json(r.body)["order_id"].GetString();
        {
          std::lock_guard lk(acked->mu);
          acked->created.insert(id);
        }
        r = c.Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"shipped\"}");
        if (r.status != 200) break;
        std::lock_guard lk(acked->mu);
        acked->shipped.insert(id);
      }
    });
  }
  for (auto& th : ts) th.join();
}

TEST(CrashTest, KillDashNineLosesNoAcknowledgedWriteAndLeavesNoGap) {
  TempDir dir;
  Acked acked;
  for (int round = 0; round < 3; ++round) {
    ServerProcess server(dir.path(), {"--snapshot-every", "500"});
    ASSERT_TRUE(server.started()) << server.output();
    std::atomic<bool> stop{false};
    std::thread load([&] { Load(server.port(), &acked, &stop, 8); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 200 * round));
    server.Kill();  // SIGKILL mid-flight
    stop = true;
    load.join();
  }
  ServerProcess server(dir.path());
  ASSERT_TRUE(server.started()) << server.output();
  HttpClient c(server.port());
  ASSERT_GT(acked.created.size(), 0u);
  for (const auto& id : acked.created) {
    HttpResponse r = c.Request("GET", "/orders/" + id + "/");
    ASSERT_EQ(r.status, 200) << "acknowledged order lost: " << id;
    if (acked.shipped.count(id)) {
      EXPECT_STREQ(Json(r.body)["status"].GetString(), "shipped");
    }
  }
  // The feed is gap-free from 1 and every event belongs to a legal history.
  uint64_t expect = 1;
  for (uint64_t after = 0;;) {
    auto page =
        Json(c.Request("GET", "/events/?after=" + std::to_string(after) + "&limit=10000").body);
    if (page.Size() == 0) break;
    for (const auto& ev : page.GetArray()) EXPECT_EQ(ev["position"].GetUint64(), expect++);
    after = expect - 1;
  }
  EXPECT_EQ(expect - 1, Json(c.Request("GET", "/health").body)["position"].GetUint64());
}

TEST(CrashTest, SigtermDrainsInFlightWrites) {
  TempDir dir;
  ServerProcess server(dir.path());
  ASSERT_TRUE(server.started());
  constexpr int kClients = 16;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<HttpClient>(server.port()));
  const std::string body = OrderBody();
  const std::string request =
      "POST /orders/ HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  for (auto& c : clients) ASSERT_TRUE(c->Send(request));
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::thread stopper([&] { EXPECT_EQ(server.Terminate(), 0); });
  int answered = 0;
  std::vector<std::string> ids;
  for (auto& c : clients) {
    HttpResponse r = c->ReadResponse();
    if (r.status == 201) {
      ++answered;
      ids.push_back(Json(r.body)["order_id"].GetString());
    } else {
      EXPECT_TRUE(r.status == 0 || r.status == 503) << r.status;  // not yet accepted: refused
    }
  }
  stopper.join();
  EXPECT_GT(answered, 0);
  ServerProcess again(dir.path());
  ASSERT_TRUE(again.started());
  EXPECT_NE(again.output().find("replayed=0"), std::string::npos)  // closing snapshot covered all
      << again.output();
  HttpClient c(again.port());
  for (const auto& id : ids) EXPECT_EQ(c.Request("GET", "/orders/" + id + "/").status, 200);
}

}  // namespace
}  // namespace orderlog::testing

namespace orderlog::testing {
namespace {

// A client that disconnects before its write is answered: Pistache 0.0.5 throws from send() on
// the committer thread. The server must shrug it off (this used to abort the process).
TEST_F(E2eTest, ClientsThatHangUpBeforeTheAnswerDoNotHurtTheServer) {
  const std::string body = OrderBody();
  const std::string request =
      "POST /orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  for (int i = 0; i < 50; ++i) {
    HttpClient c(server_->port());
    ASSERT_TRUE(c.Send(request));
  }  // each closes at once
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(client_->Request("GET", "/health").status, 200);
  EXPECT_EQ(Position(), 50u);  // the writes themselves were durable
  client_.reset();
  EXPECT_EQ(server_->Terminate(), 0) << server_->FullOutput();
  // Nothing was left counted as in flight: the drain ended at once.
  EXPECT_NE(server_->FullOutput().find("stopped (drained"), std::string::npos)
      << server_->FullOutput();
}

}  // namespace
}  // namespace orderlog::testing
