// The API contract (../shared/API.md), line by line, against the real server over real HTTP.
#include <cstdlib>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

TEST_F(E2eTest, CreateGetChangeAndListWithTheSeedShapes) {
  HttpResponse r = client_->Request("POST", "/orders/", OrderBody());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto created = Json(r.body);
  ASSERT_TRUE(created.IsObject());
  EXPECT_EQ(created.MemberCount(), 2u);
  const std::string id = created["order_id"].GetString();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_STREQ(created["message"].GetString(), "Order created successfully");
  EXPECT_EQ(r.header("location"), "/orders/" + id + "/");
  EXPECT_EQ(r.header("etag"), "\"1\"");

  r = client_->Request("GET", "/orders/" + id + "/");
  ASSERT_EQ(r.status, 200);
  auto order = Json(r.body);
  EXPECT_EQ(order.MemberCount(), 8u);
  EXPECT_STREQ(order["customer_id"].GetString(), "123");
  EXPECT_STREQ(order["product"].GetString(), "Laptop");
  EXPECT_EQ(order["quantity"].GetInt(), 2);
  EXPECT_EQ(order["order_id"].GetString(), id);
  EXPECT_STREQ(order["status"].GetString(), "processing");
  EXPECT_EQ(order["version"].GetInt(), 1);
  EXPECT_STREQ(order["created_at"].GetString(), order["updated_at"].GetString());
  EXPECT_EQ(std::string(order["created_at"].GetString()).size(), 24u);  // ...T..:..:..mmmZ
  EXPECT_EQ(r.header("etag"), "\"1\"");

  r = client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\": \"shipped\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto changed = Json(r.body);
  EXPECT_EQ(changed["order_id"].GetString(), id);
  EXPECT_STREQ(changed["message"].GetString(), "Order status updated to shipped");
  EXPECT_EQ(r.header("etag"), "\"2\"");

  // Both path spellings.
  for (const std::string& path : {"/orders/" + id, "/orders/" + id + "/"}) {
    r = client_->Request("GET", path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_STREQ(Json(r.body)["status"].GetString(), "shipped");
  }
  r = client_->Request("PUT", "/orders/" + id + "/status", "{\"new_status\": \"delivered\"}");
  EXPECT_EQ(r.status, 200);
  for (const char* path : {"/orders", "/orders/"}) {
    r = client_->Request("GET", path);
    ASSERT_EQ(r.status, 200);
    auto list = Json(r.body);
    ASSERT_TRUE(list.IsArray());
    ASSERT_EQ(list.Size(), 1u);
    EXPECT_STREQ(list[0]["status"].GetString(), "delivered");
    EXPECT_EQ(r.header("x-total-count"), "1");
  }
  r = client_->Request("POST", "/orders", OrderBody("c2"));
  EXPECT_EQ(r.status, 201);
}

TEST_F(E2eTest, HistoryAndTheGlobalFeed) {
  const std::string a = Create();
  const std::string b = Create(OrderBody("c2", "Phone", 1));
  ASSERT_EQ(
      client_->Request("PUT", "/orders/" + a + "/status/", "{\"new_status\":\"cancelled\"}").status,
      200);

  HttpResponse r = client_->Request("GET", "/orders/" + a + "/events/");
  ASSERT_EQ(r.status, 200);
  auto events = Json(r.body);
  ASSERT_EQ(events.Size(), 2u);
  EXPECT_EQ(events[0]["position"].GetInt(), 1);
  EXPECT_EQ(events[0]["version"].GetInt(), 1);
  EXPECT_STREQ(events[0]["type"].GetString(), "OrderCreated");
  EXPECT_STREQ(events[0]["data"]["status"].GetString(), "processing");
  EXPECT_EQ(events[0]["data"]["quantity"].GetInt(), 2);
  EXPECT_EQ(events[1]["position"].GetInt(), 3);
  EXPECT_STREQ(events[1]["type"].GetString(), "OrderStatusChanged");
  EXPECT_STREQ(events[1]["data"]["old_status"].GetString(), "processing");
  EXPECT_STREQ(events[1]["data"]["new_status"].GetString(), "cancelled");
  EXPECT_FALSE(events[0].HasMember("order_id"));

  r = client_->Request("GET", "/events/?after=1&limit=5");
  ASSERT_EQ(r.status, 200);
  auto feed = Json(r.body);
  ASSERT_EQ(feed.Size(), 2u);
  EXPECT_EQ(feed[0]["position"].GetInt(), 2);
  EXPECT_EQ(feed[0]["order_id"].GetString(), b);
  EXPECT_EQ(feed[1]["order_id"].GetString(), a);
  r = client_->Request("GET", "/events");
  EXPECT_EQ(Json(r.body).Size(), 3u);
  r = client_->Request("GET", "/events/?after=3");
  EXPECT_EQ(Json(r.body).Size(), 0u);
  r = client_->Request("GET", "/events/?limit=999999");
  EXPECT_EQ(r.status, 200);  // cut to 10,000
  for (const char* bad : {"/events/?after=-1", "/events/?limit=x", "/events/?after=1.5"}) {
    r = client_->Request("GET", bad);
    EXPECT_EQ(r.status, 422) << bad;
    EXPECT_TRUE(Json(r.body)["detail"].IsString());
  }
  r = client_->Request("GET", "/orders/d136ca70-f39c-4232-85c4-e39b3c950226/events/");
  EXPECT_EQ(r.status, 404);
}

TEST_F(E2eTest, StatusRulesNoOpsAndConflicts) {
  const std::string id = Create();
  const uint64_t before = Position();
  HttpResponse r =
      client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"processing\"}");
  EXPECT_EQ(r.status, 200);
  EXPECT_STREQ(Json(r.body)["message"].GetString(), "Order status updated to processing");
  EXPECT_EQ(r.header("etag"), "\"1\"");
  EXPECT_EQ(Position(), before);  // no event
  r = client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"delivered\"}");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(std::string(Json(r.body)["detail"].GetString()).find("processing"), std::string::npos);
  ASSERT_EQ(client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"cancelled\"}")
                .status,
            200);
  r = client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"cancelled\"}");
  EXPECT_EQ(r.status, 200);  // same status on a final order: a no-op
  r = client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"shipped\"}");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(std::string(Json(r.body)["detail"].GetString()).find("cancelled"), std::string::npos);
  for (const char* s : {"\"SHIPPED\"", "\" shipped\"", "\"lost\"", "1", "null"}) {
    r = client_->Request("PUT", "/orders/" + id + "/status/",
                         std::string("{\"new_status\":") + s + "}");
    EXPECT_EQ(r.status, 422) << s;
    EXPECT_TRUE(Json(r.body)["detail"].IsString());
  }
  r = client_->Request("PUT", "/orders/d136ca70-f39c-4232-85c4-e39b3c950226/status/",
                       "{\"new_status\":\"shipped\"}");
  EXPECT_EQ(r.status, 404);
  r = client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"bogus\"}");
  EXPECT_EQ(r.status, 422);  // fields are checked before existence
  r = client_->Request("PUT", "/orders/not-an-id/status/", "{\"new_status\":\"bogus\"}");
  EXPECT_EQ(r.status, 422);
}

TEST_F(E2eTest, IfMatch) {
  const std::string id = Create();
  const std::string path = "/orders/" + id + "/status/";
  const std::string ship = "{\"new_status\":\"shipped\"}";
  HttpResponse r = client_->Request("PUT", path, ship, {{"If-Match", "\"7\""}});
  EXPECT_EQ(r.status, 412);
  EXPECT_NE(std::string(Json(r.body)["detail"].GetString()).find("version 1"), std::string::npos);
  r = client_->Request("PUT", path, "{\"new_status\":\"processing\"}", {{"If-Match", "\"7\""}});
  EXPECT_EQ(r.status, 412);  // If-Match wins over a no-op
  r = client_->Request("PUT", path, ship, {{"If-Match", "garbage"}});
  EXPECT_EQ(r.status, 400);
  r = client_->Request("PUT", path, ship, {{"If-Match", "W/\"5\", \"1\""}});
  EXPECT_EQ(r.status, 200);
  r = client_->Request("PUT", path, "{\"new_status\":\"delivered\"}", {{"If-Match", "*"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("etag"), "\"3\"");
}

TEST_F(E2eTest, IdempotentCreates) {
  const std::string body = OrderBody();
  HttpResponse a = client_->Request("POST", "/orders/", body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(a.status, 201);
  const std::string id = Json(a.body)["order_id"].GetString();
  // Same values, other key order and spacing, unknown fields: the same body.
  HttpResponse b = client_->Request(
      "POST", "/orders/",
      "{\"quantity\":2,\"extra\":true,\"product\":\"Laptop\",\"customer_id\":\"123\"}",
      {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(b.status, 201);
  EXPECT_EQ(Json(b.body)["order_id"].GetString(), id);
  EXPECT_EQ(b.header("location"), "/orders/" + id + "/");
  HttpResponse c = client_->Request("POST", "/orders/", OrderBody("123", "Laptop", 3),
                                    {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(c.status, 409);
  EXPECT_EQ(Position(), 1u);
  for (const std::string& bad : {std::string(129, 'k'), std::string("a\x01b")}) {
    HttpResponse r = client_->Request("POST", "/orders/", body, {{"Idempotency-Key", bad}});
    EXPECT_EQ(r.status, 400);
  }
  Restart();
  b = client_->Request("POST", "/orders/", body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(b.status, 201);
  EXPECT_EQ(Json(b.body)["order_id"].GetString(), id);
  EXPECT_EQ(Position(), 1u);
}

TEST_F(E2eTest, TimeTravel) {
  const std::string id = Create();
  ASSERT_EQ(
      client_->Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"shipped\"}").status,
      200);
  HttpResponse r = client_->Request("GET", "/orders/" + id + "/?version=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_STREQ(Json(r.body)["status"].GetString(), "processing");
  EXPECT_EQ(r.header("etag"), "\"1\"");
  const std::string created_at = Json(r.body)["created_at"].GetString();
  r = client_->Request("GET", "/orders/" + id + "/?as_of=" + created_at);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r.body)["version"].GetInt(), 1);
  r = client_->Request("GET", "/orders/" + id + "/?as_of=2000-01-01T00:00:00Z");
  EXPECT_EQ(r.status, 404);
  r = client_->Request("GET", "/orders/" + id + "/?as_of=2999-01-01T01:00:00%2B01:00");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r.body)["version"].GetInt(), 2);
  EXPECT_EQ(client_->Request("GET", "/orders/" + id + "/?version=3").status, 404);
  for (const char* q : {"?version=0", "?version=-1", "?version=1.5", "?version=x",
                        "?as_of=yesterday", "?version=1&as_of=2999-01-01T00:00:00Z"}) {
    r = client_->Request("GET", "/orders/" + id + "/" + q);
    EXPECT_EQ(r.status, 422) << q;
  }
}

TEST_F(E2eTest, ListFiltersAndPaging) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Create(OrderBody(i % 2 ? "odd" : "even")));
  ASSERT_EQ(
      client_->Request("PUT", "/orders/" + ids[1] + "/status/", "{\"new_status\":\"shipped\"}")
          .status,
      200);
  HttpResponse r = client_->Request("GET", "/orders/?status=shipped");
  EXPECT_EQ(Json(r.body).Size(), 1u);
  EXPECT_EQ(r.header("x-total-count"), "1");
  r = client_->Request("GET", "/orders/?customer_id=odd&status=processing");
  EXPECT_EQ(Json(r.body).Size(), 2u);
  r = client_->Request("GET", "/orders/?limit=2&offset=1");
  auto page = Json(r.body);
  ASSERT_EQ(page.Size(), 2u);
  EXPECT_EQ(page[0]["order_id"].GetString(), ids[1]);
  EXPECT_EQ(r.header("x-total-count"), "6");
  r = client_->Request("GET", "/orders/?limit=0");
  EXPECT_EQ(Json(r.body).Size(), 0u);
  EXPECT_EQ(r.header("x-total-count"), "6");
  r = client_->Request("GET", "/orders/?unknown=1");
  EXPECT_EQ(r.status, 200);
  for (const char* q :
       {"?status=lost", "?status=SHIPPED", "?limit=-1", "?offset=x", "?limit=1.0"}) {
    r = client_->Request("GET", std::string("/orders/") + q);
    EXPECT_EQ(r.status, 422) << q;
  }
}

TEST_F(E2eTest, RoutesMethodsAndIds) {
  HttpResponse r = client_->Request("DELETE", "/orders/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD, POST");
  EXPECT_TRUE(Json(r.body)["detail"].IsString());
  r = client_->Request("POST", "/orders/abc/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  r = client_->Request("GET", "/orders/abc/extra/more");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(Json(r.body)["detail"].IsString());
  r = client_->Request("GET", "/nothing-here");
  EXPECT_EQ(r.status, 404);
  const std::string id = Create();
  std::string upper = id;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& bad : {upper, id.substr(1), id + "0", std::string("not-an-id")}) {
    r = client_->Request("GET", "/orders/" + bad + "/");
    EXPECT_EQ(r.status, 404) << bad;
  }
}

TEST_F(E2eTest, HealthAndMetrics) {
  Create();
  HttpResponse r = client_->Request("GET", "/health");
  ASSERT_EQ(r.status, 200);
  auto h = Json(r.body);
  EXPECT_STREQ(h["status"].GetString(), "ok");
  EXPECT_EQ(h["position"].GetInt(), 1);
  EXPECT_EQ(h["orders"].GetInt(), 1);
  r = client_->Request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4");
  for (const char* name :
       {"orderlog_events_appended_total 1", "orderlog_bytes_appended_total",
        "orderlog_fsyncs_total", "orderlog_fsync_seconds_total",
        "orderlog_append_duration_seconds_bucket",
        "orderlog_http_requests_total{route=\"/orders/\",method=\"POST\",code=\"201\"} 1",
        "orderlog_http_request_duration_seconds_bucket", "orderlog_log_position 1",
        "orderlog_orders 1", "orderlog_replay_duration_seconds", "orderlog_snapshot_position"}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  }
  // The fdatasync histogram counts every fdatasync of that scrape (the create waited for one).
  auto value_after = [&](const std::string& prefix) -> long long {
    const size_t at = r.body.find("\n" + prefix);
    if (at == std::string::npos) return -1;
    return std::atoll(r.body.c_str() + at + 1 + prefix.size());
  };
  const long long fsyncs = value_after("orderlog_fsyncs_total ");
  EXPECT_GE(fsyncs, 1);
  EXPECT_EQ(value_after("orderlog_fsync_duration_seconds_bucket{le=\"+Inf\"} "), fsyncs);
  EXPECT_EQ(value_after("orderlog_fsync_duration_seconds_count "), fsyncs);
}

TEST_F(E2eTest, KeepAliveWithAndWithoutAConnectionHeader) {
  const std::string id = Create();
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = client_->Raw("GET /orders/" + id + "/ HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.header("connection"), "Close");
  }
  HttpResponse r = client_->Request("GET", "/health", "", {{"Connection", "keep-alive"}});
  EXPECT_EQ(r.status, 200);
  r = client_->Request("GET", "/health", "");  // still the same connection
  EXPECT_EQ(r.status, 200);
}

TEST_F(E2eTest, RestartKeepsEverything) {
  const std::string a = Create();
  ASSERT_EQ(
      client_->Request("PUT", "/orders/" + a + "/status/", "{\"new_status\":\"shipped\"}").status,
      200);
  const std::string before = client_->Request("GET", "/orders/" + a + "/").body;
  Restart();
  EXPECT_EQ(client_->Request("GET", "/orders/" + a + "/").body, before);
  EXPECT_EQ(Position(), 2u);
  const std::string b = Create();
  EXPECT_EQ(Position(), 3u);
  auto feed = Json(client_->Request("GET", "/events/").body);
  ASSERT_EQ(feed.Size(), 3u);
  EXPECT_EQ(feed[2]["order_id"].GetString(), b);
}

TEST(E2eServerTest, SecondServerOnTheSameDirectoryRefusesToStart) {
  TempDir dir;
  ServerProcess first(dir.path());
  ASSERT_TRUE(first.started()) << first.output();
  ServerProcess second(dir.path());
  EXPECT_FALSE(second.started());
  EXPECT_EQ(second.Wait(5000), 1);
  EXPECT_NE(second.output().find("in use by another process"), std::string::npos)
      << second.output();
}

TEST(E2eServerTest, BearerToken) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--auth-token", "s3cret"});
  ASSERT_TRUE(server.started());
  HttpClient client(server.port());
  HttpResponse r = client.Request("GET", "/orders/");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  EXPECT_TRUE(Json(r.body)["detail"].IsString());
  EXPECT_EQ(client.Request("GET", "/metrics").status, 401);
  EXPECT_EQ(
      client.Request("POST", "/orders/", OrderBody(), {{"Authorization", "Bearer nope"}}).status,
      401);
  EXPECT_EQ(client.Request("GET", "/health").status, 200);
  EXPECT_EQ(client.Request("DELETE", "/orders/").status, 405);  // route and method come first
  r = client.Request("POST", "/orders/", OrderBody(), {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(client.Request("GET", "/metrics", "", {{"Authorization", "Bearer s3cret"}}).status,
            200);
}

}  // namespace
}  // namespace orderlog::testing
