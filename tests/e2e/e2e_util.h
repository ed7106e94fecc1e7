#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <iostream>
#include <memory>
#include <string>

#include "tests/e2e/http_client.h"
#include "tests/e2e/server_process.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {

inline rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

inline std::string OrderBody(const std::string& customer = "123",
                             const std::string& product = "Laptop", int quantity = 2) {
  return "{\"customer_id\": \"" + customer + "\", \"product\": \"" + product +
         "\", \"quantity\": " + std::to_string(quantity) + "}";
}

// A server on a fresh data directory, and a client for it.
class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }
  void Start(std::vector<std::string> args = {}) {
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data", args);
    ASSERT_TRUE(server_->started()) << server_->output();
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  void Restart(std::vector<std::string> args = {}) {
    client_.reset();
    EXPECT_EQ(server_->Terminate(), 0) << server_->FullOutput();
    Start(args);
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server output:\n" << server_->FullOutput();
  }
  std::string Create(const std::string& body = OrderBody()) {
    HttpResponse r = client_->Request("POST", "/orders/", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return Json(r.body)["order_id"].GetString();
  }
  uint64_t Position() {
    HttpResponse r = client_->Request("GET", "/health");
    EXPECT_EQ(r.status, 200);
    return Json(r.body)["position"].GetUint64();
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace orderlog::testing
