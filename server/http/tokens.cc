#include "server/http/tokens.h"

#include <algorithm>
#include <cctype>
#include <fstream>

namespace orderlog::http {

namespace {

// Every byte of the longer of the two is looked at, whatever differs: no early exit.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

bool IsTokenChar(unsigned char c) {
  return c > 0x20 && c < 0x7f;
}

}  // namespace

std::shared_ptr<const TokenSet> TokenSet::Single(std::string token) {
  auto set = std::make_shared<TokenSet>();
  if (!token.empty()) set->entries_.push_back({std::move(token), Grant::kAll});
  return set;
}

Result<std::shared_ptr<const TokenSet>> TokenSet::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read the token file " + path);
  auto set = std::make_shared<TokenSet>();
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t start = 0;
    while (start < line.size() && (line[start] == ' ' || line[start] == '\t')) ++start;
    line.erase(0, start);
    if (line.empty() || line[0] == '#') continue;
    Entry e{line, Grant::kAll};
    if (line.rfind("read:", 0) == 0) e = {line.substr(5), Grant::kRead};
    if (e.token.empty() || !std::all_of(e.token.begin(), e.token.end(), [](char c) {
          return IsTokenChar(static_cast<unsigned char>(c));
        })) {
      return Status::InvalidArgument("token file " + path + " line " + std::to_string(number) +
                                     ": a token is visible ASCII without spaces");
    }
    set->entries_.push_back(std::move(e));
  }
  if (set->entries_.empty()) return Status::InvalidArgument("token file " + path + " has no token");
  return std::shared_ptr<const TokenSet>(std::move(set));
}

Grant TokenSet::Check(std::string_view authorization) const {
  // "Bearer" is a case-insensitive scheme name (RFC 9110 §11.1), then one space.
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size()) return Grant::kNone;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return Grant::kNone;
    }
  }
  const std::string_view presented = authorization.substr(kScheme.size());
  Grant grant = Grant::kNone;
  for (const Entry& e : entries_) {
    if (ConstantTimeEquals(presented, e.token) && e.grant > grant) grant = e.grant;
  }
  return grant;
}

std::optional<AccessRefusal> CheckAccess(const Tokens* tokens, RouteId route,
                                         std::string_view method, std::string_view authorization) {
  if (tokens == nullptr || !tokens->required() || route == RouteId::kHealth) return std::nullopt;
  const Grant grant = tokens->Get()->Check(authorization);
  if (grant == Grant::kNone) return AccessRefusal{401, "Not authenticated"};
  const bool reads = method == "GET" || method == "HEAD";
  if (grant == Grant::kRead && !reads) {
    return AccessRefusal{403, "This token may only read: writes need a token without read:"};
  }
  return std::nullopt;
}

}  // namespace orderlog::http
