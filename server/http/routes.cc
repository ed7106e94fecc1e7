#include "server/http/routes.h"

namespace orderlog::http {

const std::vector<RouteSpec>& Routes() {
  static const std::vector<RouteSpec> routes = {
      {RouteId::kOrders, "/orders", "/orders/", {"GET", "HEAD", "POST"}},
      {RouteId::kOrder, "/orders/:id", "/orders/{id}/", {"GET", "HEAD"}},
      {RouteId::kOrderStatus, "/orders/:id/status", "/orders/{id}/status/", {"PUT"}},
      {RouteId::kOrderEvents, "/orders/:id/events", "/orders/{id}/events/", {"GET", "HEAD"}},
      {RouteId::kEvents, "/events", "/events/", {"GET", "HEAD"}},
      {RouteId::kHealth, "/health", "/health", {"GET", "HEAD"}},
      {RouteId::kMetrics, "/metrics", "/metrics", {"GET", "HEAD"}},
  };
  return routes;
}

const char* RouteLabel(RouteId id) {
  for (const auto& r : Routes()) {
    if (r.id == id) return r.label;
  }
  return "unmatched";
}

Classified Classify(std::string_view method, std::string_view path) {
  std::vector<std::string_view> segs;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const size_t start = i;
    while (i < path.size() && path[i] != '/') ++i;
    if (i > start) segs.push_back(path.substr(start, i - start));
  }
  Classified c;
  if (segs.size() == 1 && segs[0] == "orders") c.route = RouteId::kOrders;
  if (segs.size() == 2 && segs[0] == "orders") c.route = RouteId::kOrder;
  if (segs.size() == 3 && segs[0] == "orders" && segs[2] == "status")
    c.route = RouteId::kOrderStatus;
  if (segs.size() == 3 && segs[0] == "orders" && segs[2] == "events")
    c.route = RouteId::kOrderEvents;
  if (segs.size() == 1 && segs[0] == "events") c.route = RouteId::kEvents;
  if (segs.size() == 1 && segs[0] == "health") c.route = RouteId::kHealth;
  if (segs.size() == 1 && segs[0] == "metrics") c.route = RouteId::kMetrics;
  if (c.route == RouteId::kUnmatched) return c;
  for (const auto& r : Routes()) {
    if (r.id != c.route) continue;
    for (const auto& m : r.methods) {
      if (m == method) c.method_allowed = true;
      if (!c.allow.empty()) c.allow += ", ";
      c.allow += m;
    }
  }
  return c;
}

}  // namespace orderlog::http
