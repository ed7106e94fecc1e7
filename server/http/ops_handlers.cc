// /health and /metrics.
#include "server/http/api.h"
#include "server/http/errors.h"
#include "server/http/json_out.h"

namespace orderlog::http {

// 200 only while reads and writes work: a load balancer that checks /health stops sending
// writes to a node whose log refuses them (docs/http.md, "What /health says").
void Api::Health(const Request&, Writer& rw, RequestContext& ctx) {
  const Status health = svc_->health();
  if (health.ok()) {
    Reply(rw, ctx, *metrics_, 200, HealthJson(svc_->position().value, svc_->order_count()));
    return;
  }
  Reply(rw, ctx, *metrics_, 503,
        HealthJson(svc_->position().value, svc_->order_count(), "read-only",
                   ToHttpError(health).detail));
}

void Api::MetricsPage(const Request&, Writer& rw, RequestContext& ctx) {
  Metrics::Gauges g;
  g.log = svc_->log().Stats();
  g.orders = svc_->order_count();
  g.snapshot_position = svc_->last_snapshot_position().value;
  g.frozen_views = svc_->model().frozen_views();
  g.writable = svc_->health().ok();
  Reply(rw, ctx, *metrics_, 200, metrics_->Render(g), {}, "text/plain; version=0.0.4");
}

}  // namespace orderlog::http
