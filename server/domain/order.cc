#include "server/domain/order.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace orderlog::domain {

const char* StatusName(OrderStatus s) {
  switch (s) {
    case OrderStatus::kProcessing:
      return "processing";
    case OrderStatus::kShipped:
      return "shipped";
    case OrderStatus::kDelivered:
      return "delivered";
    case OrderStatus::kCancelled:
      return "cancelled";
  }
  return "?";
}

std::optional<OrderStatus> ParseStatus(std::string_view s) {
  if (s == "processing") return OrderStatus::kProcessing;
  if (s == "shipped") return OrderStatus::kShipped;
  if (s == "delivered") return OrderStatus::kDelivered;
  if (s == "cancelled") return OrderStatus::kCancelled;
  return std::nullopt;
}

bool CanTransition(OrderStatus from, OrderStatus to) {
  switch (from) {
    case OrderStatus::kProcessing:
      return to == OrderStatus::kShipped || to == OrderStatus::kCancelled;
    case OrderStatus::kShipped:
      return to == OrderStatus::kDelivered || to == OrderStatus::kCancelled;
    case OrderStatus::kDelivered:
    case OrderStatus::kCancelled:
      return false;
  }
  return false;
}

bool IsFinal(OrderStatus s) {
  return s == OrderStatus::kDelivered || s == OrderStatus::kCancelled;
}

namespace {

// Random bytes from the kernel, fetched 4 KiB at a time.
class RandomPool {
 public:
  void Fill(uint8_t* out, size_t n) {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < n; ++i) {
      if (used_ == sizeof(buf_)) Refill();
      out[i] = buf_[used_++];
    }
  }

 private:
  void Refill() {
    size_t got = 0;
    while (got < sizeof(buf_)) {
      ssize_t r = ::getrandom(buf_ + got, sizeof(buf_) - got, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("getrandom failed");
      }
      got += static_cast<size_t>(r);
    }
    used_ = 0;
  }

  std::mutex mu_;
  uint8_t buf_[4096];
  size_t used_ = sizeof(buf_);
};

// Lower-case hex digit values; -1 for everything else (upper case is not canonical).
constexpr std::array<int8_t, 256> kHex = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) t['a' + i] = static_cast<int8_t>(10 + i);
  return t;
}();

int HexValue(char c) {
  return kHex[static_cast<unsigned char>(c)];
}

}  // namespace

OrderId OrderId::Random() {
  static RandomPool pool;
  OrderId id;
  pool.Fill(id.bytes.data(), id.bytes.size());
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return id;
}

std::optional<OrderId> OrderId::Parse(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  // Offsets of the 16 hex pairs in "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
  static constexpr uint8_t kPairs[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
  OrderId id;
  int bad = 0;
  for (size_t b = 0; b < 16; ++b) {
    const int hi = HexValue(text[kPairs[b]]);
    const int lo = HexValue(text[kPairs[b] + 1]);
    bad |= hi | lo;  // negative if any digit was not lower-case hex
    id.bytes[b] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (bad < 0) return std::nullopt;
  return id;
}

std::string OrderId::ToString() const {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 15]);
  }
  return out;
}

std::string FormatTimestamp(int64_t unix_ms) {
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  const auto t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

}  // namespace

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return std::nullopt;
  }
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  if (day > kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0)) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  size_t i = 19;
  int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (size_t k = digits; k < 3; ++k) ms *= 10;
  }
  if (i >= s.size()) return std::nullopt;
  int offset_min = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) -
                       static_cast<int64_t>(offset_min) * 60;
  return secs * 1000 + ms;
}

}  // namespace orderlog::domain
