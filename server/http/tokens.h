// Bearer tokens: one from --auth-token (it grants everything), or the lines of --auth-token-file,
// re-read on SIGHUP: one token per line, so a new token can be added before the old one is
// removed; a line "read:<token>" grants the reading requests only (GET and HEAD: orders, events,
// streams, metrics), so a consumer's credential cannot write. Blank lines and lines starting with
// '#' are skipped. /health needs no token. Tokens never appear in logs or metrics.
//
// Threads: TokenSet is immutable; Tokens is read by the reactors and replaced by the main thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "server/http/routes.h"

namespace orderlog::http {

enum class Grant : uint8_t { kNone, kRead, kAll };

class TokenSet {
 public:
  // None: every request is let through.
  TokenSet() = default;
  static std::shared_ptr<const TokenSet> Single(std::string token);
  // A file that cannot be read, or holds no token or a malformed line, is an error naming the
  // line (never its text: it may be a token).
  static Result<std::shared_ptr<const TokenSet>> FromFile(const std::string& path);

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // What the Authorization field's value grants. Each token is compared in constant time (the
  // time does not depend on how much of it matched; a review item, there is no timing test), and
  // every token is compared whichever matches.
  Grant Check(std::string_view authorization) const;

 private:
  struct Entry {
    std::string token;
    Grant grant;
  };
  std::vector<Entry> entries_;
};

// The tokens in force; Set replaces them whole, between two requests of any connection. A
// mutex, not std::atomic<std::shared_ptr>: libstdc++ 12 implements that with a lock bit TSan
// cannot see, and a request takes this lock only when tokens are required, for a pointer copy.
class Tokens {
 public:
  explicit Tokens(std::shared_ptr<const TokenSet> set) { Set(std::move(set)); }
  void Set(std::shared_ptr<const TokenSet> set) {
    const bool required = set != nullptr && !set->empty();
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = std::move(set);
    }
    required_.store(required, std::memory_order_release);
  }
  bool required() const { return required_.load(std::memory_order_acquire); }
  std::shared_ptr<const TokenSet> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

 private:
  std::atomic<bool> required_{false};
  mutable std::mutex mu_;
  std::shared_ptr<const TokenSet> current_;  // GUARDED_BY(mu_)
};

struct AccessRefusal {
  int code;  // 401 (with WWW-Authenticate) or 403
  const char* detail;
};

// The refusal for a request of `route` by `method` with that Authorization value, if any.
std::optional<AccessRefusal> CheckAccess(const Tokens* tokens, RouteId route,
                                         std::string_view method, std::string_view authorization);

}  // namespace orderlog::http
