// /events/ — the global feed.
#include "server/domain/order_json.h"
#include "server/http/api.h"
#include "server/http/json_out.h"

namespace orderlog::http {

void Api::Feed(const Request& req, Writer& rw, RequestContext& ctx) {
  constexpr uint64_t kDefaultLimit = 1000;
  constexpr uint64_t kMaxLimit = 10'000;
  uint64_t after = 0;
  uint64_t limit = kDefaultLimit;
  if (!CountParam(req, "after", &after, rw, ctx) || !CountParam(req, "limit", &limit, rw, ctx)) {
    return;
  }
  limit = std::min(limit, kMaxLimit);
  std::vector<domain::OrderEventRecord> events;
  Status s = svc_->Feed(Position(after), limit, &events);
  if (!s.ok()) {
    ReplyStatus(rw, ctx, s);
    return;
  }
  Reply(rw, ctx, *metrics_, 200, domain::EventsJson(events, /*with_order_id=*/true));
}

}  // namespace orderlog::http
