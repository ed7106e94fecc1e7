// Request framing: the RequestFramer takes any bytes, split anywhere, without crashing; where it
// finds requests end does not depend on how the bytes were split into reads (the guard hands
// Pistache one request at a time on the strength of it); every step makes progress; and every
// request it completes has a head the strict parser accepts, so framing never lets through what
// request_head.h refuses. The first input byte picks the read size of the split run.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/request_framer.h"

namespace {

using orderlog::http::FramingLimits;
using orderlog::http::RequestFramer;

struct Outcome {
  std::vector<size_t> ends;  // offsets just past each completed request
  int refused = 0;           // the refusal's status code, 0 if none
};

Outcome Frame(std::string_view bytes, size_t read_size, const FramingLimits& limits) {
  RequestFramer framer;
  Outcome out;
  size_t offset = 0;
  while (offset < bytes.size()) {
    const size_t n = std::min(read_size, bytes.size() - offset);
    size_t i = 0;
    while (i < n) {
      const RequestFramer::Step step = framer.Next(bytes.data() + offset + i, n - i, limits);
      if (step.refusal) {
        out.refused = step.refusal->code;
        if (out.refused < 400 || out.refused > 599) __builtin_trap();
        return out;
      }
      if (step.used == 0 || step.used > n - i) __builtin_trap();  // progress, within the read
      i += step.used;
      if (step.request_done) {
        out.ends.push_back(offset + i);
        // What was completed passed the strict rules.
        if (framer.request().path.empty() || framer.request().path[0] != '/') __builtin_trap();
      }
    }
    offset += n;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t read_size = 1 + data[0] % 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  FramingLimits limits;
  limits.max_body = 256;  // small, so that fuzzed bodies reach the limit
  limits.head.max_request_line = 256;
  limits.head.max_header_section = 512;
  const Outcome whole = Frame(bytes, bytes.size() + 1, limits);
  const Outcome split = Frame(bytes, read_size, limits);
  if (whole.ends != split.ends || whole.refused != split.refused) __builtin_trap();
  // Each completed request's head, re-parsed on its own, is accepted by the strict parser.
  size_t start = 0;
  for (const size_t end : whole.ends) {
    const std::string_view request = bytes.substr(start, end - start);
    const size_t head_end = orderlog::http::HeadEnd(request);
    if (head_end == std::string_view::npos) __builtin_trap();
    orderlog::http::RequestHead head;
    if (orderlog::http::ParseRequestHead(request.substr(0, head_end), limits.head, &head)) {
      __builtin_trap();
    }
    start = end;
  }
  return 0;
}
