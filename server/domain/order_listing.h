// GET /orders/ as it is streamed: a page of the list taken from one consistent view of the read
// model (ReadModel::Frozen, O(chunks) to take) and written out as JSON a piece at a time. The
// client sees the list as it was when the listing was opened, however long it takes to read it,
// and the same bytes as OrdersJson(ReadModel::List(...)) for the same filter and page.
//
// Threads: one at a time (the reactor that streams it). Must not outlive the model. While it
// lives, an update copies the 3.5 MiB chunk of rows it touches once (ReadModel::Frozen).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/domain/read_model.h"

namespace orderlog::domain {

class OrderListing {
 public:
  // The orders matching `filter`, in creation order, [offset, offset + limit).
  static std::unique_ptr<OrderListing> Open(const ReadModel& model, const ListFilter& filter,
                                            size_t offset, size_t limit);
  ~OrderListing();
  OrderListing(const OrderListing&) = delete;
  OrderListing& operator=(const OrderListing&) = delete;

  // Orders matching the filter (X-Total-Count), whatever the page.
  size_t total() const { return total_; }
  // Appends the next part of the JSON array to *out: whole orders, until it has grown by
  // `budget` bytes or more (at least one order, or the brackets). False once the closing bracket
  // has been appended.
  bool Next(std::string* out, size_t budget);

 private:
  enum class Walk : uint8_t { kAll, kStatus, kCustomer };
  OrderListing() = default;
  // The next row of the page; false past its end.
  bool NextRow(uint32_t* row);
  bool Matches(uint32_t row) const;
  OrderState StateOf(uint32_t row) const;

  std::unique_ptr<ReadModel::Frozen> view_;
  Walk walk_ = Walk::kAll;
  std::optional<uint8_t> status_;  // kCustomer: the status filter, if any
  std::vector<uint64_t> bits_;     // kStatus: the status's bitmap as it was
  std::vector<uint32_t> rows_;     // kCustomer: the customer's rows as they were
  size_t next_ = 0;                // kAll: next row; kStatus: next word; kCustomer: next index
  uint64_t word_ = 0;              // kStatus: what is left of the word being walked
  uint64_t word_base_ = 0;         // kStatus: the row of that word's bit 0
  size_t skip_ = 0;                // matches still to pass over (the offset)
  size_t left_ = 0;                // orders still to write (the limit)
  size_t total_ = 0;
  bool opened_ = false;     // "[" written
  bool wrote_one_ = false;  // an order written (the next one needs a comma)
  bool closed_ = false;     // "]" written
};

}  // namespace orderlog::domain
