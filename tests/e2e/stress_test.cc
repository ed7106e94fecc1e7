// Bursty clients against the real server, in whatever build the suite runs (ASan, TSan, release):
// short bursts that disconnect with writes in flight, a wrk-like flood of keep-alive creates
// dropped all at once every few seconds, keep-alive and Connection: close clients,
// slow readers, creates and status changes mixed. The server must answer every request a client
// waits for, survive the rest, exit cleanly on SIGTERM (a sanitizer report makes it exit
// non-zero or die), and every write a client saw acknowledged must be in the log.
//
// ORDERLOG_STRESS_SECONDS sets the length of the load (default 40). The long run (README):
//   ORDERLOG_STRESS_SECONDS=1800 build/debug-asan/tests/e2e_tests --gtest_filter='Stress*'
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "server/domain/order_service.h"
#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct AckedChange {
  std::string id;
  uint64_t version;
  std::string status;
};

// What the clients saw, shared by their threads.
struct Ledger {
  std::mutex mu;
  std::vector<std::string> created;     // acknowledged creates (201)
  std::vector<AckedChange> changes;     // acknowledged status changes (200, ETag version)
  std::atomic<uint64_t> requests{0};    // requests whose answer was waited for
  std::atomic<uint64_t> unanswered{0};  // ... and not received within the client's deadline
  std::atomic<uint64_t> abandoned{0};   // requests written on a connection closed without reading
  std::atomic<uint64_t> slow_reads{0};
  std::atomic<uint64_t> wrong{0};  // answers no request may get (5xx, a lost read-your-write)
  std::string first_wrong;

  void Wrong(const std::string& what) {
    std::lock_guard lk(mu);
    if (wrong++ == 0) first_wrong = what;
  }
  std::string AnyCreated(std::mt19937& rng) {
    std::lock_guard lk(mu);
    if (created.empty()) return "";
    return created[std::uniform_int_distribution<size_t>(0, created.size() - 1)(rng)];
  }
};

const char* const kStatuses[] = {"processing", "shipped", "delivered", "cancelled"};

std::string PostBytes(const std::string& extra_headers = "") {
  const std::string body = OrderBody("stress", "Widget", 3);
  return "POST /orders/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string PutBytes(const std::string& id, const char* status) {
  const std::string body = std::string("{\"new_status\":\"") + status + "\"}";
  return "PUT /orders/" + id +
         "/status/ HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// A reader that waits this long for an answer counts it unanswered.
constexpr auto kUnanswered = std::chrono::seconds(10);

void CloseAbruptly(int fd) {  // a reset, not a FIN: the server's next write fails
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd);
}

// Checks that an answer is the one its request asked for (an answer meant for another connection
// shows here) and records what it acknowledged. `id` empty: a create; else a status change to
// `status`, or with status null a read of that order.
void Record(Ledger* ledger, const HttpResponse& r, const std::string& id, const char* status) {
  ledger->requests++;
  if (r.status == 0) {
    ledger->unanswered++;
    return;
  }
  rapidjson::Document body;
  body.Parse(r.body.c_str(), r.body.size());
  const auto text = [&](const char* field) -> std::string {
    return body.IsObject() && body.HasMember(field) && body[field].IsString()
               ? body[field].GetString()
               : "";
  };
  bool expected = false;
  if (id.empty()) {  // a create: 201 with a new id, or a refusal
    expected = r.status == 201 ? text("message") == "Order created successfully"
                               : r.status >= 400 && r.status < 500 && !text("detail").empty();
  } else if (status == nullptr) {  // a read of an acknowledged order
    expected = r.status == 200 && text("order_id") == id;
  } else {  // a status change: 200 naming the order and the status, or a refusal (409, 412)
    expected = r.status == 200
                   ? text("order_id") == id &&
                         text("message") == std::string("Order status updated to ") + status
                   : (r.status == 409 || r.status == 412) && !text("detail").empty();
  }
  if (!expected) {
    ledger->Wrong(
        "HTTP " + std::to_string(r.status) + " " + r.body + " answered " +
        (id.empty() ? "a create" : (status == nullptr ? "a read of " : "a change of ") + id));
    return;
  }
  std::lock_guard lk(ledger->mu);
  if (id.empty() && r.status == 201) {
    ledger->created.push_back(text("order_id"));
  } else if (status != nullptr && r.status == 200) {
    const std::string etag = r.header("etag");
    ledger->changes.push_back({id, std::stoull(etag.substr(1, etag.size() - 2)), status});
  }
}

// Keep-alive (or, with close, a connection per request): creates, status changes and reads of
// acknowledged orders, each answer awaited.
void MixedClient(uint16_t port, Ledger* ledger, Clock::time_point until, bool close, int seed) {
  std::mt19937 rng(seed);
  std::unique_ptr<HttpClient> c;
  const std::map<std::string, std::string> conn = {{"Connection", close ? "close" : "keep-alive"}};
  while (Clock::now() < until) {
    if (!c || close) c = std::make_unique<HttpClient>(port, std::chrono::seconds(10));
    const int dice = std::uniform_int_distribution<int>(0, 9)(rng);
    const std::string id = ledger->AnyCreated(rng);
    if (dice < 5 || id.empty()) {
      Record(ledger, c->Request("POST", "/orders/", OrderBody("stress"), conn), "", nullptr);
    } else if (dice < 8) {
      const char* status = kStatuses[std::uniform_int_distribution<int>(0, 3)(rng)];
      Record(ledger,
             c->Request("PUT", "/orders/" + id + "/status/",
                        std::string("{\"new_status\":\"") + status + "\"}", conn),
             id, status);
    } else {
      Record(ledger, c->Request("GET", "/orders/" + id + "/", "", conn), id, nullptr);
    }
  }
}

// As wrk does: many keep-alive connections, each with a create always in flight, all of them
// dropped at once every few seconds with their creates unanswered, then opened again.
void Flood(uint16_t port, Ledger* ledger, Clock::time_point until, int seed) {
  constexpr int kConnections = 16;
  std::mt19937 rng(seed);
  const std::string post = PostBytes("Connection: keep-alive\r\n");
  struct Conn {
    int fd = -1;
    std::string in;
  };
  while (Clock::now() < until) {
    std::vector<Conn> conns(kConnections);
    for (Conn& c : conns) {
      c.fd = ConnectLoopback(port, kUnanswered);
      if (c.fd >= 0) ::send(c.fd, post.data(), post.size(), MSG_NOSIGNAL);
    }
    const auto round_end = Clock::now() + std::chrono::milliseconds(
                                              std::uniform_int_distribution<int>(500, 3000)(rng));
    while (Clock::now() < round_end && Clock::now() < until) {
      std::vector<pollfd> fds;
      for (const Conn& c : conns) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        if (c.fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[16384];
        const ssize_t n = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0) {
          ::close(c.fd);
          c.fd = -1;
          continue;
        }
        c.in.append(buf, static_cast<size_t>(n));
        // One answer at a time is in flight, so a complete answer is the whole buffer.
        const size_t head_end = c.in.find("\r\n\r\n");
        const size_t cl = c.in.find("Content-Length: ");
        if (head_end == std::string::npos || cl == std::string::npos || cl > head_end) continue;
        const size_t body_size = std::stoul(c.in.substr(cl + 16));
        if (c.in.size() < head_end + 4 + body_size) continue;
        HttpResponse r;
        r.status = std::stoi(c.in.substr(9, 3));
        r.body = c.in.substr(head_end + 4, body_size);
        c.in.clear();
        Record(ledger, r, "", nullptr);
        ::send(c.fd, post.data(), post.size(), MSG_NOSIGNAL);
      }
    }
    for (Conn& c : conns) {  // every connection has a create in flight
      if (c.fd < 0) continue;
      ledger->abandoned++;
      CloseAbruptly(c.fd);
    }
  }
}

// Bursts of connections that each send a write (some only half of it) and vanish, most without
// reading, half of them with a reset: the answers are sent to peers that are gone or going.
void Burster(uint16_t port, Ledger* ledger, Clock::time_point until, int seed) {
  std::mt19937 rng(seed);
  HttpClient probe(port, std::chrono::seconds(10));
  while (Clock::now() < until) {
    std::vector<int> fds;
    const int n = std::uniform_int_distribution<int>(4, 24)(rng);
    for (int i = 0; i < n; ++i) {
      const int fd = ConnectLoopback(port, kUnanswered);
      if (fd < 0) continue;
      const std::string id = ledger->AnyCreated(rng);
      std::string bytes = id.empty() || i % 3 != 0
                              ? PostBytes(i % 2 == 0 ? "Connection: close\r\n" : "")
                              : PutBytes(id, kStatuses[i % 4]);
      if (i % 7 == 0) bytes.resize(bytes.size() / 2);  // half a request
      if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) > 0) ledger->abandoned++;
      fds.push_back(fd);
    }
    // Some vanish at once, the rest after a moment, while their writes are in flight.
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng)));
    for (size_t i = 0; i < fds.size(); ++i) {
      if (i % 2 == 0) {
        CloseAbruptly(fds[i]);
      } else {
        ::close(fds[i]);
      }
    }
    // Paced by the server: a create awaited after each burst is done only once the burst's
    // writes ahead of it are, so a slow (sanitizer) build is never handed more than it can take
    // and the clients that wait for their answers still get a share of it.
    Record(ledger, probe.Request("POST", "/orders/", OrderBody("probe")), "", nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// A client with a small receive buffer that reads a large list slowly and leaves mid-answer, and
// one that reads a create's answer only after a pause.
void SlowReader(uint16_t port, Ledger* ledger, Clock::time_point until, int seed) {
  std::mt19937 rng(seed);
  char buf[512];
  while (Clock::now() < until) {
    int fd = ConnectLoopback(port, kUnanswered, 4096);
    if (fd < 0) continue;
    const std::string get = "GET /orders/?limit=5000 HTTP/1.1\r\nHost: x\r\n\r\n";
    ::send(fd, get.data(), get.size(), MSG_NOSIGNAL);
    ledger->requests++;
    const ssize_t first = ::recv(fd, buf, sizeof(buf), 0);
    if (first <= 0) {
      ledger->unanswered++;
    } else if (std::string_view(buf, static_cast<size_t>(first)).substr(0, 13) != "HTTP/1.1 200 ") {
      ledger->Wrong("a list answered with " +
                    std::string(buf, static_cast<size_t>(std::min<ssize_t>(first, 60))));
    }
    const int reads = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int i = 0; i < reads; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (::recv(fd, buf, sizeof(buf), 0) <= 0) break;
    }
    CloseAbruptly(fd);
    ledger->slow_reads++;

    fd = ConnectLoopback(port, kUnanswered, 4096);
    if (fd < 0) continue;
    const std::string post = PostBytes();
    ::send(fd, post.data(), post.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::close(fd);  // the answer was never read: not counted as acknowledged
    ledger->abandoned++;
  }
}

int StressSeconds() {
  const char* s = std::getenv("ORDERLOG_STRESS_SECONDS");
  return s != nullptr ? std::max(1, std::atoi(s)) : 40;
}

TEST(Stress, BurstsDisconnectsAndSlowReadersLoseNothing) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  ServerProcess server(data);
  ASSERT_TRUE(server.started()) << server.output();
  Ledger ledger;
  const auto until = Clock::now() + std::chrono::seconds(StressSeconds());
  std::vector<std::thread> clients;
  clients.emplace_back(MixedClient, server.port(), &ledger, until, false, 1);
  clients.emplace_back(MixedClient, server.port(), &ledger, until, false, 2);
  clients.emplace_back(MixedClient, server.port(), &ledger, until, true, 3);
  clients.emplace_back(MixedClient, server.port(), &ledger, until, true, 7);
  clients.emplace_back(Burster, server.port(), &ledger, until, 4);
  clients.emplace_back(SlowReader, server.port(), &ledger, until, 5);
  clients.emplace_back(Flood, server.port(), &ledger, until, 6);
  for (auto& t : clients) t.join();

  EXPECT_EQ(server.Wait(0), -1) << "the server died under load:\n" << server.FullOutput();
  const int exit_status = server.Terminate();
  const std::string output = server.FullOutput();
  EXPECT_EQ(exit_status, 0) << output;
  EXPECT_EQ(output.find("Sanitizer"), std::string::npos) << output;
  EXPECT_EQ(ledger.wrong.load(), 0u) << ledger.first_wrong;
  EXPECT_EQ(ledger.unanswered.load(), 0u);
  // The load was real: enough of each kind happened for the run to mean something.
  EXPECT_GT(ledger.created.size(), 100u);
  EXPECT_GT(ledger.changes.size(), 50u);
  EXPECT_GT(ledger.abandoned.load(), 500u);
  EXPECT_GT(ledger.slow_reads.load(), 10u);

  // Every acknowledged write is in the log, as the client was told.
  domain::ServiceOptions opt;
  opt.data_dir = data;
  opt.log.read_only = true;
  opt.info = [](const std::string&) {};
  auto svc = domain::OrderService::Open(opt);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  size_t missing = 0;
  for (const std::string& id : ledger.created) missing += !(*svc)->Get(id).has_value();
  EXPECT_EQ(missing, 0u) << "of " << ledger.created.size() << " acknowledged creates";
  size_t wrong_state = 0;
  for (const AckedChange& c : ledger.changes) {
    auto state = (*svc)->GetAtVersion(c.id, c.version);
    wrong_state += !state.ok() || domain::StatusName(state->status) != c.status;
  }
  EXPECT_EQ(wrong_state, 0u) << "of " << ledger.changes.size() << " acknowledged changes";
  std::printf(
      "stress: %d s, %llu answered requests (%zu creates, %zu status changes acknowledged), "
      "%llu requests abandoned by disconnecting clients, %llu slow reads, %llu unanswered, "
      "server exit %d\n",
      StressSeconds(), static_cast<unsigned long long>(ledger.requests.load()),
      ledger.created.size(), ledger.changes.size(),
      static_cast<unsigned long long>(ledger.abandoned.load()),
      static_cast<unsigned long long>(ledger.slow_reads.load()),
      static_cast<unsigned long long>(ledger.unanswered.load()), exit_status);
}

}  // namespace
}  // namespace orderlog::testing
