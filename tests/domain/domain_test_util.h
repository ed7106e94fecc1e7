#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/domain/order_service.h"

namespace orderlog::testing {

inline domain::ServiceOptions QuietOptions(const std::string& dir) {
  domain::ServiceOptions o;
  o.data_dir = dir;
  o.info = [](const std::string&) {};
  return o;
}

inline std::unique_ptr<domain::OrderService> OpenService(const domain::ServiceOptions& o,
                                                         domain::StartupReport* report = nullptr) {
  auto svc = domain::OrderService::Open(o, report);
  EXPECT_TRUE(svc.ok()) << svc.status().ToString();
  if (!svc.ok()) return nullptr;
  return std::move(svc).value();
}

inline domain::CreateCommand Order(std::string customer, std::string product, int64_t qty,
                                   std::string key = "") {
  return domain::CreateCommand{std::move(customer), std::move(product), qty, std::move(key)};
}

// The state of every order, folded from the log from scratch (the definition the read model
// must agree with), in creation order.
inline std::vector<domain::OrderState> FoldLog(const domain::OrderService& svc) {
  std::vector<domain::OrderState> orders;
  std::map<std::string, size_t> index;
  EXPECT_TRUE(svc.log()
                  .Scan(Position(0),
                        [&](const RecordView& rec) {
                          auto ev = domain::DecodeEvent(rec.type, rec.payload);
                          EXPECT_TRUE(ev.ok());
                          std::string id(rec.stream);
                          auto [it, fresh] = index.emplace(id, orders.size());
                          if (fresh) {
                            orders.emplace_back();
                            orders.back().id = *domain::OrderId::Parse(id);
                          }
                          EXPECT_TRUE(domain::ApplyEvent(&orders[it->second], *ev,
                                                         rec.version.value, rec.timestamp_ms)
                                          .ok());
                          return true;
                        })
                  .ok());
  return orders;
}

inline void ExpectSameOrder(const domain::OrderState& a, const domain::OrderState& b) {
  EXPECT_EQ(a.id.ToString(), b.id.ToString());
  EXPECT_EQ(a.customer_id, b.customer_id);
  EXPECT_EQ(a.product, b.product);
  EXPECT_EQ(a.quantity, b.quantity);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.updated_at_ms, b.updated_at_ms);
}

// The read model equals the fold of the log, order by order and in creation order.
inline void ExpectModelMatchesLog(const domain::OrderService& svc) {
  const auto folded = FoldLog(svc);
  size_t total = 0;
  const auto listed = svc.List({}, 0, SIZE_MAX, &total);
  ASSERT_EQ(total, folded.size());
  ASSERT_EQ(listed.size(), folded.size());
  for (size_t i = 0; i < folded.size(); ++i) ExpectSameOrder(listed[i], folded[i]);
  // The secondary indexes too (replay and snapshot loads build them in bulk): every customer's
  // and every status's orders, in creation order.
  std::map<std::string, std::vector<const domain::OrderState*>> by_customer;
  std::map<domain::OrderStatus, std::vector<const domain::OrderState*>> by_status;
  for (const auto& o : folded) {
    by_customer[o.customer_id].push_back(&o);
    by_status[o.status].push_back(&o);
  }
  for (const auto& [customer, expected] : by_customer) {
    domain::ListFilter f;
    f.customer_id = customer;
    const auto got = svc.List(f, 0, SIZE_MAX, &total);
    ASSERT_EQ(got.size(), expected.size()) << "customer " << customer;
    EXPECT_EQ(total, expected.size());
    for (size_t i = 0; i < got.size(); ++i) ExpectSameOrder(got[i], *expected[i]);
  }
  for (const auto& [status, expected] : by_status) {
    domain::ListFilter f;
    f.status = status;
    const auto got = svc.List(f, 0, SIZE_MAX, &total);
    ASSERT_EQ(got.size(), expected.size()) << "status " << static_cast<int>(status);
    for (size_t i = 0; i < got.size(); ++i) ExpectSameOrder(got[i], *expected[i]);
  }
}

}  // namespace orderlog::testing
