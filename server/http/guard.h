// The connection guard: a Pistache handler that frames every request itself before Pistache's
// parser sees the bytes, so that requests Pistache 0.0.5 would mishandle are refused cleanly:
//  - a body over the limit (declared Content-Length, or chunked data adding up past it) gets a
//    JSON 413 without the body being read, and the connection is closed: nothing after it is ever
//    parsed as another request (Pistache's own 413 keeps the connection open and parses the rest
//    of the body as new requests: request smuggling);
//  - whatever request_head.h refuses (an over-long request line or header section, a malformed
//    request or field line, bare CR or LF, a missing Host, a bad Content-Length or
//    Transfer-Encoding, an unknown expectation) likewise;
//  - Expect: 100-continue gets its 100 once the route, token and size checks have passed.
// The route/method (404/405) and token (401) checks come first, as the API contract orders them.
// Everything else is passed through unchanged to the router.
//
// One clone runs per reactor thread, and every call below runs on that thread. The clone also
// owns the reactor's ReactorMailbox: the bell's input arrives here and runs the posted tasks.
#pragma once

#include <pistache/router.h>

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "server/http/metrics.h"
#include "server/http/reactor_mailbox.h"
#include "server/http/request_head.h"

namespace orderlog::http {

struct GuardLimits {
  size_t max_body = 64 * 1024;
  HeadLimits head;         // request line and header section
  std::string auth_token;  // empty: no token required
  // The endpoint's timeouts (main passes these to Pistache). Keep-alive: Pistache closes a peer
  // idle for that long (bells too). Header and body: it answers 408 and closes the peer.
  std::chrono::milliseconds keepalive_timeout{60'000};
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  // Open connections at most (across reactor threads); a connection beyond it is answered 503
  // and closed at once, and the open ones are served as before.
  size_t max_connections = 10'000;
};

class GuardedRouterHandler : public Pistache::Rest::Private::RouterHandler {
 public:
  GuardedRouterHandler(std::shared_ptr<Pistache::Rest::Router> routes, GuardLimits limits,
                       Metrics* metrics);
  std::shared_ptr<Pistache::Tcp::Handler> clone() const override;

  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

  // The Pistache request size limit that the guard's own limits keep out of reach.
  static size_t PistacheRequestLimit(const GuardLimits& limits);

 private:
  // Where a connection is in its current request.
  struct Frame {
    enum class State : unsigned char {
      kHead,
      kBody,
      kChunkSize,
      kChunkData,
      kChunkCrlf,
      kTrailer,
      kClosed
    };
    State state = State::kHead;
    std::string head;        // bytes of the request line and headers so far
    uint64_t body_left = 0;  // kBody / kChunkData
    uint64_t chunked_total = 0;
    std::string line;            // chunk-size or trailer line so far
    RequestHead request;         // the current request's head, parsed (as far as it parses)
    bool send_continue = false;  // the head asked for 100 Continue
  };
  // Kept by the guard, not as peer data: a peer's last reference can be dropped on Pistache's
  // accept thread, and what it owns would be destroyed there.
  struct Connection {
    std::weak_ptr<Pistache::Tcp::Peer> peer;
    Frame frame;
  };
  // Forgets connections whose peers Pistache has dropped without onDisconnection.
  void Purge(std::chrono::steady_clock::time_point now);
  struct Refusal {
    int code;
    std::string reason;
    std::string detail;
    std::string allow;
  };

  // Feeds bytes to the peer's frame; returns a refusal if the request must be refused.
  std::optional<Refusal> Scan(Frame& f, const char* p, size_t n);
  std::optional<Refusal> OnHead(Frame& f);
  Refusal Refuse(const Frame& f, int code, std::string reason, std::string detail);
  void SendAndClose(const std::shared_ptr<Pistache::Tcp::Peer>& peer, const Refusal& r,
                    const Frame& f);
  void SendContinue(const std::shared_ptr<Pistache::Tcp::Peer>& peer);

  std::shared_ptr<Pistache::Rest::Router> router_;
  GuardLimits limits_;
  Metrics* metrics_;
  // The Http::Handler that parses and routes what the guard lets through (per reactor clone).
  std::shared_ptr<Pistache::Rest::Private::RouterHandler> inner_;
  // Made on the reactor's first input (the transport knows its thread only once it runs).
  std::shared_ptr<ReactorMailbox> mailbox_;
  // By Peer::getID(), which is never reused (descriptor numbers and addresses are).
  std::unordered_map<size_t, Connection> connections_;
  std::chrono::steady_clock::time_point next_purge_{};
};

}  // namespace orderlog::http
