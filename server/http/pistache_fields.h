// The header fields Pistache 0.0.5 would refuse by itself.
//
// Pistache parses every field it has a class for (Accept, Cache-Control, Content-Type, Cookie,
// Date, ...) and, when one does not parse, answers on its own: 415 or a 500 whose body is its
// exception's text, not JSON, and written ahead of any answers the guard has batched for earlier
// pipelined requests. The guard asks here first, so that such a request is refused like any
// other malformed one: a JSON 400, in its turn, and the connection closed.
//
// Kept apart from request_framer.h, which does not depend on Pistache and is fuzzed on its own.
#pragma once

#include <optional>
#include <string_view>

#include "server/http/request_head.h"

namespace orderlog::http {

// `head` is a whole request head that ParseRequestHead accepted.
std::optional<HeadError> FieldsPistacheRefuses(std::string_view head);

}  // namespace orderlog::http
