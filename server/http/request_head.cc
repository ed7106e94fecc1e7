#include "server/http/request_head.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace orderlog::http {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 §5.6.2: tchar.
bool IsTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

// A field value may hold VCHAR, obs-text, SP and HTAB: no other control character.
bool IsFieldValue(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
}

HeadError BadRequest(std::string detail) {
  return {400, std::move(detail)};
}

}  // namespace

bool KeepsAlive(bool http10, std::string_view connection) {
  bool close = false;
  bool keep_alive = false;
  for (std::string_view rest = connection; !rest.empty();) {
    const size_t comma = std::min(rest.find(','), rest.size());
    const std::string_view option = TrimOws(rest.substr(0, comma));
    close = close || IEquals(option, "close");
    keep_alive = keep_alive || IEquals(option, "keep-alive");
    rest.remove_prefix(std::min(comma + 1, rest.size()));
  }
  return !close && (!http10 || keep_alive);
}

size_t HeadEnd(std::string_view bytes, size_t from) {
  for (size_t i = bytes.find('\n', from); i != std::string_view::npos;
       i = bytes.find('\n', i + 1)) {
    if (i + 1 < bytes.size() && bytes[i + 1] == '\n') return i + 2;
    if (i + 2 < bytes.size() && bytes[i + 1] == '\r' && bytes[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

std::optional<HeadError> ParseRequestHead(std::string_view head, const HeadLimits& limits,
                                          RequestHead* out) {
  *out = RequestHead{};
  const size_t line_end = head.find('\n');
  if (line_end == std::string_view::npos) return BadRequest("Malformed request line");
  if (line_end > limits.max_request_line + 1) return HeadError{414, "Request line too long"};
  if (head.size() - line_end > limits.max_header_section) {
    return HeadError{431, "Request headers too large"};
  }
  // Every line ends with CRLF, and a CR is nowhere else.
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) {
      return BadRequest("Malformed line ending (bare LF)");
    }
    if (head[i] == '\r' && (i + 1 == head.size() || head[i + 1] != '\n')) {
      return BadRequest("Malformed line ending (bare CR)");
    }
  }
  const std::string_view request_line = head.substr(0, line_end - 1);
  // "METHOD SP /target SP HTTP/1.x"
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1 + 1 || request_line[sp1 + 1] != '/') {
    return BadRequest("Malformed request line");
  }
  const std::string_view version = request_line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return BadRequest("Malformed request line");
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.find(' ') != std::string_view::npos) return BadRequest("Malformed request line");
  out->method = std::string(request_line.substr(0, sp1));
  out->target = std::string(target);
  out->path = std::string(target.substr(0, target.find('?')));
  out->http10 = version == "HTTP/1.0";
  static constexpr std::string_view kMethods[] = {"OPTIONS", "GET",    "POST",  "HEAD",   "PUT",
                                                  "PATCH",   "DELETE", "TRACE", "CONNECT"};
  if (std::find(std::begin(kMethods), std::end(kMethods), out->method) == std::end(kMethods)) {
    return HeadError{405, "Method Not Allowed"};
  }

  std::string connection;
  int hosts = 0;
  bool other_expectation = false;
  size_t pos = line_end + 1;
  while (pos < head.size()) {
    const size_t eol = head.find('\n', pos);
    const std::string_view line = head.substr(pos, eol - 1 - pos);  // without its CRLF
    pos = eol + 1;
    if (line.empty()) break;  // the end of the head
    if (line.front() == ' ' || line.front() == '\t') return BadRequest("Obsolete line folding");
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return BadRequest("Malformed header line (no colon)");
    const std::string_view name = line.substr(0, colon);
    if (!IsToken(name)) return BadRequest("Malformed header name");
    const std::string_view value = TrimOws(line.substr(colon + 1));
    if (!IsFieldValue(value)) return BadRequest("Malformed header value");
    if (IEquals(name, "Content-Length")) {
      uint64_t v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() ||
          (out->content_length && *out->content_length != v)) {
        return BadRequest("Invalid Content-Length");
      }
      out->content_length = v;
    } else if (IEquals(name, "Transfer-Encoding")) {
      if (!IEquals(value, "chunked")) return BadRequest("Unsupported Transfer-Encoding");
      out->chunked = true;
    } else if (IEquals(name, "Host")) {
      ++hosts;
    } else if (IEquals(name, "Expect")) {
      if (IEquals(value, "100-continue")) {
        out->expect_continue = true;
      } else {
        other_expectation = true;
      }
    } else if (IEquals(name, "Connection")) {
      if (!connection.empty()) connection += ',';
      connection += value;
    } else if (IEquals(name, "Authorization") && out->authorization.empty()) {
      out->authorization = std::string(value);
    }
  }
  out->keep_alive = KeepsAlive(out->http10, connection);
  if (out->chunked && out->content_length) {
    return BadRequest("Both Content-Length and Transfer-Encoding");
  }
  if (!out->http10 && hosts != 1) {
    return BadRequest(hosts == 0 ? "Missing Host header" : "More than one Host header");
  }
  if (other_expectation) return HeadError{417, "Unsupported expectation"};
  return std::nullopt;
}

}  // namespace orderlog::http
