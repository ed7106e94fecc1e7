// OrderListing: the streamed GET /orders/ must be the list answer, byte for byte, for every
// filter, page and piece size, and must keep the view it was opened on.
#include "server/domain/order_listing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "server/domain/order_json.h"
#include "tests/domain/domain_test_util.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

using domain::ListFilter;
using domain::OrderListing;
using domain::OrderStatus;

std::string ReadAll(OrderListing& listing, size_t budget, size_t* pieces) {
  std::string out;
  *pieces = 0;
  bool more = true;
  while (more) {
    const size_t before = out.size();
    more = listing.Next(&out, budget);
    EXPECT_GT(out.size(), before) << "a piece added nothing";
    ++*pieces;
  }
  const size_t at_end = out.size();
  EXPECT_FALSE(listing.Next(&out, budget));
  EXPECT_EQ(out.size(), at_end) << "Next after the end appended something";
  return out;
}

class OrderListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    svc_ = OpenService(QuietOptions(dir_.path()));
    ASSERT_NE(svc_, nullptr);
    std::mt19937 rng(7);
    const OrderStatus targets[] = {OrderStatus::kShipped, OrderStatus::kDelivered,
                                   OrderStatus::kCancelled};
    for (int i = 0; i < 300; ++i) {
      auto c = svc_->CreateAndWait(Order("cust-" + std::to_string(rng() % 5), "p\"\\é", 1 + i % 7));
      ASSERT_TRUE(c.ok());
      ids_.push_back(c->id.ToString());
      if (rng() % 2 == 0) {
        (void)svc_->ChangeStatusAndWait({ids_[rng() % ids_.size()], targets[rng() % 3], {}});
      }
    }
  }

  std::string Expected(const ListFilter& f, size_t offset, size_t limit, size_t* total) {
    return domain::OrdersJson(svc_->List(f, offset, limit, total));
  }

  TempDir dir_;
  std::unique_ptr<domain::OrderService> svc_;
  std::vector<std::string> ids_;
};

TEST_F(OrderListingTest, IsTheListAnswerByteForByteForEveryFilterPageAndPieceSize) {
  std::vector<ListFilter> filters = {
      {}, {std::nullopt, std::string("cust-3")}, {std::nullopt, std::string("nobody")}};
  for (auto s : {OrderStatus::kProcessing, OrderStatus::kShipped, OrderStatus::kDelivered,
                 OrderStatus::kCancelled}) {
    filters.push_back({s, std::nullopt});
    filters.push_back({s, std::string("cust-1")});
  }
  for (const ListFilter& f : filters) {
    for (size_t offset : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{150},
                          size_t{299}, size_t{300}, size_t{1000}}) {
      for (size_t limit : {size_t{0}, size_t{1}, size_t{5}, size_t{64}, SIZE_MAX}) {
        size_t total = 0;
        const std::string expected = Expected(f, offset, limit, &total);
        for (size_t budget : {size_t{1}, size_t{300}, size_t{4096}, size_t{1} << 20}) {
          auto listing = OrderListing::Open(svc_->model(), f, offset, limit);
          size_t pieces = 0;
          const std::string got = ReadAll(*listing, budget, &pieces);
          ASSERT_EQ(got, expected) << "status " << (f.status ? static_cast<int>(*f.status) : -1)
                                   << " customer " << f.customer_id.value_or("-") << " offset "
                                   << offset << " limit " << limit << " budget " << budget;
          EXPECT_EQ(listing->total(), total);
          if (budget == 1) {
            // One order per piece, and the closing bracket alone.
            const auto orders =
                static_cast<size_t>(std::count(expected.begin(), expected.end(), '{'));
            EXPECT_EQ(pieces, orders + 1);
          }
        }
      }
    }
  }
}

TEST_F(OrderListingTest, KeepsTheViewItWasOpenedOnAndReleasesItAtTheEnd) {
  size_t total = 0;
  const std::string before = Expected({}, 0, SIZE_MAX, &total);
  size_t shipped_total = 0;
  const ListFilter shipped{OrderStatus::kShipped, std::nullopt};
  const std::string shipped_before = Expected(shipped, 0, SIZE_MAX, &shipped_total);

  auto all = OrderListing::Open(svc_->model(), {}, 0, SIZE_MAX);
  auto by_status = OrderListing::Open(svc_->model(), shipped, 0, SIZE_MAX);
  EXPECT_EQ(svc_->model().frozen_views(), 2);
  std::string got;
  ASSERT_TRUE(all->Next(&got, 1));  // part of it read before the writes

  // Writes while the listings are open: new orders, and status changes to old ones.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(svc_->CreateAndWait(Order("late", "p", 1)).ok());
  for (size_t i = 0; i < ids_.size(); i += 3) {
    (void)svc_->ChangeStatusAndWait({ids_[i], OrderStatus::kShipped, {}});
  }
  size_t now_total = 0;
  ASSERT_NE(Expected({}, 0, SIZE_MAX, &now_total), before);

  while (all->Next(&got, 500)) {
  }
  EXPECT_EQ(got, before);
  EXPECT_EQ(all->total(), total);
  EXPECT_EQ(svc_->model().frozen_views(), 1) << "the view is released with the last piece";
  size_t pieces = 0;
  EXPECT_EQ(ReadAll(*by_status, 1000, &pieces), shipped_before);
  EXPECT_EQ(by_status->total(), shipped_total);
  EXPECT_EQ(svc_->model().frozen_views(), 0);
}

TEST_F(OrderListingTest, DroppedBeforeTheEndReleasesItsView) {
  auto listing = OrderListing::Open(svc_->model(), {}, 0, SIZE_MAX);
  std::string out;
  ASSERT_TRUE(listing->Next(&out, 100));
  EXPECT_EQ(svc_->model().frozen_views(), 1);
  listing.reset();
  EXPECT_EQ(svc_->model().frozen_views(), 0);
}

}  // namespace
}  // namespace orderlog::testing
