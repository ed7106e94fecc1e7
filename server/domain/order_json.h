// Orders and their events as JSON, in the shapes of ../shared/API.md: what the server answers
// and what orderlog-inspect prints, written in one place with RapidJSON's Writer.
#pragma once

#include <string>
#include <vector>

#include "engine/record.h"
#include "server/domain/order_service.h"

namespace orderlog::domain {

std::string OrderJson(const OrderState& order);
std::string OrdersJson(const std::vector<OrderState>& orders);
// OrderJson and EventJson appended to *out: the elements of OrdersJson and EventsJson, for
// answers written a piece at a time ("[" + elements joined by "," + "]" is the same bytes).
void AppendOrderJson(const OrderState& order, std::string* out);
void AppendEventJson(const OrderEventRecord& event, bool with_order_id, std::string* out);
// with_order_id: the global feed's shape (it names the order of each event).
std::string EventsJson(const std::vector<OrderEventRecord>& events, bool with_order_id);
// One event as EventsJson writes each element (a line of `orderlog-inspect dump --json`).
std::string EventJson(const OrderEventRecord& event, bool with_order_id);
// A record that does not decode as an order event: the same members as EventJson with the order
// id, then why it does not decode and its payload in hex, instead of "data".
std::string UndecodableEventJson(const RecordView& rec, const std::string& why,
                                 const std::string& payload_hex);

}  // namespace orderlog::domain
