// stream id -> (last position, current version), for every stream in the log.
//
// An open-addressing hash table (linear probing, power-of-two capacity, at most 2^32 slots) whose
// keys live in an
// append-only arena, so a key's string_view stays valid for the table's lifetime. About 32 bytes
// a slot plus the key bytes: well under the 128 bytes per stream the index may cost.
// Not synchronised: the log guards it with its index mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/types.h"

namespace orderlog {

struct StreamState {
  Position last;          // position of the stream's newest event
  StreamVersion version;  // number of events in the stream
};

class StreamTable {
 public:
  StreamTable();

  // nullptr if the stream has no events. Valid until the next insertion.
  const StreamState* Find(std::string_view id) const { return Find(id, Hash(id)); }
  const StreamState* Find(std::string_view id, uint64_t hash) const;
  StreamState* Find(std::string_view id, uint64_t hash) {
    return const_cast<StreamState*>(std::as_const(*this).Find(id, hash));
  }
  // The state for id, created zeroed if missing; *stable_key is set to the arena copy of id.
  // The returned pointer is valid until the next insertion.
  StreamState* FindOrInsert(std::string_view id, std::string_view* stable_key = nullptr) {
    return FindOrInsert(id, Hash(id), stable_key);
  }
  StreamState* FindOrInsert(std::string_view id, uint64_t hash, std::string_view* stable_key);

  static uint64_t Hash(std::string_view id);
  // Starts loading the slot where a probe for hash begins (a writer knows its next ids ahead).
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[Home(hash)]); }
  // The arena copy of the id whose state st is (st from Find or FindOrInsert); stable.
  static std::string_view KeyOf(const StreamState* st);

  void Reserve(size_t streams);
  size_t size() const { return size_; }
  size_t MemoryUsage() const;

 private:
  struct Slot {
    StreamState state;          // first: KeyOf finds the slot from its state
    const char* key = nullptr;  // nullptr: empty slot
    uint32_t hash = 0;
    uint32_t len = 0;
  };

  // The slot where a probe for hash starts. The slot index and the stored tag both come from the
  // high 32 bits of the hash, so growing the table never has to rehash (or even touch) the keys.
  size_t Home(uint64_t hash) const {
    return static_cast<uint32_t>(hash >> 32) & (slots_.size() - 1);
  }
  size_t Probe(std::string_view id, uint64_t h) const;  // slot holding id, or the empty slot for it
  void Grow(size_t min_capacity);
  const char* CopyKey(std::string_view id);

  std::vector<Slot> slots_;
  size_t size_ = 0;
  std::vector<std::unique_ptr<char[]>> arena_blocks_;
  size_t arena_used_ = 0;  // bytes used in the last block
  size_t arena_bytes_ = 0;
};

inline std::string_view StreamTable::KeyOf(const StreamState* st) {
  static_assert(std::is_standard_layout_v<Slot> && offsetof(Slot, state) == 0);
  const Slot* slot = reinterpret_cast<const Slot*>(st);
  return std::string_view(slot->key, slot->len);
}

}  // namespace orderlog
