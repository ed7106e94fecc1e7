// The connection guard: a Pistache handler that frames every request itself before Pistache's
// parser sees the bytes, so that requests Pistache 0.0.5 would mishandle are refused cleanly:
//  - a body over the limit (declared Content-Length, or chunked data adding up past it) gets a
//    JSON 413 without the body being read, and the connection is closed: nothing after it is ever
//    parsed as another request (Pistache's own 413 keeps the connection open and parses the rest
//    of the body as new requests: request smuggling);
//  - an over-long request line (414) or header section (431), a bad or doubled Content-Length, or
//    Content-Length together with Transfer-Encoding (400) likewise.
// The route/method (404/405) and token (401) checks come first, as the API contract orders them.
// Everything else is passed through unchanged to the router.
#pragma once

#include <pistache/router.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "server/http/metrics.h"

namespace orderlog::http {

struct GuardLimits {
  size_t max_body = 64 * 1024;
  size_t max_request_line = 8 * 1024;
  size_t max_header_section = 16 * 1024;
  std::string auth_token;  // empty: no token required
};

class GuardedRouterHandler : public Pistache::Rest::Private::RouterHandler {
 public:
  GuardedRouterHandler(std::shared_ptr<Pistache::Rest::Router> routes, GuardLimits limits,
                       Metrics* metrics);
  std::shared_ptr<Pistache::Tcp::Handler> clone() const override;

  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

  // The Pistache request size limit that the guard's own limits keep out of reach.
  static size_t PistacheRequestLimit(const GuardLimits& limits);

 private:
  struct Frame;
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

  std::shared_ptr<Pistache::Rest::Router> router_;
  GuardLimits limits_;
  Metrics* metrics_;
  // The Http::Handler that parses and routes what the guard lets through (per reactor clone).
  std::shared_ptr<Pistache::Rest::Private::RouterHandler> inner_;
  std::unordered_map<Pistache::Tcp::Peer*, std::shared_ptr<Frame>>
      frames_;  // shared: clone() copies
};

}  // namespace orderlog::http
