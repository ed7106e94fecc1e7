#include "server/domain/read_model.h"

#include "server/domain/text.h"

#include <xxhash.h>
#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <istream>
#include <mutex>
#include <ostream>
#include <streambuf>

namespace orderlog::domain {

// Open-addressing slots shared by the two hash tables of the model: the value (+1, 0 = empty)
// and a 32-bit tag from the hash. The slot index comes from the tag too, so growing never
// rehashes or touches the values, and a probe rarely dereferences a value that is not the one.
struct TaggedSlot {
  uint32_t value1 = 0;
  uint32_t tag = 0;
};

template <typename Equal>
size_t ProbeTagged(const std::vector<TaggedSlot>& slots, uint32_t tag, Equal&& equal) {
  const size_t mask = slots.size() - 1;
  for (size_t i = tag & mask;; i = (i + 1) & mask) {
    const TaggedSlot& s = slots[i];
    if (s.value1 == 0 || (s.tag == tag && equal(s.value1 - 1))) return i;
  }
}

// Doubles the table when it would pass half full.
void GrowTagged(std::vector<TaggedSlot>* slots, size_t count) {
  if ((count + 1) * 2 <= slots->size()) return;
  std::vector<TaggedSlot> bigger(slots->size() * 2);
  const size_t mask = bigger.size() - 1;
  for (const TaggedSlot& s : *slots) {
    if (s.value1 == 0) continue;
    size_t i = s.tag & mask;
    while (bigger[i].value1 != 0) i = (i + 1) & mask;
    bigger[i] = s;
  }
  slots->swap(bigger);
}

// Interned strings (customer ids, products, idempotency keys): id -> bytes and bytes -> id.
struct ReadModel::StringPool {
  std::vector<std::unique_ptr<char[]>> blocks;
  size_t block_used = 0;
  size_t block_size = 0;
  size_t bytes = 0;
  AppendOnly<std::string_view> strings;
  std::vector<TaggedSlot> slots = std::vector<TaggedSlot>(1024);

  static uint32_t Tag(std::string_view s) {
    return static_cast<uint32_t>(XXH3_64bits(s.data(), s.size()) >> 32);
  }
  std::optional<uint32_t> Find(std::string_view s) const {
    const uint32_t tag = Tag(s);
    const TaggedSlot& slot =
        slots[ProbeTagged(slots, tag, [&](uint32_t id) { return strings[id] == s; })];
    if (slot.value1 == 0) return std::nullopt;
    return slot.value1 - 1;
  }
  uint32_t Intern(std::string_view s) {
    const uint32_t tag = Tag(s);
    auto equal = [&](uint32_t id) { return strings[id] == s; };
    size_t i = ProbeTagged(slots, tag, equal);
    if (slots[i].value1 != 0) return slots[i].value1 - 1;
    GrowTagged(&slots, strings.size());
    i = ProbeTagged(slots, tag, equal);
    constexpr size_t kBlock = 1 << 20;
    if (blocks.empty() || block_used + s.size() > block_size) {
      block_size = std::max(kBlock, s.size());
      blocks.push_back(std::make_unique<char[]>(block_size));
      block_used = 0;
      bytes += block_size;
    }
    char* dst = blocks.back().get() + block_used;
    if (!s.empty()) std::memcpy(dst, s.data(), s.size());
    block_used += s.size();
    const auto id = static_cast<uint32_t>(strings.size());
    strings.PushBack(std::string_view(dst, s.size()));
    slots[i] = TaggedSlot{id + 1, tag};
    return id;
  }
};

// Derived lookups, rebuilt from the rows after a snapshot is loaded (never serialised).
struct ReadModel::Indexes {
  std::vector<TaggedSlot> id_slots = std::vector<TaggedSlot>(1024);  // order id -> row
  size_t id_count = 0;
  std::array<std::vector<uint64_t>, kStatusCount> status_bits;
  std::array<size_t, kStatusCount> status_count{};
  std::vector<std::vector<uint32_t>> by_customer;  // pool id -> rows, ascending
  // During a bulk fold (replay, snapshot load): the first row by_customer does not hold yet;
  // UINT32_MAX otherwise.
  uint32_t customers_from = UINT32_MAX;

  static uint32_t Tag(const std::array<uint8_t, 16>& id) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, id.data(), 8);
    std::memcpy(&b, id.data() + 8, 8);
    return static_cast<uint32_t>(((a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xD6E8FEB86659FD93ull) >> 32);
  }
};

ReadModel::Frozen::~Frozen() {
  std::unique_lock lk(model_->mu_);
  --model_->frozen_alive_;
}

ReadModel::ReadModel() : pool_(std::make_unique<StringPool>()), idx_(std::make_unique<Indexes>()) {}

ReadModel::~ReadModel() = default;

uint32_t ReadModel::Intern(std::string_view s) {
  return pool_->Intern(s);
}
std::string_view ReadModel::StringAt(uint32_t id) const {
  return pool_->strings[id];
}

OrderState ReadModel::ToState(const OrderRow& row) const {
  return RowState(row, pool_->strings);
}

std::optional<uint32_t> ReadModel::FindRow(const std::array<uint8_t, 16>& id) const {
  const auto& slots = idx_->id_slots;
  const TaggedSlot& s = slots[ProbeTagged(slots, Indexes::Tag(id),
                                          [&](uint32_t row) { return rows_[row].id == id; })];
  if (s.value1 == 0) return std::nullopt;
  return s.value1 - 1;
}

// The id-table slot where `id` is, or where it would go (after making room for one more).
size_t ReadModel::IdSlotFor(const std::array<uint8_t, 16>& id, uint32_t* tag) {
  Indexes& x = *idx_;
  GrowTagged(&x.id_slots, x.id_count);
  *tag = Indexes::Tag(id);
  return ProbeTagged(x.id_slots, *tag, [&](uint32_t row) { return rows_[row].id == id; });
}

// Indexes row (already in rows_) whose id goes into the empty id slot `slot`.
void ReadModel::IndexRow(uint32_t row, size_t slot, uint32_t tag) {
  Indexes& x = *idx_;
  const OrderRow& r = rows_[row];
  x.id_slots[slot] = TaggedSlot{row + 1, tag};
  ++x.id_count;
  for (auto& bits : x.status_bits) {
    if (bits.size() <= row / 64) bits.resize(row / 64 + 1 + bits.size() / 2);
  }
  x.status_bits[r.status][row / 64] |= uint64_t{1} << (row % 64);
  ++x.status_count[r.status];
  if (x.customers_from != UINT32_MAX) return;  // a bulk fold: AddCustomerRows does it at the end
  if (x.by_customer.size() <= r.customer) x.by_customer.resize(r.customer + 1);
  x.by_customer[r.customer].push_back(row);
}

// The customer index of rows [from, rows) in two sequential passes (count, then fill into
// vectors sized once) instead of a push_back per row into one of ~100 k vectors at random. Rows
// only grow, so appending keeps each list ascending.
void ReadModel::AddCustomerRows(uint32_t from) {
  auto& lists = idx_->by_customer;
  const auto rows = static_cast<uint32_t>(rows_.size());
  std::vector<uint32_t> added(pool_->strings.size(), 0);
  for (uint32_t row = from; row < rows; ++row) ++added[rows_[row].customer];
  if (lists.size() < added.size()) lists.resize(added.size());
  for (size_t c = 0; c < added.size(); ++c) {
    if (added[c] != 0) lists[c].reserve(lists[c].size() + added[c]);
  }
  for (uint32_t row = from; row < rows; ++row) lists[rows_[row].customer].push_back(row);
}

Status ReadModel::Apply(Position position, std::string_view order_id, const OrderEvent& event,
                        uint64_t version, int64_t ts_ms) {
  std::unique_lock lk(mu_);
  return ApplyLocked(position, order_id, event, version, ts_ms);
}

// Replay folds batches of kReplayBatch events: decode them and parse their ids, then touch what
// the fold will touch (the id-table slot of each; for a status change also the row that slot
// points at and that row's word in the status bitmaps) with prefetches, then fold them in order. On
// a model of a few hundred MB the fold is bound by cache misses; issuing a whole batch's misses
// together overlaps them instead of paying them one after another. The prefetch pass only reads: a
// stale guess (a create earlier in the batch, a table that grows) costs a wasted prefetch, never a
// wrong fold.
Status ReadModel::Replay(const Log& log, const std::function<void(uint64_t)>& progress) {
  std::unique_lock lk(mu_);  // start-up: nobody reads yet, so hold it throughout
  constexpr size_t kReplayBatch = 32;
  struct Item {
    Position position;
    OrderId id;
    OrderEvent event;
    uint64_t version;
    int64_t ts_ms;
  };
  std::vector<Item> batch;
  batch.reserve(kReplayBatch);
  Status applied;
  uint64_t n = 0;
  idx_->customers_from = static_cast<uint32_t>(rows_.size());
  auto fold = [&]() {
    const auto& slots = idx_->id_slots;
    const size_t mask = slots.size() - 1;
    uint32_t tags[kReplayBatch];
    for (size_t i = 0; i < batch.size(); ++i) {
      tags[i] = Indexes::Tag(batch[i].id.bytes);
      __builtin_prefetch(&slots[tags[i] & mask]);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].version == 1) continue;  // a create: its row does not exist yet
      const TaggedSlot& slot = slots[tags[i] & mask];
      if (slot.value1 == 0 || slot.tag != tags[i] || slot.value1 - 1 >= rows_.size()) continue;
      const uint32_t row = slot.value1 - 1;
      __builtin_prefetch(&rows_[row]);
      // The row's status is not known before the row arrives: its word in every status's bits.
      for (const auto& bits : idx_->status_bits) {
        if (row / 64 < bits.size()) __builtin_prefetch(&bits[row / 64]);
      }
    }
    for (Item& item : batch) {
      applied = ApplyParsed(item.position, item.id, item.event, item.version, item.ts_ms);
      if (!applied.ok()) return false;
      if ((++n & 0xffff) == 0 && progress) progress(n);
    }
    batch.clear();
    return true;
  };
  Status scan = log.Scan(position_, [&](const RecordView& rec) {
    auto event = DecodeEvent(rec.type, rec.payload);
    const auto id = OrderId::Parse(rec.stream);
    if (!event.ok() || !id) {
      if (!fold()) return false;  // what came before is folded first, as one at a time would
      applied = Status::Corruption(
          "position " + std::to_string(rec.position.value) + ": " +
          (event.ok() ? "stream id " + std::string(rec.stream) + " is not an order id"
                      : event.status().message()));
      return false;
    }
    batch.push_back(
        Item{rec.position, *id, std::move(*event), rec.version.value, rec.timestamp_ms});
    return batch.size() < kReplayBatch || fold();
  });
  if (scan.ok() && applied.ok() && !batch.empty()) fold();
  const uint32_t from = idx_->customers_from;
  idx_->customers_from = UINT32_MAX;
  AddCustomerRows(from);  // also after a failure: the model stays consistent
  ORDERLOG_RETURN_IF_ERROR(scan);
  return applied;
}

Status ReadModel::ApplyLocked(Position position, std::string_view order_id, const OrderEvent& event,
                              uint64_t version, int64_t ts_ms) {
  const auto id = OrderId::Parse(order_id);
  if (!id) {
    return Status::Corruption("position " + std::to_string(position.value) + " (order " +
                              std::string(order_id) + "): stream id is not an order id");
  }
  return ApplyParsed(position, *id, event, version, ts_ms);
}

Status ReadModel::ApplyParsed(Position position, const OrderId& id, const OrderEvent& event,
                              uint64_t version, int64_t ts_ms) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("position " + std::to_string(position.value) + " (order " +
                              id.ToString() + "): " + why);
  };
  if (position <= position_) {
    return bad("position does not follow " + std::to_string(position_.value));
  }
  if (const auto* created = std::get_if<OrderCreated>(&event)) {
    if (version != 1) return bad("OrderCreated with version " + std::to_string(version));
    uint32_t tag = 0;
    const size_t slot = IdSlotFor(id.bytes, &tag);
    if (idx_->id_slots[slot].value1 != 0) return bad("OrderCreated for an existing order");
    OrderRow row;
    row.id = id.bytes;
    row.customer = Intern(created->customer_id);
    row.product = Intern(created->product);
    row.quantity = created->quantity;
    row.version = 1;
    row.created_at_ms = row.updated_at_ms = ts_ms;
    row.status = static_cast<uint8_t>(OrderStatus::kProcessing);
    const auto index = static_cast<uint32_t>(rows_.size());
    rows_.PushBack(row);
    IndexRow(index, slot, tag);
    if (!created->idempotency_key.empty()) {
      const uint32_t key = Intern(created->idempotency_key);
      if (key_rows_.emplace(key, index).second) keys_.PushBack(KeyEntry{key, index});
    }
  } else {
    const auto& changed = std::get<OrderStatusChanged>(event);
    const auto found = FindRow(id.bytes);
    if (!found) return bad("OrderStatusChanged for an unknown order");
    const OrderRow& cur = rows_[*found];
    if (version != cur.version + 1) {
      return bad("version " + std::to_string(version) + " does not follow " +
                 std::to_string(cur.version));
    }
    if (static_cast<uint8_t>(changed.old_status) != cur.status ||
        !CanTransition(changed.old_status, changed.new_status)) {
      return bad(std::string("illegal transition ") + StatusName(changed.old_status) + " -> " +
                 StatusName(changed.new_status));
    }
    OrderRow& row = rows_.Mutable(*found, frozen_alive_ > 0);
    auto& x = *idx_;
    x.status_bits[row.status][*found / 64] &= ~(uint64_t{1} << (*found % 64));
    --x.status_count[row.status];
    row.status = static_cast<uint8_t>(changed.new_status);
    x.status_bits[row.status][*found / 64] |= uint64_t{1} << (*found % 64);
    ++x.status_count[row.status];
    row.version = static_cast<uint32_t>(version);
    row.updated_at_ms = ts_ms;
  }
  position_ = position;
  return Status::Ok();
}

Position ReadModel::position() const {
  std::shared_lock lk(mu_);
  return position_;
}

std::optional<OrderState> ReadModel::Get(std::string_view order_id) const {
  const auto id = OrderId::Parse(order_id);
  if (!id) return std::nullopt;
  std::shared_lock lk(mu_);
  const auto row = FindRow(id->bytes);
  if (!row) return std::nullopt;
  return ToState(rows_[*row]);
}

size_t ReadModel::order_count() const {
  std::shared_lock lk(mu_);
  return rows_.size();
}

std::vector<OrderState> ReadModel::List(const ListFilter& filter, size_t offset, size_t limit,
                                        size_t* total) const {
  std::vector<OrderState> out;
  std::shared_lock lk(mu_);
  const Indexes& x = *idx_;
  auto take = [&](uint32_t row, size_t* seen) {
    if (*seen >= offset && out.size() < limit) out.push_back(ToState(rows_[row]));
    ++*seen;
  };
  size_t seen = 0;
  if (filter.customer_id) {
    const auto customer = pool_->Find(*filter.customer_id);
    if (customer && *customer < x.by_customer.size()) {
      for (uint32_t row : x.by_customer[*customer]) {
        if (filter.status && rows_[row].status != static_cast<uint8_t>(*filter.status)) continue;
        take(row, &seen);
      }
    }
    *total = seen;
  } else if (filter.status) {
    const auto s = static_cast<size_t>(*filter.status);
    *total = x.status_count[s];
    const auto& bits = x.status_bits[s];
    for (size_t w = 0; w < bits.size() && out.size() < limit; ++w) {
      uint64_t word = bits[w];
      const auto n = static_cast<size_t>(std::popcount(word));
      if (seen + n <= offset) {  // skip whole words before the page
        seen += n;
        continue;
      }
      while (word != 0 && out.size() < limit) {
        const auto bit = static_cast<uint32_t>(std::countr_zero(word));
        word &= word - 1;
        take(static_cast<uint32_t>(w * 64 + bit), &seen);
      }
    }
  } else {
    *total = rows_.size();
    for (size_t row = offset; row < rows_.size() && out.size() < limit; ++row) {
      out.push_back(ToState(rows_[row]));
    }
  }
  return out;
}

std::optional<KeyedCreate> ReadModel::FindKey(std::string_view idempotency_key) const {
  std::shared_lock lk(mu_);
  const auto key = pool_->Find(idempotency_key);
  if (!key) return std::nullopt;
  auto row = key_rows_.find(*key);
  if (row == key_rows_.end()) return std::nullopt;
  const OrderRow& r = rows_[row->second];
  KeyedCreate k;
  k.id.bytes = r.id;
  k.customer_id = std::string(StringAt(r.customer));
  k.product = std::string(StringAt(r.product));
  k.quantity = r.quantity;
  return k;
}

std::unique_ptr<ReadModel::Frozen> ReadModel::Freeze() const {
  std::unique_lock lk(mu_);
  return FreezeLocked();
}

int ReadModel::frozen_views() const {
  std::shared_lock lk(mu_);
  return frozen_alive_;
}

ReadModel::ListingStart ReadModel::FreezeForListing(const ListFilter& filter) const {
  ListingStart start;
  std::unique_lock lk(mu_);
  start.view = FreezeLocked();
  const Indexes& x = *idx_;
  if (filter.customer_id) {
    const auto customer = pool_->Find(*filter.customer_id);
    if (customer && *customer < x.by_customer.size()) {
      start.customer_rows = x.by_customer[*customer];
    }
  } else if (filter.status) {
    const auto s = static_cast<size_t>(*filter.status);
    const auto& bits = x.status_bits[s];
    start.status_bits.assign(bits.begin(),
                             bits.begin() + std::min(bits.size(), (rows_.size() + 63) / 64));
    start.status_count = x.status_count[s];
  }
  return start;
}

std::unique_ptr<ReadModel::Frozen> ReadModel::FreezeLocked() const {
  auto f = std::make_unique<Frozen>(this);
  ++frozen_alive_;
  f->position_ = position_;
  f->rows_ = rows_.Freeze();
  f->strings_ = pool_->strings.Freeze();
  f->keys_ = keys_.Freeze();
  return f;
}

std::string ReadModel::Serialize(const Frozen& f) {
  std::string out;
  out.reserve(f.rows_.size * sizeof(OrderRow) + f.strings_.size * 24 + f.keys_.size * 8 + 64);
  StringSink sink(&out);
  std::ostream os(&sink);
  cereal::BinaryOutputArchive ar(os);
  ar(static_cast<uint64_t>(f.strings_.size));
  for (size_t i = 0; i < f.strings_.size; ++i) {
    const std::string_view s = f.strings_[i];
    ar(static_cast<uint32_t>(s.size()));
    ar(cereal::binary_data(s.data(), s.size()));
  }
  ar(static_cast<uint64_t>(f.rows_.size));
  for (size_t start = 0; start < f.rows_.size; start += kChunkSize) {
    const size_t n = std::min(kChunkSize, f.rows_.size - start);
    ar(cereal::binary_data(&f.rows_[start], n * sizeof(OrderRow)));
  }
  ar(static_cast<uint64_t>(f.keys_.size));
  for (size_t i = 0; i < f.keys_.size; ++i) ar(f.keys_[i].key, f.keys_[i].row);
  return out;
}

Status ReadModel::Deserialize(std::string_view body, Position position) {
  MemorySource src(body);
  std::istream is(&src);
  auto pool = std::make_unique<StringPool>();
  CowChunks<OrderRow> rows;
  std::vector<KeyEntry> keys;
  try {
    cereal::BinaryInputArchive ar(is);
    uint64_t n = 0;
    ar(n);
    if (n > body.size()) return Status::Corruption("snapshot string count out of range");
    std::string s;
    for (uint64_t i = 0; i < n; ++i) {
      uint32_t len = 0;
      ar(len);
      if (len > body.size()) return Status::Corruption("snapshot string length out of range");
      s.resize(len);
      ar(cereal::binary_data(s.data(), len));
      if (pool->Intern(s) != i) return Status::Corruption("duplicate string in snapshot");
    }
    ar(n);
    if (n > body.size() / sizeof(OrderRow))
      return Status::Corruption("snapshot row count out of range");
    OrderRow row;
    for (uint64_t i = 0; i < n; ++i) {
      ar(cereal::binary_data(&row, sizeof(row)));
      if (row.customer >= pool->strings.size() || row.product >= pool->strings.size() ||
          row.status >= kStatusCount || row.version == 0) {
        return Status::Corruption("snapshot row " + std::to_string(i) + " out of range");
      }
      rows.PushBack(row);
    }
    ar(n);
    if (n > rows.size()) return Status::Corruption("snapshot key count out of range");
    keys.resize(n);
    for (auto& k : keys) {
      ar(k.key, k.row);
      if (k.key >= pool->strings.size() || k.row >= rows.size()) {
        return Status::Corruption("snapshot key out of range");
      }
    }
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("snapshot body is truncated or malformed: ") + e.what());
  }
  if (is.peek() != std::char_traits<char>::eof()) {
    return Status::Corruption("trailing bytes after the snapshot body");
  }
  std::unique_lock lk(mu_);
  if (frozen_alive_ > 0)
    return Status::InvalidArgument("cannot load a snapshot while one is taken");
  pool_ = std::move(pool);
  rows_ = std::move(rows);
  keys_.Clear();
  key_rows_.clear();
  for (const auto& k : keys) {
    keys_.PushBack(k);
    key_rows_.emplace(k.key, k.row);
  }
  position_ = position;
  RebuildIndexes();
  if (idx_->id_count != rows_.size()) {
    return Status::Corruption("duplicate order id in snapshot");
  }
  return Status::Ok();
}

void ReadModel::RebuildIndexes() {
  idx_ = std::make_unique<Indexes>();
  size_t slots = 1024;
  while (rows_.size() * 2 > slots) slots *= 2;
  idx_->id_slots.resize(slots);
  for (auto& bits : idx_->status_bits) bits.resize(rows_.size() / 64 + 1);
  idx_->customers_from = 0;
  for (uint32_t row = 0; row < rows_.size(); ++row) {
    uint32_t tag = 0;
    const size_t slot = IdSlotFor(rows_[row].id, &tag);
    if (idx_->id_slots[slot].value1 == 0) IndexRow(row, slot, tag);
    // a duplicate is left out: the caller sees id_count < rows
  }
  idx_->customers_from = UINT32_MAX;
  AddCustomerRows(0);
}

size_t ReadModel::MemoryUsage() const {
  std::shared_lock lk(mu_);
  size_t bytes = rows_.MemoryUsage() + pool_->bytes + pool_->strings.MemoryUsage() +
                 pool_->slots.size() * sizeof(TaggedSlot) +
                 idx_->id_slots.size() * sizeof(TaggedSlot);
  for (const auto& bits : idx_->status_bits) bytes += bits.capacity() * 8;
  for (const auto& v : idx_->by_customer) bytes += sizeof(v) + v.capacity() * sizeof(uint32_t);
  bytes += keys_.MemoryUsage() + key_rows_.size() * 32 + key_rows_.bucket_count() * 8;
  return bytes;
}

}  // namespace orderlog::domain
