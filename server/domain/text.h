// Byte-level text helpers shared by the domain (field rules) and the HTTP layer (JSON strings).
#pragma once

#include <cstdint>
#include <istream>
#include <streambuf>
#include <string>
#include <string_view>

namespace orderlog::domain {

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF). With
// reject_controls, also no U+0000-U+001F or U+007F.
inline bool IsValidUtf8(std::string_view s, bool reject_controls = false) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (reject_controls && (c < 0x20 || c == 0x7f)) return false;
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n;
  }
  return true;
}

// cereal reads and writes through iostreams; these streambufs put them over memory without the
// cost of a stringstream.
class MemorySource : public std::streambuf {
 public:
  MemorySource() = default;
  explicit MemorySource(std::string_view bytes) { Reset(bytes); }
  void Reset(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());  // NOLINT: only ever read
    setg(p, p, p + bytes.size());
  }
};

class StringSink : public std::streambuf {
 public:
  explicit StringSink(std::string* out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_->append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_->push_back(static_cast<char>(c));
    return c;
  }

 private:
  std::string* out_;
};

}  // namespace orderlog::domain
