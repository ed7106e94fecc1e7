// Bad input gets a clear 4xx with {"detail": "..."} and changes nothing; never a 5xx, never a
// dropped connection without an answer.
#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

void ExpectRefused(HttpClient& c, const std::string& body, int code, const std::string& why) {
  HttpResponse r = c.Request("POST", "/orders/", body);
  EXPECT_EQ(r.status, code) << why << ": " << body << " -> " << r.body;
  auto d = Json(r.body);
  ASSERT_TRUE(d.IsObject()) << why;
  ASSERT_TRUE(d.HasMember("detail")) << why;
  EXPECT_TRUE(d["detail"].IsString()) << why;
  EXPECT_EQ(d.MemberCount(), 1u) << why;
}

TEST_F(E2eTest, MalformedJsonIs400) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty body"},
      {"   \n ", "blank body"},
      {"{", "truncated"},
      {"{\"customer_id\": \"1\",}", "trailing comma"},
      {"[1, 2]", "array"},
      {"\"just a string\"", "string"},
      {"42", "number"},
      {"null", "null"},
      {"{\"customer_id\":\"1\",\"product\":\"p\",\"quantity\":1} x", "trailing garbage"},
      {"{\"customer_id\":\"1\",\"product\":\"p\",\"quantity\":1}{}", "two documents"},
      {"{\"customer_id\":\"1\",\"customer_id\":\"2\",\"product\":\"p\",\"quantity\":1}",
       "duplicate key"},
      {"{\"customer_id\":\"1\",\"product\":\"p\",\"quantity\":1,\"x\":{\"a\":1,\"a\":2}}",
       "nested duplicate key"},
      {"{\"customer_id\":\"\xff\",\"product\":\"p\",\"quantity\":1}", "invalid UTF-8"},
      {"{\"customer_id\":\"\\ud800\",\"product\":\"p\",\"quantity\":1}", "lone high surrogate"},
      {"{\"customer_id\":\"\\udc00\",\"product\":\"p\",\"quantity\":1}", "lone low surrogate"},
      {"{'customer_id': '1'}", "single quotes"},
      {"{\"quantity\": 01}", "leading zero"},
  };
  for (const auto& [body, why] : cases) ExpectRefused(*client_, body, 400, why);
  EXPECT_EQ(Position(), 0u);
}

TEST_F(E2eTest, RuleBreakingFieldsAre422) {
  const std::string big(257, 'x');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{}", "nothing"},
      {"{\"product\":\"p\",\"quantity\":1}", "missing customer_id"},
      {"{\"customer_id\":\"c\",\"quantity\":1}", "missing product"},
      {"{\"customer_id\":\"c\",\"product\":\"p\"}", "missing quantity"},
      {"{\"customer_id\":123,\"product\":\"p\",\"quantity\":1}", "number as customer_id"},
      {"{\"customer_id\":null,\"product\":\"p\",\"quantity\":1}", "null customer_id"},
      {"{\"customer_id\":\"c\",\"product\":[\"p\"],\"quantity\":1}", "array product"},
      {"{\"customer_id\":\"\",\"product\":\"p\",\"quantity\":1}", "empty customer_id"},
      {"{\"customer_id\":\"c\",\"product\":\"\",\"quantity\":1}", "empty product"},
      {"{\"customer_id\":\"" + big + "\",\"product\":\"p\",\"quantity\":1}", "257 bytes"},
      {"{\"customer_id\":\"a\\u0000b\",\"product\":\"p\",\"quantity\":1}", "NUL"},
      {"{\"customer_id\":\"a\\tb\",\"product\":\"p\",\"quantity\":1}", "tab"},
      {"{\"customer_id\":\"a\\u007fb\",\"product\":\"p\",\"quantity\":1}", "DEL"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":0}", "quantity 0"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":-1}", "negative"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":1000001}", "too many"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":2.0}", "2.0"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":1e2}", "1e2"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":-0}", "-0"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":true}", "true"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":\"2\"}", "string 2"},
      {"{\"customer_id\":\"c\",\"product\":\"p\",\"quantity\":99999999999999999999999}", "huge"},
  };
  for (const auto& [body, why] : cases) ExpectRefused(*client_, body, 422, why);
  EXPECT_EQ(Position(), 0u);
}

TEST_F(E2eTest, ValidEdgeCasesAreAccepted) {
  const std::string max(256, 'm');
  for (const std::string& body :
       {"\xEF\xBB\xBF" + OrderBody(),  // byte-order mark
        std::string("{\"customer_id\":\" \",\"product\":\"p\",\"quantity\":1}"),
        "{\"customer_id\":\"" + max + "\",\"product\":\"\\u00fc\xc3\xbc\",\"quantity\":1000000}",
        std::string("{\"customer_id\":\"\\ud83d\\ude00\",\"product\":\"p\",\"quantity\":1,"
                    "\"ignored\":{\"deep\":[1,2,{\"x\":null}]}}")}) {
    HttpResponse r = client_->Request("POST", "/orders/", body);
    EXPECT_EQ(r.status, 201) << body << " -> " << r.body;
  }
  // Stored exactly as sent.
  auto list = Json(client_->Request("GET", "/orders/").body);
  EXPECT_STREQ(list[1]["customer_id"].GetString(), " ");
  EXPECT_STREQ(list[2]["product"].GetString(), "\xc3\xbc\xc3\xbc");
  EXPECT_STREQ(list[3]["customer_id"].GetString(), "\xf0\x9f\x98\x80");
  // JSON bodies are parsed whatever the Content-Type says.
  HttpResponse r =
      client_->Request("POST", "/orders/", OrderBody(), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 201);
}

TEST_F(E2eTest, GarbageRequestsNeverGetA5xx) {
  const std::vector<std::string> raw = {
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET /orders/ HTTP/9.9\r\n\r\n",
      "BREW /orders/ HTTP/1.1\r\n\r\n",
      "GET orders HTTP/1.1\r\n\r\n",
      "POST /orders/ HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST /orders/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST /orders/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /orders/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST /orders/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const auto& bytes : raw) {
    HttpClient c(server_->port(), std::chrono::seconds(3));
    HttpResponse r = c.Raw(bytes);
    EXPECT_GE(r.status, 400) << bytes;  // answered, and not with a 5xx
    EXPECT_LT(r.status, 500) << bytes;
    EXPECT_TRUE(Json(r.body)["detail"].IsString()) << bytes;
  }
  // The server is still healthy and nothing was written.
  EXPECT_EQ(Position(), 0u);
}

}  // namespace
}  // namespace orderlog::testing
