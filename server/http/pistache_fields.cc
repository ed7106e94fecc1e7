#include "server/http/pistache_fields.h"

#include <pistache/cookie.h>
#include <pistache/http_headers.h>

#include <string>

namespace orderlog::http {

std::optional<HeadError> FieldsPistacheRefuses(std::string_view head) {
  auto& registry = Pistache::Http::Header::Registry::instance();
  size_t pos = head.find('\n') + 1;  // past the request line
  while (pos < head.size()) {
    const size_t eol = head.find('\n', pos);
    const std::string_view line = head.substr(pos, eol - 1 - pos);  // without its CRLF
    pos = eol + 1;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    const std::string name(line.substr(0, colon));
    // As Pistache takes the value: leading spaces skipped, the rest up to the line's end.
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    try {
      if (name.size() == 6 && Pistache::Http::Header::LowercaseEqualStatic(name, "cookie")) {
        Pistache::Http::CookieJar jar;
        jar.addFromRaw(value.data(), value.size());
      } else if (registry.isRegistered(name)) {
        registry.makeHeader(name)->parseRaw(value.data(), value.size());
      }
    } catch (...) {
      return HeadError{400, "Malformed " + name + " header"};
    }
  }
  return std::nullopt;
}

}  // namespace orderlog::http
