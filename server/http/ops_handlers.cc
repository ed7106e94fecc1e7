// /health and /metrics.
#include "server/http/api.h"
#include "server/http/json_out.h"

namespace orderlog::http {

void Api::Health(const Request&, Writer& rw, RequestContext& ctx) {
  Reply(rw, ctx, *metrics_, 200, HealthJson(svc_->position().value, svc_->order_count()));
}

void Api::MetricsPage(const Request&, Writer& rw, RequestContext& ctx) {
  Metrics::Gauges g;
  g.log = svc_->log().Stats();
  g.orders = svc_->order_count();
  g.snapshot_position = svc_->last_snapshot_position().value;
  g.frozen_views = svc_->model().frozen_views();
  Reply(rw, ctx, *metrics_, 200, metrics_->Render(g), {}, "text/plain; version=0.0.4");
}

}  // namespace orderlog::http
