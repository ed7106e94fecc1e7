// /orders/, /orders/{id}/, /orders/{id}/status/, /orders/{id}/events/
#include <chrono>

#include "server/domain/order_json.h"
#include "server/domain/order_listing.h"
#include "server/http/api.h"
#include "server/http/errors.h"
#include "server/http/json_body.h"
#include "server/http/json_out.h"
#include "server/http/streamed_answer.h"

namespace orderlog::http {

namespace {

using Clock = std::chrono::steady_clock;

// GET /orders/ written as the client reads it, from the view the listing holds.
class ListingBody final : public BodySource {
 public:
  explicit ListingBody(std::unique_ptr<domain::OrderListing> listing)
      : listing_(std::move(listing)) {}
  bool Next(std::string* out, size_t budget) override { return listing_->Next(out, budget); }

 private:
  std::unique_ptr<domain::OrderListing> listing_;
};

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// If-Match: "*", or a comma-separated list of "N" / W/"N". nullopt if unparseable.
std::optional<domain::IfMatch> ParseIfMatch(std::string_view v) {
  domain::IfMatch m;
  v = TrimOws(v);
  if (v == "*") {
    m.any = true;
    return m;
  }
  while (true) {
    const size_t comma = v.find(',');
    std::string_view tag = TrimOws(v.substr(0, comma));
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag.size() < 3 || tag.front() != '"' || tag.back() != '"') return std::nullopt;
    auto n = ParseCount(std::string(tag.substr(1, tag.size() - 2)));
    if (!n) return std::nullopt;
    m.versions.push_back(*n);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return m;
}

// A required string field; the 422 detail otherwise.
std::optional<std::string> StringField(const JsonObject& body, const char* name,
                                       std::string* detail) {
  const JsonMember* m = body.Find(name);
  if (m == nullptr) {
    *detail = std::string(name) + ": field required";
    return std::nullopt;
  }
  if (m->type != JsonType::kString) {
    *detail = std::string(name) + ": must be a string";
    return std::nullopt;
  }
  return m->text;
}

std::chrono::nanoseconds Since(Clock::time_point t0) {
  return Clock::now() - t0;
}

}  // namespace

void Api::CreateOrder(const Request& req, Writer& rw, RequestContext& ctx) {
  JsonObject body;
  if (!ReadBody(req, rw, ctx, &body)) return;
  std::string key;
  if (auto raw = req.headers().tryGetRaw("Idempotency-Key")) {
    const std::string value = raw->value();  // by value: a view of it must not outlive it
    const std::string_view v = TrimOws(value);
    bool printable = !v.empty() && v.size() <= 128;
    for (char c : v) printable = printable && c >= 0x20 && c <= 0x7e;
    if (!printable) {
      ReplyError(rw, ctx, *metrics_, 400,
                 "Idempotency-Key must be 1 to 128 printable ASCII characters");
      return;
    }
    key = std::string(v);
  }
  std::string detail;
  auto customer = StringField(body, "customer_id", &detail);
  auto product = customer ? StringField(body, "product", &detail) : std::nullopt;
  std::optional<int64_t> quantity;
  if (customer && product) {
    const JsonMember* q = body.Find("quantity");
    if (q == nullptr) {
      detail = "quantity: field required";
    } else if (q->type != JsonType::kNumber || !(quantity = ParseIntegerLiteral(q->text))) {
      detail = "quantity: must be an integer";
    }
  }
  if (!quantity) {
    ReplyError(rw, ctx, *metrics_, 422, detail);
    return;
  }
  domain::CreateCommand cmd{std::move(*customer), std::move(*product), *quantity, std::move(key)};
  if (Status valid = domain::ValidateCreate(cmd); !valid.ok()) {
    ReplyStatus(rw, ctx, valid);
    return;
  }
  auto parked = Park(rw, ctx);
  if (!parked) return;
  const auto t0 = Clock::now();
  // Runs on the log's writer thread.
  svc_->Create(std::move(cmd), [this, parked, t0](const orderlog::Result<domain::CreateResult>& r) {
    if (!r.ok()) return Answer(parked, WriteFailed(r.status()));
    if (!r->repeated) metrics_->ObserveAppend(Since(t0));
    const std::string id = r->id.ToString();
    Answer(parked, {201,
                    MessageJson(id, "Order created successfully"),
                    {.etag = "1", .location = "/orders/" + id + "/"}});
  });
}

void Api::ChangeStatus(const Request& req, Writer& rw, RequestContext& ctx) {
  const std::string id = req.param(":id").as<std::string>();
  JsonObject body;
  if (!ReadBody(req, rw, ctx, &body)) return;
  std::string detail;
  auto status_text = StringField(body, "new_status", &detail);
  if (!status_text) {
    ReplyError(rw, ctx, *metrics_, 422, detail);
    return;
  }
  auto status = domain::ParseStatus(*status_text);
  if (!status) {
    ReplyError(rw, ctx, *metrics_, 422,
               "new_status: must be one of processing, shipped, delivered, cancelled");
    return;
  }
  domain::ChangeStatusCommand cmd{id, *status, std::nullopt};
  if (auto raw = req.headers().tryGetRaw("If-Match")) {
    cmd.if_match = ParseIfMatch(raw->value());
    if (!cmd.if_match) {
      ReplyError(rw, ctx, *metrics_, 400, "If-Match must be \"*\" or a list of \"<version>\" tags");
      return;
    }
  }
  auto parked = Park(rw, ctx);
  if (!parked) return;
  const auto t0 = Clock::now();
  const std::string message = std::string("Order status updated to ") + domain::StatusName(*status);
  // Runs on the log's writer thread.
  svc_->ChangeStatus(std::move(cmd), [this, parked, t0, id,
                                      message](const orderlog::Result<domain::ChangeResult>& r) {
    if (!r.ok()) return Answer(parked, WriteFailed(r.status()));
    if (!r->noop) metrics_->ObserveAppend(Since(t0));
    Answer(parked, {200, MessageJson(id, message), {.etag = std::to_string(r->version)}});
  });
}

void Api::GetOrder(const Request& req, Writer& rw, RequestContext& ctx) {
  const std::string id = req.param(":id").as<std::string>();
  const auto version = QueryParam(req, "version");
  const auto as_of = QueryParam(req, "as_of");
  if (version && as_of) {
    ReplyError(rw, ctx, *metrics_, 422, "version and as_of cannot be combined");
    return;
  }
  orderlog::Result<domain::OrderState> state = Status::NotFound("Order not found");
  if (version) {
    auto n = ParseCount(*version);
    if (!n || *n == 0) {
      ReplyError(rw, ctx, *metrics_, 422, "version must be a positive integer");
      return;
    }
    state = svc_->GetAtVersion(id, *n);
  } else if (as_of) {
    auto ms = domain::ParseTimestamp(*as_of);
    if (!ms) {
      ReplyError(rw, ctx, *metrics_, 422, "as_of must be an RFC 3339 timestamp");
      return;
    }
    state = svc_->GetAsOf(id, *ms);
  } else if (auto current = svc_->Get(id)) {
    state = std::move(*current);
  }
  if (!state.ok()) {
    ReplyStatus(rw, ctx, state.status());
    return;
  }
  Reply(rw, ctx, *metrics_, 200, domain::OrderJson(*state),
        {.etag = std::to_string(state->version)});
}

void Api::ListOrders(const Request& req, Writer& rw, RequestContext& ctx) {
  domain::ListFilter filter;
  if (auto s = QueryParam(req, "status")) {
    filter.status = domain::ParseStatus(*s);
    if (!filter.status) {
      ReplyError(rw, ctx, *metrics_, 422,
                 "status: must be one of processing, shipped, delivered, cancelled");
      return;
    }
  }
  if (auto c = QueryParam(req, "customer_id")) filter.customer_id = *c;
  uint64_t limit = UINT64_MAX;
  uint64_t offset = 0;
  if (!CountParam(req, "limit", &limit, rw, ctx) || !CountParam(req, "offset", &offset, rw, ctx)) {
    return;
  }
  auto listing = domain::OrderListing::Open(svc_->model(), filter, offset, limit);
  const size_t total = listing->total();
  ReplyStreamed(rw, ctx, *metrics_, 200, {.total_count = total},
                std::make_unique<ListingBody>(std::move(listing)));
}

void Api::OrderEvents(const Request& req, Writer& rw, RequestContext& ctx) {
  const std::string id = req.param(":id").as<std::string>();
  std::vector<domain::OrderEventRecord> events;
  Status s = svc_->History(id, &events);
  if (!s.ok()) {
    ReplyStatus(rw, ctx, s);
    return;
  }
  Reply(rw, ctx, *metrics_, 200, domain::EventsJson(events, /*with_order_id=*/false));
}

}  // namespace orderlog::http
