// HTTP/1.1 framing rules of ../shared/API.md ("HTTP/1.1 behaviour"), against the real server over
// real sockets: malformed field lines, bare line endings, Host, Expect. Every refusal is a JSON
// 4xx, the connection is closed after it, and nothing is appended.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

// The tests that run the server out of descriptors on purpose do not run in the ASan+UBSan build:
// that runtime needs descriptors of its own while the server has none (UBSan's vptr check opens a
// pipe to learn whether memory is readable, and reports valid objects as invalid when it cannot;
// reports are symbolized from files), and ASan's slowdown lets a connection flood outrun the
// server's closing. They run in the release and TSan builds.
#if defined(__SANITIZE_ADDRESS__)
#define ORDERLOG_SKIP_IF_DESCRIPTOR_STARVED_SANITIZER() \
  GTEST_SKIP() << "ASan/UBSan runtime needs descriptors the test takes away"
#else
#define ORDERLOG_SKIP_IF_DESCRIPTOR_STARVED_SANITIZER() \
  do {                                                  \
  } while (false)
#endif

// A POST /orders/ with a valid body whose head carries `fields` (each with its own line ending).
std::string PostWith(const std::string& fields) {
  const std::string body = OrderBody();
  return "POST /orders/ HTTP/1.1\r\n" + fields +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

TEST_F(E2eTest, MalformedFieldLinesAre400AndCloseAndChangeNothing) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no colon", PostWith("Host: x\r\nNoColonHere\r\n")},
      {"empty name", PostWith("Host: x\r\n: value\r\n")},
      {"space before the colon", PostWith("Host : x\r\n")},
      {"space inside the name", PostWith("Host: x\r\nX Bad: 1\r\n")},
      {"non-token name", PostWith("Host: x\r\nX(Bad): 1\r\n")},
      {"obsolete line folding", PostWith("Host: x\r\nX-A: 1\r\n  continued\r\n")},
      {"bare CR in a line", PostWith("Host: x\r\nX-A: 1\r2\r\n")},
      {"bare LF line ending", PostWith("Host: x\nX-A: 1\r\n")},
      {"control character in a value", PostWith("Host: x\r\nX-A: a\x01z\r\n")},
      {"NUL in a value", PostWith(std::string("Host: x\r\nX-A: a\0z\r\n", 19))},
      {"missing Host", PostWith("")},
      {"two Hosts", PostWith("Host: x\r\nHost: y\r\n")},
      {"bare LF head", "GET /health HTTP/1.1\nHost: x\n\n"},
  };
  for (const auto& [what, bytes] : cases) {
    HttpClient c(server_->port(), std::chrono::seconds(5));
    const HttpResponse r = c.Raw(bytes);
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    EXPECT_TRUE(r.body.find("\"detail\"") != std::string::npos) << what << ": " << r.body;
    EXPECT_EQ(r.header("connection"), "Close") << what;
    EXPECT_TRUE(c.ServerClosed()) << what;
  }
  EXPECT_EQ(Position(), 0u);  // none of them was appended
}

TEST_F(E2eTest, HostIsNotRequiredOfHttp10AndTheWellFormedStillPass) {
  HttpClient c(server_->port(), std::chrono::seconds(5));
  HttpResponse r = c.Raw("GET /health HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  c.Reconnect();
  // Optional whitespace around values, tabs, obs-text and every token character in a name.
  r = c.Raw(PostWith("Host:x\r\nX-Tab:\tv\t\r\nX-Obs: caf\xc3\xa9\r\nX!#$%&'*+-.^_`|~1: t\r\n"));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Position(), 1u);
}

// HEAD on every GET route: the GET answer's status and headers (its length included), no body;
// and no body on a HEAD that is refused either.
TEST_F(E2eTest, HeadIsAnsweredOnEveryGetRouteWithTheHeadersAndNoBody) {
  const std::string id = Create();
  for (const std::string& path :
       std::vector<std::string>{"/orders/", "/orders/" + id + "/", "/orders/" + id + "/events/",
                                "/events/", "/health", "/metrics", "/orders/?status=processing"}) {
    const HttpResponse get = client_->Request("GET", path);
    ASSERT_EQ(get.status, 200) << path;
    const HttpResponse head = client_->Request("HEAD", path);
    EXPECT_EQ(head.status, 200) << path;
    EXPECT_TRUE(head.body.empty()) << path;
    EXPECT_EQ(head.header("content-type"), get.header("content-type")) << path;
    EXPECT_EQ(head.header("etag"), get.header("etag")) << path;
    EXPECT_EQ(head.header("x-total-count"), get.header("x-total-count")) << path;
    if (path != "/metrics") {  // the metrics page grows between the two requests
      EXPECT_EQ(head.header("content-length"), std::to_string(get.body.size())) << path;
    }
  }
  // The connection is still in step: the next answer is the next request's, whole.
  EXPECT_EQ(client_->Request("GET", "/orders/" + id + "/").status, 200);

  HttpResponse r = client_->Request("HEAD", "/orders/not-an-id/");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.body.empty());
  EXPECT_NE(r.header("content-length"), "0");
  r = client_->Request("HEAD", "/orders/" + id + "/status/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "PUT");
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(client_->Request("GET", "/health").status, 200);

  // Refused by the guard (a malformed field line): 400 without a body, then closed.
  HttpClient raw(server_->port(), std::chrono::seconds(5));
  ASSERT_TRUE(raw.Send("HEAD /health HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"));
  r = raw.ReadResponse(/*to_head=*/true);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(raw.ServerClosed());
}

TEST_F(E2eTest, ExpectContinueGetsA100BeforeTheBodyIsSent) {
  const std::string body = OrderBody();
  HttpClient c(server_->port(), std::chrono::seconds(5));
  ASSERT_TRUE(
      c.Send("POST /orders/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
             "Content-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  HttpResponse r = c.ReadResponse();
  EXPECT_EQ(r.status, 100);
  ASSERT_TRUE(c.Send(body));
  r = c.ReadResponse();
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Position(), 1u);
}

TEST_F(E2eTest, ExpectContinueOnARefusedRequestGetsTheFinalAnswerAndNo100) {
  HttpClient c(server_->port(), std::chrono::seconds(5));
  // Too big: 413 at once, the body never asked for.
  HttpResponse r = c.Raw(
      "POST /orders/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n"
      "\r\n");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_TRUE(c.ServerClosed());
  // An unknown route: 404 first, as the contract orders the checks.
  c.Reconnect();
  r = c.Raw(
      "POST /nowhere HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(E2eTest, AnyOtherExpectationIs417) {
  HttpClient c(server_->port(), std::chrono::seconds(5));
  const HttpResponse r = c.Raw(PostWith("Host: x\r\nExpect: something-else\r\n"));
  EXPECT_EQ(r.status, 417) << r.body;
  EXPECT_TRUE(c.ServerClosed());
  EXPECT_EQ(Position(), 0u);
}

TEST_F(E2eTest, ConnectionsBeyondTheCapAre503AndTheOpenOnesAreStillServed) {
  Restart({"--max-connections", "3"});
  EXPECT_EQ(client_->Request("GET", "/health").status, 200);  // connection 1
  auto second = std::make_unique<HttpClient>(server_->port(), std::chrono::seconds(5));
  HttpClient third(server_->port(), std::chrono::seconds(5));
  EXPECT_EQ(second->Request("GET", "/health").status, 200);
  EXPECT_EQ(third.Request("GET", "/health").status, 200);

  HttpClient fourth(server_->port(), std::chrono::seconds(5));
  HttpResponse r = fourth.Raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("\"detail\""), std::string::npos);
  EXPECT_TRUE(fourth.ServerClosed());
  EXPECT_EQ(third.Request("GET", "/health").status, 200);  // the open ones go on

  const HttpResponse m = client_->Request("GET", "/metrics");
  EXPECT_NE(m.body.find("orderlog_http_open_connections 3"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("orderlog_http_connections_refused_total 1"), std::string::npos);

  // A closed connection frees its place.
  second.reset();
  HttpResponse fifth;
  for (int i = 0; i < 50 && fifth.status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    HttpClient c(server_->port(), std::chrono::seconds(5));
    fifth = c.Request("GET", "/health");
  }
  EXPECT_EQ(fifth.status, 200);
}

TEST_F(E2eTest, AHeadThatNeverEndsIs408AndClosedAfterTheHeaderTimeout) {
  Restart({"--header-timeout", "1"});
  HttpClient c(server_->port(), std::chrono::seconds(5));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send("GET /health HTTP/1.1\r\nHost: x\r\n"));  // and never the empty line
  const HttpResponse r = c.ReadResponse();
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 408);
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_TRUE(c.ServerClosed());
}

// The idle timeout closes a kept-alive connection, and the open-connection gauge counts it out.
TEST_F(E2eTest, AnIdleConnectionIsClosedAfterTheIdleTimeoutAndNoLongerCounted) {
  Restart({"--idle-timeout", "1"});
  client_.reset();  // connected and silent: not idle but waiting for a head, so not counted out
  HttpClient idle(server_->port(), std::chrono::seconds(5));
  ASSERT_EQ(idle.Request("GET", "/health").status, 200);
  EXPECT_TRUE(idle.ServerClosed(std::chrono::milliseconds(5000)));
  // Only the connection asking is open once the server has forgotten the idle ones (at the
  // latest at its next purge).
  std::string body;
  for (int i = 0; i < 100; ++i) {
    HttpClient asker(server_->port(), std::chrono::seconds(5));
    body = asker.Request("GET", "/metrics").body;
    if (body.find("orderlog_http_open_connections 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(body.find("orderlog_http_open_connections 1\n"), std::string::npos) << body;
}

// Slowloris: the server runs with an open-file limit of 256 (soft and hard, as under prlimit),
// and twice that many connections are opened that send nothing or half a request. Meanwhile a
// new client's GET /health is answered within 100 ms (the connection quiet the longest makes
// room for it), and afterwards the server closes the idle and half-sent ones by itself.
TEST_F(E2eTest, SlowlorisConnectionsDoNotKeepANewClientOut) {
  ORDERLOG_SKIP_IF_DESCRIPTOR_STARVED_SANITIZER();
  client_.reset();
  ASSERT_EQ(server_->Terminate(), 0);
  server_ = std::make_unique<ServerProcess>(
      dir_.path() + "/data",
      std::vector<std::string>{"--header-timeout", "2", "--idle-timeout", "2"}, 256);
  ASSERT_TRUE(server_->started()) << server_->output();
  std::vector<int> attackers;
  for (int i = 0; i < 512; ++i) {
    const int fd =
        ConnectLoopback(server_->port(), std::chrono::seconds(2), 0, std::chrono::seconds(2));
    if (fd < 0) continue;
    if (i % 2 == 1) {
      static constexpr char kHalf[] = "GET /health HTTP/1.1\r\nHost: x\r\n";
      (void)::send(fd, kHalf, sizeof kHalf - 1, MSG_NOSIGNAL);
    }
    attackers.push_back(fd);
  }
  EXPECT_GE(attackers.size(), 256u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // quiet for a second

  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    HttpClient fresh(server_->port(), std::chrono::seconds(5));
    const HttpResponse r = fresh.Request("GET", "/health");
    waits.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0));
    EXPECT_EQ(r.status, 200) << r.body;
  }
  EXPECT_LT(*std::max_element(waits.begin(), waits.end()), std::chrono::milliseconds(100));

  // By itself, the server closes every one of them: each sees the end of its connection (after
  // a 408, an eviction or a 503).
  size_t closed = 0;
  for (const int fd : attackers) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    if (n == 0 || (n < 0 && errno == ECONNRESET)) ++closed;
    ::close(fd);
  }
  EXPECT_EQ(closed, attackers.size());
  HttpClient after(server_->port(), std::chrono::seconds(5));
  const HttpResponse m = after.Request("GET", "/metrics");
  EXPECT_NE(m.body.find("orderlog_http_connections_closed_total{reason=\"evicted\"} "),
            std::string::npos);
  EXPECT_EQ(m.body.find("orderlog_http_connections_closed_total{reason=\"evicted\"} 0\n"),
            std::string::npos)
      << m.body;
}

// The open-file limit under which `pid` can open exactly `more` descriptors: a new descriptor
// takes the lowest free number, and fails with EMFILE once that is at the limit.
rlim_t LimitAllowing(pid_t pid, size_t more) {
  std::set<long> open;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    open.insert(std::stol(entry.path().filename().string()));
  }
  long n = 0;
  for (size_t free = 0; free < more; ++n) {
    if (open.count(n) == 0) ++free;
  }
  return static_cast<rlim_t>(n);
}

// User + system CPU time of a process, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// When accept fails for lack of descriptors, the pending connection is answered 503 through the
// spare descriptor and closed, and the accept thread does not spin (Pistache alone would poll the
// still-pending connection again at once, for as long as descriptors are short).
TEST_F(E2eTest, WithNoDescriptorLeftANewConnectionIs503AndTheServerDoesNotSpin) {
  ORDERLOG_SKIP_IF_DESCRIPTOR_STARVED_SANITIZER();
  ASSERT_EQ(client_->Request("GET", "/health").status, 200);  // its connection is open
  const pid_t pid = server_->pid();
  rlimit old{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0);
  rlimit low = old;
  low.rlim_cur = LimitAllowing(pid, 2);  // room for two more connections
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &low, nullptr), 0);

  std::vector<std::unique_ptr<HttpClient>> clients;
  int served = 0, refused = 0;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<HttpClient>(server_->port(), std::chrono::seconds(5)));
    const HttpResponse r = clients.back()->Raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    if (r.status == 200) ++served;
    if (r.status == 503) {
      ++refused;
      EXPECT_NE(r.body.find("\"detail\""), std::string::npos) << r.body;
    }
  }
  // Two fit (give or take a descriptor the server frees or takes meanwhile); the rest came
  // through the spare.
  EXPECT_LE(served, 3);
  EXPECT_GE(refused, 5);
  EXPECT_EQ(served + refused, 8);
  const long before = CpuTicks(pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_LT(CpuTicks(pid) - before, 30) << "the server spends its time polling";
  const HttpResponse m = client_->Request("GET", "/metrics");  // on the connection it had
  EXPECT_EQ(m.body.find("orderlog_http_connections_closed_total{reason=\"no_descriptors\"} 0\n"),
            std::string::npos)
      << m.body;

  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &old, nullptr), 0);
  clients.clear();
  HttpClient fresh(server_->port(), std::chrono::seconds(5));
  EXPECT_EQ(fresh.Request("GET", "/health").status, 200);
}

// A low soft open-file limit (the usual 1024, here 256) is raised to the hard one at start.
TEST_F(E2eTest, TheSoftOpenFileLimitIsRaisedToTheHardOne) {
  rlimit mine{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &mine), 0);
  if (mine.rlim_max <= 256) GTEST_SKIP() << "hard open-file limit too low to lower the soft one";
  rlimit low = mine;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Restart();  // the server inherits the low soft limit
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &mine), 0);
  std::ifstream limits("/proc/" + std::to_string(server_->pid()) + "/limits");
  std::string line;
  while (std::getline(limits, line) && line.rfind("Max open files", 0) != 0) {
  }
  std::istringstream fields(line.substr(std::string("Max open files").size()));
  std::string soft, hard;
  fields >> soft >> hard;
  const std::string want =
      mine.rlim_max == RLIM_INFINITY ? "unlimited" : std::to_string(mine.rlim_max);
  EXPECT_EQ(soft, want) << line;
  EXPECT_EQ(hard, want) << line;
}

}  // namespace
}  // namespace orderlog::testing
