// Little-endian fixed-width integers in byte buffers (the byte order of every on-disk format).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

namespace orderlog::coding {

static_assert(std::endian::native == std::endian::little,
              "orderlog's on-disk formats are little-endian; big-endian hosts need byte swaps");

template <typename T>
inline void Put(char* dst, T v) {
  std::memcpy(dst, &v, sizeof(T));
}
template <typename T>
inline T Get(const char* src) {
  T v;
  std::memcpy(&v, src, sizeof(T));
  return v;
}
template <typename T>
inline void Append(std::string* dst, T v) {
  dst->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

}  // namespace orderlog::coding
