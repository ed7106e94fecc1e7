// The HTTP API of ../shared/API.md on Pistache: routes, the token check, and the handlers (one
// file per resource: orders_handlers.cc, events_handlers.cc, ops_handlers.cc).
//
// Threads: every handler runs on the reactor thread of its connection. Writes never block it: a
// handler validates, parks its ResponseWriter, hands the command to the OrderService and returns.
// Once the event is durable and folded into the read model, the completion (on the log's writer
// thread) prepares the answer and posts it to the reactor that parked the writer, which sends it:
// no Pistache object is touched on any other thread (see reactor_mailbox.h).
#pragma once

#include <pistache/router.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "server/domain/order_service.h"
#include "server/http/guard.h"
#include "server/http/http_util.h"
#include "server/http/metrics.h"
#include "server/http/reactor_mailbox.h"
#include "server/http/tokens.h"

namespace orderlog::http {

struct ApiOptions {
  size_t max_body = 64 * 1024;
  const Tokens* tokens = nullptr;  // null: no token
};

class Api {
 public:
  Api(domain::OrderService* service, Metrics* metrics, ApiOptions options);
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
  // A write in flight: its ResponseWriter, kept until the answer is sent from `home`, the
  // reactor thread that took the request. Only that thread touches `writer`.
  struct Parked {
    std::optional<Writer> writer;
    RequestContext ctx;
    std::shared_ptr<ReactorMailbox> home;
    AnswerTurn turn;  // the connection's next requests wait for this answer
  };
  using ParkedPtr = std::shared_ptr<Parked>;

  // Reactor thread. nullptr (and answered 503) once the server is draining.
  ParkedPtr Park(Writer& rw, const RequestContext& ctx);
  // Any thread (the log's writer thread): sends `reply` from the parked request's reactor.
  void Answer(const ParkedPtr& parked, PreparedReply reply);
  // Any thread: the answer to a write the service failed, counted when the store refused it.
  PreparedReply WriteFailed(const Status& status);

  domain::OrderService* svc_;
  Metrics* metrics_;
  ApiOptions options_;
  std::atomic<bool> draining_{false};
  std::atomic<int> inflight_{0};
};

}  // namespace orderlog::http
