// The read side: every order's current state, folded from the log, queryable without touching
// disk. Orders are kept in creation order; lookups by id are O(1); status and customer filters
// use indexes, not a scan of every order.
//
// Threads: Apply and LoadSnapshot from one thread at a time (the log's writer thread, or start-up);
// queries and Freeze from any thread. Internally a reader-writer lock.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/log.h"
#include "engine/record.h"
#include "engine/status.h"
#include "server/domain/chunked.h"
#include "server/domain/events.h"
#include "server/domain/order.h"

namespace orderlog::domain {

// One order, 56 bytes; strings are ids in the model's string pool.
struct OrderRow {
  std::array<uint8_t, 16> id{};
  uint32_t customer = 0;
  uint32_t product = 0;
  uint32_t quantity = 0;
  uint32_t version = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  uint8_t status = 0;
  uint8_t reserved[7] = {};
};
static_assert(sizeof(OrderRow) == 56);

// An order's state from its row, its strings taken from `strings` (the model's pool, or a frozen
// copy of it: anything whose [id] is the string).
template <typename Strings>
OrderState RowState(const OrderRow& row, const Strings& strings) {
  OrderState s;
  s.id.bytes = row.id;
  s.customer_id = std::string(strings[row.customer]);
  s.product = std::string(strings[row.product]);
  s.quantity = row.quantity;
  s.status = static_cast<OrderStatus>(row.status);
  s.version = row.version;
  s.created_at_ms = row.created_at_ms;
  s.updated_at_ms = row.updated_at_ms;
  return s;
}

struct ListFilter {
  std::optional<OrderStatus> status;
  std::optional<std::string> customer_id;
};

// What an idempotency key was first used for.
struct KeyedCreate {
  OrderId id;
  std::string customer_id;
  std::string product;
  uint32_t quantity = 0;
};

class ReadModel {
 public:
  struct KeyEntry {
    uint32_t key = 0;  // pool id of the idempotency key
    uint32_t row = 0;
  };

  // A consistent copy of the model at one log position, for writing a snapshot while Apply
  // goes on: taking it costs O(chunks) under the lock, and updates after it copy a 3.5 MiB chunk
  // at most once each. Must not outlive the model.
  class Frozen {
   public:
    explicit Frozen(const ReadModel* model) : model_(model) {}
    ~Frozen();
    Frozen(const Frozen&) = delete;
    Frozen& operator=(const Frozen&) = delete;
    Position position() const { return position_; }
    size_t order_count() const { return rows_.size; }

   private:
    friend class ReadModel;
    friend class OrderListing;
    const ReadModel* model_;
    Position position_;
    CowChunks<OrderRow>::Frozen rows_;
    AppendOnly<std::string_view>::Frozen strings_;
    AppendOnly<KeyEntry>::Frozen keys_;
  };

  ReadModel();
  ~ReadModel();
  ReadModel(const ReadModel&) = delete;
  ReadModel& operator=(const ReadModel&) = delete;

  // Folds a decoded event (the committer knows it already: no decoding on the hot path).
  Status Apply(Position position, std::string_view order_id, const OrderEvent& event,
               uint64_t version, int64_t ts_ms);
  // Folds every committed record of the log after position() (start-up replay). progress is
  // called every 65,536 events with the count so far.
  Status Replay(const Log& log, const std::function<void(uint64_t)>& progress);
  Position position() const;

  std::optional<OrderState> Get(std::string_view order_id) const;
  // Orders matching the filter, in creation order, [offset, offset + limit); *total is the number
  // of matching orders.
  std::vector<OrderState> List(const ListFilter& filter, size_t offset, size_t limit,
                               size_t* total) const;
  size_t order_count() const;
  std::optional<KeyedCreate> FindKey(std::string_view idempotency_key) const;

  std::unique_ptr<Frozen> Freeze() const;
  // Frozen copies alive (snapshots being written, lists being streamed): while there are any, an
  // update copies the chunk it touches once.
  int frozen_views() const;
  // Serialised form of a frozen model (the snapshot body), and its inverse, which replaces the
  // whole model.
  static std::string Serialize(const Frozen& frozen);
  Status Deserialize(std::string_view body, Position position);

  size_t MemoryUsage() const;

 private:
  friend class OrderListing;
  struct StringPool;
  struct Indexes;

  std::unique_ptr<Frozen> FreezeLocked() const;  // REQUIRES(mu_) exclusively
  // For OrderListing, under one lock: a view, and a copy of the index the filter walks (the
  // status's bitmap and count, or the customer's rows).
  struct ListingStart {
    std::unique_ptr<Frozen> view;
    std::vector<uint64_t> status_bits;
    size_t status_count = 0;
    std::vector<uint32_t> customer_rows;
  };
  ListingStart FreezeForListing(const ListFilter& filter) const;
  uint32_t Intern(std::string_view s);
  std::string_view StringAt(uint32_t id) const;
  OrderState ToState(const OrderRow& row) const;
  std::optional<uint32_t> FindRow(const std::array<uint8_t, 16>& id) const;
  size_t IdSlotFor(const std::array<uint8_t, 16>& id, uint32_t* tag);
  void IndexRow(uint32_t row, size_t slot, uint32_t tag);
  void AddCustomerRows(uint32_t from);
  Status ApplyLocked(Position position, std::string_view order_id, const OrderEvent& event,
                     uint64_t version, int64_t ts_ms);
  Status ApplyParsed(Position position, const OrderId& id, const OrderEvent& event,
                     uint64_t version, int64_t ts_ms);
  void RebuildIndexes();

  mutable std::shared_mutex mu_;
  Position position_;                 // GUARDED_BY(mu_)
  CowChunks<OrderRow> rows_;          // GUARDED_BY(mu_)
  std::unique_ptr<StringPool> pool_;  // GUARDED_BY(mu_)
  std::unique_ptr<Indexes> idx_;      // GUARDED_BY(mu_)
  // Idempotency keys in first-use order (key bytes live in the pool), and their lookup.
  AppendOnly<KeyEntry> keys_;                        // GUARDED_BY(mu_)
  std::unordered_map<uint32_t, uint32_t> key_rows_;  // pool id -> row, GUARDED_BY(mu_)
  mutable int frozen_alive_ = 0;                     // GUARDED_BY(mu_)
};

}  // namespace orderlog::domain
