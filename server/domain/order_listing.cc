#include "server/domain/order_listing.h"

#include <bit>

#include "server/domain/order_json.h"

namespace orderlog::domain {

std::unique_ptr<OrderListing> OrderListing::Open(const ReadModel& model, const ListFilter& filter,
                                                 size_t offset, size_t limit) {
  std::unique_ptr<OrderListing> l(new OrderListing());
  l->left_ = limit;
  ReadModel::ListingStart start = model.FreezeForListing(filter);
  l->view_ = std::move(start.view);
  const size_t rows = l->view_->rows_.size;
  if (filter.customer_id) {
    l->walk_ = Walk::kCustomer;
    if (filter.status) l->status_ = static_cast<uint8_t>(*filter.status);
    l->rows_ = std::move(start.customer_rows);
    size_t matching = 0;
    for (uint32_t row : l->rows_) matching += l->Matches(row) ? 1 : 0;
    l->total_ = matching;
    l->skip_ = offset;
  } else if (filter.status) {
    l->walk_ = Walk::kStatus;
    l->total_ = start.status_count;
    l->bits_ = std::move(start.status_bits);
    // Whole words before the page are passed over by their population count.
    size_t seen = 0;
    while (l->next_ < l->bits_.size()) {
      const auto n = static_cast<size_t>(std::popcount(l->bits_[l->next_]));
      if (seen + n > offset) break;
      seen += n;
      ++l->next_;
    }
    l->skip_ = offset - seen;
  } else {
    l->walk_ = Walk::kAll;
    l->total_ = rows;
    l->next_ = std::min(offset, rows);
  }
  return l;
}

OrderListing::~OrderListing() = default;

bool OrderListing::Matches(uint32_t row) const {
  return !status_ || view_->rows_[row].status == *status_;
}

OrderState OrderListing::StateOf(uint32_t row) const {
  return RowState(view_->rows_[row], view_->strings_);
}

bool OrderListing::NextRow(uint32_t* row) {
  while (left_ > 0) {
    bool found = false;
    switch (walk_) {
      case Walk::kAll:
        if (next_ >= view_->rows_.size) return false;
        *row = static_cast<uint32_t>(next_++);
        found = true;
        break;
      case Walk::kStatus:
        while (word_ == 0) {
          if (next_ >= bits_.size()) return false;
          word_base_ = next_ * 64;
          word_ = bits_[next_++];
        }
        *row = static_cast<uint32_t>(word_base_ + std::countr_zero(word_));
        word_ &= word_ - 1;
        found = true;
        break;
      case Walk::kCustomer:
        if (next_ >= rows_.size()) return false;
        *row = rows_[next_++];
        found = Matches(*row);
        break;
    }
    if (!found) continue;
    if (skip_ > 0) {
      --skip_;
      continue;
    }
    --left_;
    return true;
  }
  return false;
}

bool OrderListing::Next(std::string* out, size_t budget) {
  if (closed_) return false;
  const size_t start = out->size();
  if (!opened_) {
    out->push_back('[');
    opened_ = true;
  }
  uint32_t row;
  bool first_here = true;
  while (first_here || out->size() - start < budget) {
    first_here = false;
    if (!NextRow(&row)) {
      out->push_back(']');
      closed_ = true;
      view_.reset();  // the chunks it shared are the model's own again
      return false;
    }
    if (wrote_one_) out->push_back(',');
    wrote_one_ = true;
    AppendOrderJson(StateOf(row), out);
  }
  return true;
}

}  // namespace orderlog::domain
