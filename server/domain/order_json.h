// Orders and their events as JSON, in the shapes of ../shared/API.md: what the server answers
// and what orderlog-inspect prints, written in one place with RapidJSON's Writer.
#pragma once

#include <string>
#include <vector>

#include "server/domain/order_service.h"

namespace orderlog::domain {

std::string OrderJson(const OrderState& order);
std::string OrdersJson(const std::vector<OrderState>& orders);
// with_order_id: the global feed's shape (it names the order of each event).
std::string EventsJson(const std::vector<OrderEventRecord>& events, bool with_order_id);
// One event as EventsJson writes each element (a line of `orderlog-inspect dump --json`).
std::string EventJson(const OrderEventRecord& event, bool with_order_id);

}  // namespace orderlog::domain
