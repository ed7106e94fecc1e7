// Request heads: HeadEnd and ParseRequestHead take any bytes without crashing, and what they
// accept obeys the strict rules, re-checked here independently of the parser: every line ends
// with CRLF and no CR stands alone, every field line is "token: value" with no control character
// in the value, and an HTTP/1.1 request has exactly one Host.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/http/request_head.h"

namespace {

bool Token(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && std::string_view("!#$%&'*+-.^_`|~").find(ch) == std::string_view::npos)
      return false;
  }
  return true;
}

bool CaseEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t end = orderlog::http::HeadEnd(bytes);
  if (end == std::string_view::npos) return 0;
  if (end > bytes.size()) __builtin_trap();
  const std::string_view head = bytes.substr(0, end);
  orderlog::http::RequestHead parsed;
  if (orderlog::http::ParseRequestHead(head, orderlog::http::HeadLimits{}, &parsed)) return 0;

  // Accepted: check the rules.
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\r' && (i + 1 == head.size() || head[i + 1] != '\n')) __builtin_trap();
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) __builtin_trap();
  }
  size_t pos = head.find("\r\n") + 2;
  int hosts = 0;
  while (pos < head.size()) {
    const size_t eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !Token(line.substr(0, colon))) __builtin_trap();
    for (char ch : line.substr(colon + 1)) {
      const auto c = static_cast<unsigned char>(ch);
      if ((c < 0x20 && c != '\t') || c == 0x7F) __builtin_trap();
    }
    if (CaseEquals(line.substr(0, colon), "Host")) ++hosts;
  }
  if (!parsed.http10 && hosts != 1) __builtin_trap();
  if (parsed.path.empty() || parsed.path[0] != '/') __builtin_trap();
  return 0;
}
