// Response bodies, written with RapidJSON's Writer (never by string concatenation).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/domain/order_service.h"

namespace orderlog::http {

std::string ErrorJson(std::string_view detail);  // {"detail": ...}
std::string MessageJson(std::string_view order_id, std::string_view message);
std::string OrderJson(const domain::OrderState& order);
std::string OrdersJson(const std::vector<domain::OrderState>& orders);
// with_order_id: the global feed's shape (it names the order of each event).
std::string EventsJson(const std::vector<domain::OrderEventRecord>& events, bool with_order_id);
// One event as EventsJson writes each element (a line of `orderlog-inspect dump --json`).
std::string EventJson(const domain::OrderEventRecord& event, bool with_order_id);
std::string HealthJson(uint64_t position, uint64_t orders);

}  // namespace orderlog::http
