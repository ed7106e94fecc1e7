// RequestFramer: where one connection's byte stream is in its current request, and where each
// request ends. The guard (guard.h) feeds it every byte a connection sends, before Pistache sees
// any, and learns from each step how many bytes belong to the current request, whether that
// request is now complete, and whether it must be refused:
//  - whatever request_head.h refuses (an over-long request line or header section, a malformed
//    request or field line, bare CR or LF, a missing Host, a bad Content-Length or
//    Transfer-Encoding, an unknown expectation);
//  - a body over the limit, declared (Content-Length) or adding up past it (chunked);
//  - a malformed chunk size or chunk line.
// A refusal answers the route/method (404/405) and token (401) checks first, as the API contract
// orders them. Request boundaries are what let the guard answer pipelined requests one by one
// (Pistache 0.0.5 drops whatever follows the first request in a read).
//
// Threads: one framer per connection, used only on that connection's reactor thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "server/http/request_head.h"
#include "server/http/tokens.h"

namespace orderlog::http {

struct FramingLimits {
  size_t max_body = 64 * 1024;
  HeadLimits head;                 // request line and header section
  const Tokens* tokens = nullptr;  // null: no token required
  // A further check of a head the strict rules accept (the guard's: pistache_fields.h).
  std::optional<HeadError> (*check_fields)(std::string_view head) = nullptr;
};

struct Refusal {
  int code;
  std::string detail;  // for the JSON body
  std::string allow;   // for a 405
};

class RequestFramer {
 public:
  struct Step {
    size_t used = 0;                 // bytes of the input that belong to the current request
    bool request_done = false;       // ...and they complete it
    std::optional<Refusal> refusal;  // the request is refused (nothing after it is framed)
  };

  // Frames bytes up to the end of the current request at most.
  Step Next(const char* p, size_t n, const FramingLimits& limits);

  // The current request's head, as far as it parsed (valid once its head has been framed, and
  // until the next request's head is).
  const RequestHead& request() const { return request_; }
  // The current request's head asked for 100 Continue and nothing refused it. Cleared by reading.
  bool TakeContinue() { return std::exchange(send_continue_, false); }
  // Somewhere inside a request (as opposed to between two).
  bool mid_request() const { return state_ != State::kHead || !head_.empty(); }

 private:
  enum class State : unsigned char {
    kHead,
    kBody,
    kChunkSize,
    kChunkData,
    kChunkCrlf,
    kTrailer,
  };
  std::optional<Refusal> OnHead(const FramingLimits& limits);
  Refusal Refuse(int code, std::string detail, const FramingLimits& limits) const;

  State state_ = State::kHead;
  std::string head_;        // bytes of the request line and headers so far
  uint64_t body_left_ = 0;  // kBody / kChunkData / kChunkCrlf
  uint64_t chunked_total_ = 0;
  std::string line_;  // chunk-size or trailer line so far
  RequestHead request_;
  bool send_continue_ = false;
};

}  // namespace orderlog::http
