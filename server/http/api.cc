#include "server/http/api.h"

#include <pistache/peer.h>

#include "server/http/errors.h"
#include "server/http/json_body.h"
#include "server/http/json_out.h"

namespace orderlog::http {

namespace Http = Pistache::Http;
namespace Rest = Pistache::Rest;

Api::Api(domain::OrderService* service, Metrics* metrics, ApiOptions options)
    : svc_(service), metrics_(metrics), options_(std::move(options)) {
  kicker_ = std::thread([this] { KickLoop(); });
}

Api::~Api() {
  {
    std::lock_guard lk(kick_mu_);
    stop_kicker_ = true;
  }
  kick_cv_.notify_one();
  kicker_.join();
}

void Api::Register(Rest::Router& router) {
  struct Binding {
    RouteId route;
    Http::Method method;
    void (Api::*handler)(const Request&, Writer&, RequestContext&);
  };
  const Binding bindings[] = {
      {RouteId::kOrders, Http::Method::Get, &Api::ListOrders},
      {RouteId::kOrders, Http::Method::Post, &Api::CreateOrder},
      {RouteId::kOrder, Http::Method::Get, &Api::GetOrder},
      {RouteId::kOrderStatus, Http::Method::Put, &Api::ChangeStatus},
      {RouteId::kOrderEvents, Http::Method::Get, &Api::OrderEvents},
      {RouteId::kEvents, Http::Method::Get, &Api::Feed},
      {RouteId::kHealth, Http::Method::Get, &Api::Health},
      {RouteId::kMetrics, Http::Method::Get, &Api::MetricsPage},
  };
  const Http::Method all[] = {Http::Method::Options, Http::Method::Get,   Http::Method::Post,
                              Http::Method::Head,    Http::Method::Put,   Http::Method::Patch,
                              Http::Method::Delete,  Http::Method::Trace, Http::Method::Connect};
  // Every method gets a route on every path: ours answer 405 in JSON with Allow (Pistache's own
  // 405 is plain text), and no request ever inserts into the router's method map (#1238).
  for (const RouteSpec& spec : Routes()) {
    for (Http::Method m : all) {
      const Binding* bound = nullptr;
      for (const auto& b : bindings) {
        if (b.route == spec.id && b.method == m) bound = &b;
      }
      if (bound != nullptr) {
        router.addRoute(m, spec.pattern, Guarded(spec.id, bound->handler));
        continue;
      }
      const std::string allow = Classify("", spec.label).allow;
      router.addRoute(m, spec.pattern, [this, id = spec.id, allow](const Request& req, Writer rw) {
        RequestContext ctx = MakeContext(req, id);
        ReplyError(rw, ctx, *metrics_, 405, "Method Not Allowed", {.allow = allow});
        return Result::Ok;
      });
    }
  }
  Rest::Routes::NotFound(router, [this](const Request& req, Writer rw) {
    RequestContext ctx = MakeContext(req, RouteId::kUnmatched);
    ReplyError(rw, ctx, *metrics_, 404, "Not Found");
    return Result::Ok;
  });
}

Rest::Route::Handler Api::Guarded(RouteId route,
                                  void (Api::*handler)(const Request&, Writer&, RequestContext&)) {
  return [this, route, handler](const Request& req, Writer rw) {
    RequestContext ctx = MakeContext(req, route);
    try {
      if (!options_.auth_token.empty() && route != RouteId::kHealth) {
        auto auth = req.headers().tryGetRaw("Authorization");
        if (!auth || auth->value() != "Bearer " + options_.auth_token) {
          ReplyError(rw, ctx, *metrics_, 401, "Not authenticated", {.www_authenticate = true});
          return Result::Ok;
        }
      }
      (this->*handler)(req, rw, ctx);
    } catch (const std::exception&) {
      // Never leak internal text; a parked writer was already moved out and is answered there.
      try {
        ReplyError(rw, ctx, *metrics_, 500, "Internal server error");
      } catch (...) {
      }
    }
    return Result::Ok;
  };
}

void Api::ReplyStatus(Writer& rw, const RequestContext& ctx, const Status& status) {
  const HttpError e = ToHttpError(status);
  ReplyError(rw, ctx, *metrics_, e.code, e.detail);
}

bool Api::ReadBody(const Request& req, Writer& rw, const RequestContext& ctx, JsonObject* out) {
  if (req.body().size() > options_.max_body) {
    ReplyError(rw, ctx, *metrics_, 413,
               "Request body larger than " + std::to_string(options_.max_body) + " bytes");
    return false;
  }
  JsonParseResult parsed = ParseJsonObject(req.body());
  if (!parsed.object) {
    ReplyError(rw, ctx, *metrics_, 400, parsed.error);
    return false;
  }
  *out = std::move(*parsed.object);
  return true;
}

bool Api::CountParam(const Request& req, const char* name, uint64_t* out, Writer& rw,
                     const RequestContext& ctx) {
  auto raw = QueryParam(req, name);
  if (!raw) return true;  // absent: keep the default
  auto n = ParseCount(*raw);
  if (!n) {
    ReplyError(rw, ctx, *metrics_, 422, std::string(name) + " must be a non-negative integer");
    return false;
  }
  *out = *n;
  return true;
}

std::shared_ptr<Api::Writer> Api::Park(Writer& rw, const RequestContext& ctx) {
  // Counted in flight before draining_ is read: Drain sets draining_ and then waits for the
  // count, so a write either sees draining_ or is waited for.
  inflight_.fetch_add(1);
  if (draining_) {
    inflight_.fetch_sub(1);
    ReplyError(rw, ctx, *metrics_, 503, "The server is shutting down");
    return nullptr;
  }
  return std::make_shared<Writer>(std::move(rw));
}

void Api::Unpark(const std::shared_ptr<Writer>& rw) {
  inflight_.fetch_sub(1);
  std::shared_ptr<Pistache::Tcp::Peer> peer;
  try {
    peer = rw->peer();  // throws once the client has gone
  } catch (const std::exception&) {
    return;
  }
  std::lock_guard lk(kick_mu_);
  last_peer_ = peer;
  last_async_ = std::chrono::steady_clock::now();
}

void Api::KickLoop() {
  using namespace std::chrono_literals;
  std::unique_lock lk(kick_mu_);
  while (!stop_kicker_) {
    kick_cv_.wait_for(lk, 5ms);
    if (stop_kicker_) break;
    if (std::chrono::steady_clock::now() - last_async_ > 200ms) continue;
    if (auto peer = last_peer_.lock()) {
      lk.unlock();
      try {  // the peer may be gone
        peer->send(Pistache::RawBuffer(std::string(), 0))
            .then([](ssize_t) {}, Pistache::Async::IgnoreException);
      } catch (const std::exception&) {
      }
      lk.lock();
    }
  }
}

bool Api::Drain(std::chrono::milliseconds deadline) {
  draining_ = true;
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (inflight_.load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return inflight_.load() == 0;
}

}  // namespace orderlog::http
