#include "server/http/api.h"

#include "server/http/errors.h"
#include "server/http/json_body.h"
#include "server/http/json_out.h"

namespace orderlog::http {

namespace Http = Pistache::Http;
namespace Rest = Pistache::Rest;

Api::Api(domain::OrderService* service, Metrics* metrics, ApiOptions options)
    : svc_(service), metrics_(metrics), options_(std::move(options)) {}

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
      // HEAD runs the GET handler; Reply leaves the body out (RFC 9110 §9.3.2).
      const Http::Method as = m == Http::Method::Head ? Http::Method::Get : m;
      for (const auto& b : bindings) {
        if (b.route == spec.id && b.method == as) bound = &b;
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
      if (options_.tokens != nullptr && options_.tokens->required()) {
        const auto auth = req.headers().tryGetRaw("Authorization");
        if (auto refused = CheckAccess(options_.tokens, route, ctx.method,
                                       auth ? std::string_view(auth->value()) : "")) {
          ReplyError(rw, ctx, *metrics_, refused->code, refused->detail,
                     {.www_authenticate = refused->code == 401});
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
  const PreparedReply r = ErrorReply(status);
  Reply(rw, ctx, *metrics_, r.code, r.body, r.headers);
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

Api::ParkedPtr Api::Park(Writer& rw, const RequestContext& ctx) {
  // Counted in flight before draining_ is read: Drain sets draining_ and then waits for the
  // count, so a write either sees draining_ or is waited for.
  inflight_.fetch_add(1);
  if (draining_) {
    inflight_.fetch_sub(1);
    metrics_->CountRefusedWrite(Metrics::WriteRefusal::kShuttingDown);
    ReplyError(rw, ctx, *metrics_, 503, "The server is shutting down");
    return nullptr;
  }
  auto parked = std::make_shared<Parked>();
  parked->writer.emplace(std::move(rw));
  parked->ctx = ctx;
  parked->home = ReactorMailbox::Current();  // handlers run on a reactor thread: never null
  parked->turn = AnswerTurn::Defer();
  return parked;
}

PreparedReply Api::WriteFailed(const Status& status) {
  switch (status.code()) {
    case StatusCode::kReadOnly:
      metrics_->CountRefusedWrite(Metrics::WriteRefusal::kReadOnly);
      break;
    case StatusCode::kNoSpace:
      metrics_->CountRefusedWrite(Metrics::WriteRefusal::kNoSpace);
      break;
    case StatusCode::kClosed:
      metrics_->CountRefusedWrite(Metrics::WriteRefusal::kShuttingDown);
      break;
    default:
      break;
  }
  return ErrorReply(status);
}

void Api::Answer(const ParkedPtr& parked, PreparedReply reply) {
  parked->home->Post([this, parked, reply = std::move(reply)] {
    // Last: the connection's waiting requests are handled in here.
    parked->turn.Answer([&] {
      Reply(*parked->writer, parked->ctx, *metrics_, reply.code, reply.body, reply.headers);
      // Destroyed here, on its own thread, whichever thread drops the last reference.
      parked->writer.reset();
      inflight_.fetch_sub(1);
    });
  });
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
