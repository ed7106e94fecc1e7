// The API's routes, independent of Pistache: used to register the handlers, to answer 404/405
// in JSON, to label metrics, and by the connection guard to classify a request it refuses before
// Pistache sees it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace orderlog::http {

enum class RouteId : unsigned char {
  kOrders,       // /orders/                 GET (list), POST (create)
  kOrder,        // /orders/{id}/            GET
  kOrderStatus,  // /orders/{id}/status/     PUT
  kOrderEvents,  // /orders/{id}/events/     GET
  kEvents,       // /events/                 GET
  kHealth,       // /health                  GET
  kMetrics,      // /metrics                 GET
  kUnmatched,
};
inline constexpr int kRouteCount = 8;

struct RouteSpec {
  RouteId id;
  const char* pattern;  // Pistache pattern
  const char* label;    // metrics label
  std::vector<std::string> methods;
};

const std::vector<RouteSpec>& Routes();
const char* RouteLabel(RouteId id);

struct Classified {
  RouteId route = RouteId::kUnmatched;
  bool method_allowed = false;
  std::string allow;  // "GET, POST" for a 405
};
// path: the request target without the query; slashes are normalised as Pistache does.
Classified Classify(std::string_view method, std::string_view path);

}  // namespace orderlog::http
