// The HTTP layer's own response bodies, written with RapidJSON's Writer (never by string
// concatenation). Orders and events: server/domain/order_json.h.
#pragma once

#include <string>
#include <string_view>

namespace orderlog::http {

std::string ErrorJson(std::string_view detail);  // {"detail": ...}
std::string MessageJson(std::string_view order_id, std::string_view message);
// /health: status "ok", or "read-only" with the detail of why writes are refused.
std::string HealthJson(uint64_t position, uint64_t orders, const char* status = "ok",
                       const std::string& detail = "");

}  // namespace orderlog::http
