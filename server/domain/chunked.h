// Chunked storage for the read model, built so that a snapshot can take a consistent copy in
// microseconds while writes go on:
//  - CowChunks<T>: rows that are appended and updated in place; a frozen copy shares the chunks,
//    and the first update of a shared chunk copies it (copy-on-write, one chunk at a time).
//  - AppendOnly<T>: elements that never change once written; a frozen copy is just the count.
// Neither is synchronised: the read model guards them with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace orderlog::domain {

inline constexpr size_t kChunkShift = 16;
inline constexpr size_t kChunkSize = size_t{1} << kChunkShift;  // elements per chunk

template <typename T>
class CowChunks {
 public:
  struct Chunk {
    T items[kChunkSize];
  };
  // A consistent, immutable view of the first `size` rows.
  struct Frozen {
    std::vector<std::shared_ptr<const Chunk>> chunks;
    size_t size = 0;
    const T& operator[](size_t i) const {
      return chunks[i >> kChunkShift]->items[i & (kChunkSize - 1)];
    }
  };

  size_t size() const { return size_; }
  const T& operator[](size_t i) const {
    return chunks_[i >> kChunkShift]->items[i & (kChunkSize - 1)];
  }

  // For an update in place. `frozen_alive` says whether any Frozen may still share chunks; the
  // caller knows it under its lock, which orders our write after the snapshot's last read.
  T& Mutable(size_t i, bool frozen_alive) {
    auto& chunk = chunks_[i >> kChunkShift];
    if (frozen_alive && chunk.use_count() > 1) chunk = std::make_shared<Chunk>(*chunk);
    return chunk->items[i & (kChunkSize - 1)];
  }

  // Appends; a slot past every frozen size is never read by a snapshot, so no copy is needed.
  T& PushBack(const T& value) {
    if ((size_ & (kChunkSize - 1)) == 0 && (size_ >> kChunkShift) == chunks_.size()) {
      chunks_.push_back(std::make_shared<Chunk>());
    }
    T& slot = chunks_[size_ >> kChunkShift]->items[size_ & (kChunkSize - 1)];
    slot = value;
    ++size_;
    return slot;
  }

  Frozen Freeze() const {
    Frozen f;
    f.chunks.assign(chunks_.begin(), chunks_.end());
    f.size = size_;
    return f;
  }

  void Clear() {
    chunks_.clear();
    size_ = 0;
  }
  size_t MemoryUsage() const { return chunks_.size() * sizeof(Chunk); }

 private:
  std::vector<std::shared_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

template <typename T>
class AppendOnly {
 public:
  struct Frozen {
    std::vector<const T*> chunks;
    size_t size = 0;
    const T& operator[](size_t i) const { return chunks[i >> kChunkShift][i & (kChunkSize - 1)]; }
  };

  size_t size() const { return size_; }
  const T& operator[](size_t i) const { return chunks_[i >> kChunkShift][i & (kChunkSize - 1)]; }
  void PushBack(T value) {
    if ((size_ >> kChunkShift) == chunks_.size()) {
      chunks_.push_back(std::make_unique<T[]>(kChunkSize));
    }
    chunks_[size_ >> kChunkShift][size_ & (kChunkSize - 1)] = std::move(value);
    ++size_;
  }
  // Valid while this object lives (chunks are never freed or moved).
  Frozen Freeze() const {
    Frozen f;
    for (const auto& c : chunks_) f.chunks.push_back(c.get());
    f.size = size_;
    return f;
  }
  void Clear() {
    chunks_.clear();
    size_ = 0;
  }
  size_t MemoryUsage() const { return chunks_.size() * kChunkSize * sizeof(T); }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace orderlog::domain
