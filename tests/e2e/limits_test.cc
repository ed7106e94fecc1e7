// Size limits and the Pistache 0.0.5 pitfalls: 413 closes the connection and nothing after it is
// parsed (no request smuggling), long request lines and headers get a 4xx, responses sent from
// the committer thread never stall.
#include <atomic>
#include <thread>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

// A valid order whose JSON body is exactly `size` bytes.
std::string BodyOfSize(size_t size) {
  const std::string head = "{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":1,\"pad\":\"";
  const std::string tail = "\"}";
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

TEST_F(E2eTest, BodyLimitIsExactAndAppliesToChunkedBodies) {
  HttpResponse r = client_->Request("POST", "/orders/", BodyOfSize(65536));
  EXPECT_EQ(r.status, 201) << r.body;
  r = client_->Request("POST", "/orders/", BodyOfSize(65537));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(Json(r.body)["detail"].IsString());
  EXPECT_TRUE(client_->ServerClosed());
  client_->Reconnect();

  // Chunked, under and over the limit.
  auto chunked = [](const std::string& body) {
    std::string out = "POST /orders/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t i = 0; i < body.size(); i += 1000) {
      const std::string part = body.substr(i, 1000);
      char size[16];
      std::snprintf(size, sizeof(size), "%zx\r\n", part.size());
      out += size + part + "\r\n";
    }
    return out + "0\r\n\r\n";
  };
  r = client_->Raw(chunked(OrderBody()));
  EXPECT_EQ(r.status, 201) << r.body;
  client_->Reconnect();
  r = client_->Raw(chunked(BodyOfSize(70000)));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(client_->ServerClosed());
  client_->Reconnect();
  EXPECT_EQ(Position(), 2u);
}

TEST_F(E2eTest, DeclaredOversizeIsRefusedWithoutReadingTheBody) {
  // Only the head is sent; the answer must come anyway, and the connection must close.
  HttpResponse r =
      client_->Raw("POST /orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(client_->ServerClosed());
  client_->Reconnect();
  // Precedence: an unknown route is a 404 even when the body is too large.
  r = client_->Raw("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
  EXPECT_EQ(r.status, 404);
}

TEST_F(E2eTest, NothingAfterARefusedBodyIsParsedAsARequest) {
  // The attack that works on plain Pistache 0.0.5: a smuggled request inside an oversized body.
  const std::string smuggled =
      "POST /orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(OrderBody().size()) +
      "\r\n\r\n" + OrderBody();
  std::string body(70000, 'a');
  for (size_t off : {4096u, 8192u, 16384u, 65536u}) body.replace(off, smuggled.size(), smuggled);
  const std::string request =
      "POST /orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  HttpClient c(server_->port(), std::chrono::seconds(5));
  HttpResponse r = c.Raw(request);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(c.ReadResponse().status, 0);  // no second response
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Position(), 0u);  // and no order was created
}

TEST_F(E2eTest, OverlongRequestLinesAndHeadersGetA4xx) {
  HttpResponse r = client_->Raw("GET /orders/?x=" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 414);
  client_->Reconnect();
  r = client_->Raw("GET /orders/ HTTP/1.1\r\nX-Big: " + std::string(40000, 'b') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  client_->Reconnect();
  std::string many = "GET /orders/ HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  r = client_->Raw(many + "\r\n");
  EXPECT_EQ(r.status, 431);
  client_->Reconnect();
  EXPECT_EQ(client_->Request("GET", "/health").status, 200);
}

TEST_F(E2eTest, ConcurrentWritesAreAnsweredWithoutStalls) {
  constexpr int kThreads = 32;
  constexpr int kPerThread = 50;
  std::atomic<int> created{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // A 5 s deadline per request: a lost wake-up would fail here instead of hanging.
      HttpClient c(server_->port(), std::chrono::seconds(5));
      for (int i = 0; i < kPerThread; ++i) {
        HttpResponse r = c.Request("POST", "/orders/", OrderBody("t" + std::to_string(t)));
        (r.status == 201 ? created : failed)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), kThreads * kPerThread);
  EXPECT_EQ(Position(), static_cast<uint64_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace orderlog::testing
