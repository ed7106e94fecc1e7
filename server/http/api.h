// The HTTP API of ../shared/API.md on Pistache: routes, the token check, and the handlers (one
// file per resource: orders_handlers.cc, events_handlers.cc, ops_handlers.cc).
//
// Writes never block a Pistache thread: a handler validates, hands the command and its
// ResponseWriter to the OrderService and returns; the response is sent from the log's writer
// thread once the event is durable and folded into the read model.
#pragma once

#include <pistache/router.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/domain/order_service.h"
#include "server/http/http_util.h"
#include "server/http/metrics.h"

namespace orderlog::http {

struct ApiOptions {
  size_t max_body = 64 * 1024;
  std::string auth_token;  // empty: no token
};

class Api {
 public:
  Api(domain::OrderService* service, Metrics* metrics, ApiOptions options);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  void Register(Pistache::Rest::Router& router);

  // Graceful stop: new writes get 503; returns once no write is in flight (or at the deadline).
  bool Drain(std::chrono::milliseconds deadline);
  int inflight() const { return inflight_.load(); }

 private:
  using Request = Pistache::Rest::Request;
  using Writer = Pistache::Http::ResponseWriter;
  using Result = Pistache::Rest::Route::Result;

  // Wraps a handler: builds the context, checks the token, catches everything.
  Pistache::Rest::Route::Handler Guarded(RouteId route,
                                         void (Api::*handler)(const Request&, Writer&,
                                                              RequestContext&));

  // orders_handlers.cc
  void CreateOrder(const Request& req, Writer& rw, RequestContext& ctx);
  void ChangeStatus(const Request& req, Writer& rw, RequestContext& ctx);
  void GetOrder(const Request& req, Writer& rw, RequestContext& ctx);
  void ListOrders(const Request& req, Writer& rw, RequestContext& ctx);
  void OrderEvents(const Request& req, Writer& rw, RequestContext& ctx);
  // events_handlers.cc
  void Feed(const Request& req, Writer& rw, RequestContext& ctx);
  // ops_handlers.cc
  void Health(const Request& req, Writer& rw, RequestContext& ctx);
  void MetricsPage(const Request& req, Writer& rw, RequestContext& ctx);

  void ReplyStatus(Writer& rw, const RequestContext& ctx, const Status& status);
  // Checks the body size and parses it; false (and answered) if the request is refused.
  bool ReadBody(const Request& req, Writer& rw, const RequestContext& ctx, struct JsonObject* out);
  // An optional non-negative integer query parameter into *out; false (and answered 422) if bad.
  bool CountParam(const Request& req, const char* name, uint64_t* out, Writer& rw,
                  const RequestContext& ctx);
  // Writes in flight: their ResponseWriters live until the writer thread answers them.
  // nullptr (and answered 503) once the server is draining.
  std::shared_ptr<Writer> Park(Writer& rw, const RequestContext& ctx);
  void Unpark(const std::shared_ptr<Writer>& rw);
  void KickLoop();

  domain::OrderService* svc_;
  Metrics* metrics_;
  ApiOptions options_;
  std::atomic<bool> draining_{false};
  std::atomic<int> inflight_{0};

  // Pistache 0.0.5 can lose the wake-up of a response sent from another thread (#1199): while
  // cross-thread responses are being sent, a zero-length write to a recently answered peer every
  // few milliseconds re-arms its reactor.
  std::mutex kick_mu_;
  std::condition_variable kick_cv_;
  std::weak_ptr<Pistache::Tcp::Peer> last_peer_;        // GUARDED_BY(kick_mu_)
  std::chrono::steady_clock::time_point last_async_{};  // GUARDED_BY(kick_mu_)
  bool stop_kicker_ = false;                            // GUARDED_BY(kick_mu_)
  std::thread kicker_;
};

}  // namespace orderlog::http
