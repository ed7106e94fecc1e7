// Small helpers shared by the tests: temporary directories and byte-level corruption.
#pragma once

#include <cstdint>
#include <string>

namespace orderlog::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);
uint64_t FileSize(const std::string& path);
// Flips the bits of mask in the byte at offset.
void FlipByte(const std::string& path, uint64_t offset, unsigned char mask = 0x01);
void TruncateFile(const std::string& path, uint64_t size);
void CopyDir(const std::string& from, const std::string& to);
std::string ToHex(const std::string& bytes);

}  // namespace orderlog::testing
