#include "server/http/request_framer.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "server/http/routes.h"

namespace orderlog::http {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The longest chunk-size or trailer line taken.
constexpr size_t kMaxChunkLine = 1024;

}  // namespace

RequestFramer::Step RequestFramer::Next(const char* p, size_t n, const FramingLimits& limits) {
  Step step;
  size_t& i = step.used;
  auto refuse = [&](int code, std::string detail) {
    step.refusal = Refuse(code, std::move(detail), limits);
    return step;
  };
  auto done = [&] {
    state_ = State::kHead;
    step.request_done = true;
    return step;
  };
  while (i < n) {
    switch (state_) {
      case State::kHead: {
        const size_t before = head_.size();
        size_t end;
        if (before == 0) {  // a new request: nothing known of it yet
          request_ = RequestHead{};
          // Only the head is copied: pipelined requests behind it in this read are not.
          end = HeadEnd(std::string_view(p + i, n - i));
          head_.assign(p + i, end == std::string::npos ? n - i : end);
        } else {
          head_.append(p + i, n - i);
          end = HeadEnd(head_, before >= 2 ? before - 2 : 0);
        }
        if (end == std::string::npos) {
          // Refused as soon as the head so far breaks a limit, with the answer the whole head
          // would get (ParseRequestHead's), however the bytes were split into reads.
          const size_t line_end = head_.find('\n');
          const size_t line = line_end == std::string::npos ? head_.size() : line_end;
          if (line > limits.head.max_request_line + 1) {
            return refuse(414, "Request line too long");
          }
          if (line_end != std::string::npos &&
              head_.size() - line_end > limits.head.max_header_section) {
            return refuse(431, "Request headers too large");
          }
          i = n;  // the head continues in the next read
          return step;
        }
        i += end - before;  // the bytes of this read that were head
        head_.resize(end);
        if (auto r = OnHead(limits)) {
          step.refusal = std::move(r);
          return step;
        }
        head_.clear();
        if (state_ == State::kHead) return done();  // no body
        break;
      }
      case State::kBody: {
        const uint64_t take = std::min<uint64_t>(body_left_, n - i);
        body_left_ -= take;
        i += take;
        if (body_left_ == 0) return done();
        break;
      }
      case State::kChunkSize:
      case State::kTrailer: {
        const char c = p[i++];
        if (c != '\n') {
          if (c != '\r') line_.push_back(c);
          if (line_.size() > kMaxChunkLine) {
            return refuse(400, "Malformed chunked body");
          }
          break;
        }
        if (state_ == State::kTrailer) {
          const bool last = line_.empty();
          line_.clear();
          if (last) return done();  // the empty line that ends a chunked message
          break;
        }
        const std::string_view hex = Trim(std::string_view(line_).substr(0, line_.find(';')));
        uint64_t size = 0;
        auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
        if (hex.empty() || ec != std::errc() || ptr != hex.data() + hex.size()) {
          return refuse(400, "Malformed chunk size");
        }
        line_.clear();
        chunked_total_ += size;
        if (size > limits.max_body || chunked_total_ > limits.max_body) {
          return refuse(413,
                        "Request body larger than " + std::to_string(limits.max_body) + " bytes");
        }
        if (size == 0) {
          state_ = State::kTrailer;
        } else {
          body_left_ = size;
          state_ = State::kChunkData;
        }
        break;
      }
      case State::kChunkData: {
        const uint64_t take = std::min<uint64_t>(body_left_, n - i);
        body_left_ -= take;
        i += take;
        if (body_left_ == 0) {
          state_ = State::kChunkCrlf;
          body_left_ = 2;
        }
        break;
      }
      case State::kChunkCrlf: {
        ++i;
        if (--body_left_ == 0) state_ = State::kChunkSize;
        break;
      }
    }
  }
  return step;
}

std::optional<Refusal> RequestFramer::OnHead(const FramingLimits& limits) {
  send_continue_ = false;
  auto error = ParseRequestHead(head_, limits.head, &request_);
  if (!error && limits.check_fields != nullptr) error = limits.check_fields(head_);
  if (error) return Refuse(error->code, error->detail, limits);
  const RequestHead& head = request_;
  if (head.content_length && *head.content_length > limits.max_body) {
    return Refuse(413, "Request body larger than " + std::to_string(limits.max_body) + " bytes",
                  limits);
  }
  const bool body = head.chunked || (head.content_length && *head.content_length > 0);
  // The route, token and size checks above come first: a refused request's body is never asked
  // for (RFC 9110 §10.1.1).
  if (head.expect_continue && body) {
    Refusal early = Refuse(0, "", limits);
    if (early.code != 0) return early;
    send_continue_ = true;
  }
  if (head.chunked) {
    state_ = State::kChunkSize;
    chunked_total_ = 0;
  } else if (head.content_length && *head.content_length > 0) {
    state_ = State::kBody;
    body_left_ = *head.content_length;
  } else {
    state_ = State::kHead;
  }
  return std::nullopt;
}

// The contract's order holds for refused requests too: 404/405, then 401/403, then the refusal.
Refusal RequestFramer::Refuse(int code, std::string detail, const FramingLimits& limits) const {
  const RequestHead& head = request_;
  if (!head.path.empty()) {  // the request line was understood
    const Classified c = Classify(head.method, head.path);
    if (c.route == RouteId::kUnmatched) return {404, "Not Found", ""};
    if (!c.method_allowed) return {405, "Method Not Allowed", c.allow};
    if (auto refused = CheckAccess(limits.tokens, c.route, head.method, head.authorization)) {
      return {refused->code, refused->detail, ""};
    }
  }
  return {code, std::move(detail), ""};
}

}  // namespace orderlog::http
