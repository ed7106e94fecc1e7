// Pipelining and connection closing (../shared/API.md, "HTTP/1.1 behaviour"), against the real
// server over real sockets: every request of a pipelined batch is answered, in order, also when
// an earlier one is a write answered later from the log's writer thread; Connection: close and
// HTTP/1.0 close after the answer; a client that sends without reading is bounded.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
}

std::string Post(const std::string& body) {
  return "POST /orders/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string Put(const std::string& id, const std::string& status) {
  const std::string body = "{\"new_status\": \"" + status + "\"}";
  return "PUT /orders/" + id +
         "/status/ HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// 1,000 requests in one write, mixing writes and reads so that each answer can only be right if
// every request before it was applied, once, and answered before it:
//   POST a new order · GET /health (its position counts the writes so far) ·
//   PUT an existing order to shipped · GET that order (shipped, version 2).
TEST_F(E2eTest, AThousandPipelinedRequestsAreAllAnsweredInOrderAndEachWriteAppliedOnce) {
  constexpr int kRounds = 250;
  std::vector<std::string> ids;
  for (int j = 0; j < kRounds; ++j) ids.push_back(Create(OrderBody("pre" + std::to_string(j))));
  const uint64_t base = Position();

  std::string batch;
  for (int j = 0; j < kRounds; ++j) {
    batch += Post(OrderBody("piped" + std::to_string(j)));
    batch += Get("/health");
    batch += Put(ids[static_cast<size_t>(j)], "shipped");
    batch += Get("/orders/" + ids[static_cast<size_t>(j)] + "/");
  }
  HttpClient c(server_->port(), std::chrono::seconds(30));
  ASSERT_TRUE(c.Send(batch));
  uint64_t writes = 0;
  for (int j = 0; j < kRounds; ++j) {
    const HttpResponse created = c.ReadResponse();
    ASSERT_EQ(created.status, 201) << "round " << j << ": " << created.body;
    ++writes;
    const HttpResponse health = c.ReadResponse();
    ASSERT_EQ(health.status, 200) << "round " << j;
    EXPECT_EQ(Json(health.body)["position"].GetUint64(), base + writes) << "round " << j;
    const HttpResponse put = c.ReadResponse();
    ASSERT_EQ(put.status, 200) << "round " << j << ": " << put.body;
    ++writes;
    EXPECT_EQ(put.header("etag"), "\"2\"");
    const HttpResponse got = c.ReadResponse();
    ASSERT_EQ(got.status, 200) << "round " << j;
    rapidjson::Document order = Json(got.body);
    EXPECT_STREQ(order["status"].GetString(), "shipped");
    EXPECT_EQ(order["version"].GetInt(), 2);
    EXPECT_EQ(order["order_id"].GetString(), ids[static_cast<size_t>(j)]);
  }
  // Nothing more was answered, and nothing was applied twice.
  EXPECT_EQ(Position(), base + 2 * kRounds);
  const HttpResponse list = client_->Request("GET", "/orders/?limit=1000");
  EXPECT_EQ(list.header("x-total-count"), std::to_string(2 * kRounds));
  EXPECT_EQ(c.Request("GET", "/health").status, 200);  // the connection goes on
}

// A refused request in a batch is answered in its turn, after the ones before it, and closes the
// connection: nothing after it is answered or applied.
TEST_F(E2eTest, ARefusedRequestInABatchIsAnsweredInItsTurnAndNothingAfterItRuns) {
  HttpClient c(server_->port(), std::chrono::seconds(10));
  ASSERT_TRUE(c.Send(Post(OrderBody("first")) + Get("/health") +
                     "GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n" +
                     Post(OrderBody("never"))));
  EXPECT_EQ(c.ReadResponse().status, 201);
  const HttpResponse health = c.ReadResponse();
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(Json(health.body)["position"].GetUint64(), 1u);
  const HttpResponse refused = c.ReadResponse();
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.header("connection"), "Close");
  EXPECT_TRUE(c.ServerClosed());
  EXPECT_EQ(Position(), 1u);
}

// A field Pistache would fail to parse (it answers those itself: 415, or a 500 with its
// exception's text, ahead of the answers batched for the requests before it) is a JSON 400 in
// its turn, like any malformed request.
TEST_F(E2eTest, AFieldPistacheCannotParseIsAJson400InItsTurn) {
  for (const std::string field : {"Cookie: =;;", "Date: yesterday", "Accept: ;;;",
                                  "Cache-Control: max-age=soon", "Content-Type: a/b;;c"}) {
    HttpClient c(server_->port(), std::chrono::seconds(10));
    ASSERT_TRUE(c.Send(Get("/health") + Get("/health", field + "\r\n") + Get("/health")));
    EXPECT_EQ(c.ReadResponse().status, 200) << field;
    const HttpResponse refused = c.ReadResponse();
    EXPECT_EQ(refused.status, 400) << field;
    EXPECT_TRUE(Json(refused.body)["detail"].IsString()) << field << ": " << refused.body;
    EXPECT_TRUE(c.ServerClosed()) << field;
  }
  EXPECT_EQ(client_->Request("GET", "/health").status, 200);
}

// Requests split anywhere (one byte at a time) and requests sharing a read are the same stream.
TEST_F(E2eTest, PipelinedRequestsSplitAtEveryByteAreAnsweredInOrder) {
  const std::string id = Create();
  const std::string batch = Get("/orders/" + id + "/") + Put(id, "shipped") +
                            Get("/orders/" + id + "/") + Put(id, "delivered") +
                            Get("/orders/" + id + "/events/");
  HttpClient c(server_->port(), std::chrono::seconds(10));
  for (char ch : batch) {
    ASSERT_TRUE(c.Send(std::string(1, ch)));
  }
  EXPECT_EQ(Json(c.ReadResponse().body)["version"].GetInt(), 1);
  EXPECT_EQ(c.ReadResponse().status, 200);
  EXPECT_EQ(Json(c.ReadResponse().body)["version"].GetInt(), 2);
  EXPECT_EQ(c.ReadResponse().status, 200);
  const HttpResponse events = c.ReadResponse();
  EXPECT_EQ(events.status, 200);
  EXPECT_EQ(Json(events.body).GetArray().Size(), 3u);
}

TEST_F(E2eTest, ConnectionCloseIsAnsweredThenClosedAndNothingAfterItRuns) {
  HttpClient c(server_->port(), std::chrono::seconds(10));
  ASSERT_TRUE(c.Send(Get("/health") + Get("/health", "Connection: close\r\n") +
                     Post(OrderBody("after close"))));
  EXPECT_EQ(c.ReadResponse().status, 200);
  const HttpResponse last = c.ReadResponse();
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.header("connection"), "Close");
  EXPECT_TRUE(c.ServerClosed());
  EXPECT_EQ(Position(), 0u);

  // Every Connection field counts, not only the first: the answer says Close, and it is.
  HttpClient two(server_->port(), std::chrono::seconds(10));
  ASSERT_TRUE(two.Send(Get("/health", "Connection: keep-alive\r\nConnection: close\r\n")));
  const HttpResponse both = two.ReadResponse();
  EXPECT_EQ(both.status, 200);
  EXPECT_EQ(both.header("connection"), "Close");
  EXPECT_TRUE(two.ServerClosed());

  // A write that asks to close is answered once durable, then closed.
  HttpClient w(server_->port(), std::chrono::seconds(10));
  const std::string order = OrderBody();
  ASSERT_TRUE(w.Send("POST /orders/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(order.size()) + "\r\n\r\n" + order));
  EXPECT_EQ(w.ReadResponse().status, 201);
  EXPECT_TRUE(w.ServerClosed());
  EXPECT_EQ(Position(), 1u);

  // Counted once the clients have closed their side too.
  c.Reconnect();
  two.Reconnect();
  w.Reconnect();
  std::string body_seen;
  for (int i = 0; i < 100; ++i) {
    body_seen = client_->Request("GET", "/metrics").body;
    if (body_seen.find("orderlog_http_connections_closed_total{reason=\"requested\"} 3") !=
        std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(body_seen.find("orderlog_http_connections_closed_total{reason=\"requested\"} 3"),
            std::string::npos)
      << body_seen;
}

TEST_F(E2eTest, Http10ClosesUnlessItAsksForKeepAlive) {
  HttpClient once(server_->port(), std::chrono::seconds(10));
  const HttpResponse r = once.Raw("GET /health HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(once.ServerClosed());

  HttpClient kept(server_->port(), std::chrono::seconds(10));
  for (int i = 0; i < 3; ++i) {
    const HttpResponse k = kept.Raw("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(k.status, 200);
    EXPECT_EQ(k.header("connection"), "Keep-Alive");
  }
  // Still open: a fourth request on it is answered (HttpClient::Raw does not reconnect).
  EXPECT_EQ(kept.Raw("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").status, 200);
}

// What the server may grow by while it holds a client back: the guard's bound (16 MiB, pieces
// counted with their overhead) and the allocator's slack; a sanitizer build's shadow memory and
// quarantine grow with every byte the server touches, several times over.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr long kAllowedGrowthKib = 192 * 1024;
#else
constexpr long kAllowedGrowthKib = 48 * 1024;
#endif

// A client that pipelines without ever reading its answers costs the server a bounded amount of
// memory: it is not handed more requests while its answers are unread, the server stops reading
// from it (its sends block), and if it still gets past the guard's bound it is dropped. Others are
// served throughout.
TEST_F(E2eTest, AClientThatSendsWithoutReadingIsHeldBackAndBounded) {
  const long before = ResidentKib(server_->pid());
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  std::string chunk;
  while (chunk.size() < 64 * 1024) chunk += Get("/health");
  size_t sent = 0;
  bool dropped = false;
  bool held_back = false;
  auto last_progress = std::chrono::steady_clock::now();
  while (sent < (256u << 20) && !dropped && !held_back) {
    const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      last_progress = std::chrono::steady_clock::now();
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      held_back = std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(2);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else {
      dropped = true;  // EPIPE / ECONNRESET: the server closed it
    }
  }
  EXPECT_TRUE(held_back || dropped) << "sent " << sent << " bytes and the server read them all";
  // How much the client could send depends on the kernel's socket buffers (tens of MiB on
  // loopback here); what the server keeps of it is the guard's bound.
  EXPECT_EQ(client_->Request("GET", "/health").status, 200);  // others are served meanwhile
  const long after = ResidentKib(server_->pid());
  EXPECT_LT(after - before, kAllowedGrowthKib) << "KiB before " << before << ", after " << after;
  ::close(fd);
  EXPECT_EQ(client_->Request("GET", "/health").status, 200);
  if (dropped) {
    const HttpResponse m = client_->Request("GET", "/metrics");
    EXPECT_NE(m.body.find("orderlog_http_connections_closed_total{reason=\"slow_reader\"} 1"),
              std::string::npos)
        << m.body;
  }
}

}  // namespace
}  // namespace orderlog::testing
