#include "engine/stream_table.h"

#include <xxhash.h>

#include <cstring>

namespace orderlog {

namespace {
constexpr size_t kArenaBlock = 1 << 20;
constexpr size_t kInitialCapacity = 1024;
}  // namespace

StreamTable::StreamTable() {
  slots_.resize(kInitialCapacity);
}

uint64_t StreamTable::Hash(std::string_view id) {
  return XXH3_64bits(id.data(), id.size());
}

size_t StreamTable::Probe(std::string_view id, uint64_t h) const {
  const size_t mask = slots_.size() - 1;
  const auto h32 = static_cast<uint32_t>(h >> 32);
  for (size_t i = Home(h);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.key == nullptr) return i;
    if (s.hash == h32 && s.len == id.size() && std::memcmp(s.key, id.data(), id.size()) == 0) {
      return i;
    }
  }
}

const StreamState* StreamTable::Find(std::string_view id, uint64_t hash) const {
  const Slot& s = slots_[Probe(id, hash)];
  return s.key == nullptr ? nullptr : &s.state;
}

StreamState* StreamTable::FindOrInsert(std::string_view id, uint64_t h,
                                       std::string_view* stable_key) {
  size_t i = Probe(id, h);
  if (slots_[i].key == nullptr) {
    if ((size_ + 1) * 8 > slots_.size() * 7) {  // keep the load factor under 7/8
      Grow(slots_.size() * 2);
      i = Probe(id, h);
    }
    Slot& s = slots_[i];
    s.key = CopyKey(id);
    s.hash = static_cast<uint32_t>(h >> 32);
    s.len = static_cast<uint32_t>(id.size());
    ++size_;
  }
  Slot& s = slots_[i];
  if (stable_key != nullptr) *stable_key = std::string_view(s.key, s.len);
  return &s.state;
}

void StreamTable::Reserve(size_t streams) {
  size_t want = slots_.size();
  while (streams * 8 > want * 7) want *= 2;
  if (want != slots_.size()) Grow(want);
}

void StreamTable::Grow(size_t min_capacity) {
  size_t capacity = slots_.size();
  while (capacity < min_capacity) capacity *= 2;
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  const size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.key == nullptr) continue;
    size_t i = s.hash & mask;
    while (slots_[i].key != nullptr) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

const char* StreamTable::CopyKey(std::string_view id) {
  if (arena_blocks_.empty() || arena_used_ + id.size() > kArenaBlock) {
    const size_t block = std::max(kArenaBlock, id.size());
    arena_blocks_.push_back(std::make_unique<char[]>(block));
    arena_bytes_ += block;
    arena_used_ = 0;
  }
  char* dst = arena_blocks_.back().get() + arena_used_;
  std::memcpy(dst, id.data(), id.size());
  arena_used_ += id.size();
  return dst;
}

size_t StreamTable::MemoryUsage() const {
  return slots_.size() * sizeof(Slot) + arena_bytes_;
}

}  // namespace orderlog
