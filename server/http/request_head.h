// The head of an HTTP/1.1 request (request line and header fields), checked against RFC 9112
// before Pistache's parser sees it: a pure function of the bytes, so that the framing rules can
// be tested and fuzzed on their own. The guard (guard.h) finds where a head ends (HeadEnd),
// parses it here, and refuses what this refuses.
//
// Refused with 400: a request line that is not "METHOD SP /target SP HTTP/1.x"; a bare CR or a
// bare LF anywhere in the head (every line ends with CRLF); a field line that is not
// "name: value" with a token name (no colon, an empty name, whitespace before the colon, a
// character outside the token set) or that starts with whitespace (obsolete line folding); a
// control character in a field value; a bad or doubled Content-Length, Content-Length together
// with Transfer-Encoding, a Transfer-Encoding other than chunked; an HTTP/1.1 request without
// exactly one Host. 414 and 431 for a request line or header section over the limits, 405 for
// an unknown method, 417 for an expectation other than 100-continue.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderlog::http {

struct HeadLimits {
  size_t max_request_line = 8 * 1024;
  size_t max_header_section = 16 * 1024;
};

struct RequestHead {
  std::string method;
  std::string target;
  std::string path;  // the target without its query
  bool http10 = false;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool expect_continue = false;  // Expect: 100-continue
  // The connection stays open after the answer: HTTP/1.1 unless Connection names "close",
  // HTTP/1.0 only if it names "keep-alive" (RFC 9112 §9.3).
  bool keep_alive = true;
  std::string authorization;  // the first Authorization field's value
};

struct HeadError {
  int code;
  std::string detail;  // for the JSON body
};

// Whether the connection stays open after the answer, given the request's version and its
// Connection field values (joined with commas; empty if none): RFC 9112 §9.3.
bool KeepsAlive(bool http10, std::string_view connection);

// Offset just past the empty line that ends a head in bytes[0..), searching from `from` (a
// caller that appends reads passes where the last search stopped, less 3); npos while the head
// is incomplete. An empty line ended by a bare LF ends a head too, so that the parse can refuse
// it instead of waiting for a CRLF that never comes.
size_t HeadEnd(std::string_view bytes, size_t from = 0);

// `head` is a whole head, up to and including its empty line. On error, *out holds what was
// parsed before the error (the method and path, when the request line was understood), so that
// the caller can answer route errors first.
std::optional<HeadError> ParseRequestHead(std::string_view head, const HeadLimits& limits,
                                          RequestHead* out);

}  // namespace orderlog::http
