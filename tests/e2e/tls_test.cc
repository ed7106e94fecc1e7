// HTTPS on the server's own port (--tls-cert/--tls-key): the same API and the same guard over
// TLS — create and read on one connection, pipelining, a malformed request refused and closed
// with close_notify, a streamed list, Connection: close — and what is not TLS is refused without
// harm: plain HTTP on the TLS port, TLS 1.1.
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

// A TLS client that speaks raw HTTP/1.1 bytes: what it sends is exactly what the test says.
class TlsClient {
 public:
  explicit TlsClient(uint16_t port, int max_version = 0) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_, max_version);
    fd_ = ConnectLoopback(port, std::chrono::seconds(10));
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = fd_ >= 0 && SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  std::string version() const { return SSL_get_version(ssl_); }
  bool Send(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  // One answer: head, then its Content-Length or chunked body. Status 0 if none came.
  HttpResponse Read() {
    HttpResponse r;
    size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!More()) return r;
    }
    const std::string head = in_.substr(0, end);
    in_.erase(0, end + 4);
    r.status = std::stoi(head.substr(9, 3));
    for (size_t at = head.find("\r\n"); at != std::string::npos;) {
      const size_t next = head.find("\r\n", at + 2);
      const std::string line =
          head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
      const size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(colon + 2);
      at = next;
    }
    if (r.header("transfer-encoding") == "chunked") {
      for (;;) {
        while ((end = in_.find("\r\n")) == std::string::npos) {
          if (!More()) return HttpResponse{};
        }
        const size_t size = std::stoul(in_.substr(0, end), nullptr, 16);
        in_.erase(0, end + 2);
        while (in_.size() < size + 2) {
          if (!More()) return HttpResponse{};
        }
        r.body.append(in_, 0, size);
        in_.erase(0, size + 2);
        ++r.chunks;
        if (size == 0) return r;
      }
    }
    const size_t length = std::stoul(r.header("content-length"));
    while (in_.size() < length) {
      if (!More()) return HttpResponse{};
    }
    r.body = in_.substr(0, length);
    in_.erase(0, length);
    return r;
  }
  // Whether the server ended the TLS session properly (close_notify) and nothing else came.
  bool ClosedCleanly() {
    char c;
    const int n = SSL_read(ssl_, &c, 1);
    return n <= 0 && SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN && in_.empty();
  }

 private:
  bool More() {
    char buf[16384];
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) return false;
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string in_;
};

std::string Request(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& extra = "") {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + extra;
  if (!body.empty()) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string cert = dir_.path() + "/cert.pem";
    const std::string key = dir_.path() + "/key.pem";
    const std::string make =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
        " -out " + cert + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(make.c_str()), 0) << make;
    server_ = std::make_unique<ServerProcess>(
        dir_.path() + "/data",
        std::vector<std::string>{"--tls-cert", cert, "--tls-key", key, "--durability", "none"});
    ASSERT_TRUE(server_->started()) << server_->output();
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server output:\n" << server_->FullOutput();
  }
  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(TlsTest, CreateAndReadPipelinedOnOneConnection) {
  TlsClient c(server_->port());
  ASSERT_TRUE(c.connected());
  EXPECT_TRUE(c.version() == "TLSv1.3" || c.version() == "TLSv1.2") << c.version();
  ASSERT_TRUE(c.Send(Request("POST", "/orders/", OrderBody())));
  const HttpResponse created = c.Read();
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = Json(created.body)["order_id"].GetString();
  // Three requests in one record: answered in order.
  ASSERT_TRUE(c.Send(Request("GET", "/orders/" + id + "/") + Request("GET", "/health") +
                     Request("PUT", "/orders/" + id + "/status/", "{\"new_status\":\"shipped\"}")));
  const HttpResponse got = c.Read();
  EXPECT_EQ(got.status, 200);
  EXPECT_STREQ(Json(got.body)["order_id"].GetString(), id.c_str());
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_EQ(c.Read().status, 200);
  ASSERT_TRUE(c.Send(Request("GET", "/orders/" + id + "/")));
  EXPECT_STREQ(Json(c.Read().body)["status"].GetString(), "shipped");
}

TEST_F(TlsTest, AMalformedRequestIsRefusedAndTheSessionClosedCleanly) {
  TlsClient c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"));
  const HttpResponse r = c.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(Json(r.body).HasMember("detail"));
  EXPECT_TRUE(c.ClosedCleanly());
  TlsClient again(server_->port());  // and the server serves on
  ASSERT_TRUE(again.connected());
  ASSERT_TRUE(again.Send(Request("GET", "/health", "", "Connection: close\r\n")));
  EXPECT_EQ(again.Read().status, 200);
  EXPECT_TRUE(again.ClosedCleanly()) << "Connection: close ends with close_notify";
}

TEST_F(TlsTest, AStreamedListArrivesWhole) {
  TlsClient c(server_->port());
  ASSERT_TRUE(c.connected());
  std::string batch;
  for (int i = 0; i < 2000; ++i) batch += Request("POST", "/orders/", OrderBody());
  ASSERT_TRUE(c.Send(batch));
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(c.Read().status, 201);
  ASSERT_TRUE(c.Send(Request("GET", "/orders/")));
  const HttpResponse list = c.Read();
  EXPECT_EQ(list.header("transfer-encoding"), "chunked");
  EXPECT_EQ(Json(list.body).Size(), 2000u);
  EXPECT_EQ(list.header("x-total-count"), "2000");
}

TEST_F(TlsTest, PlainHttpAndOldTlsAreRefusedWithoutHarm) {
  const int fd = ConnectLoopback(server_->port(), std::chrono::seconds(10));
  ASSERT_GE(fd, 0);
  const std::string plain = Request("GET", "/health");
  ASSERT_EQ(::send(fd, plain.data(), plain.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(plain.size()));
  char buf[512];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  EXPECT_LE(n, 0) << "a plain answer on the TLS port: " << std::string(buf, n > 0 ? n : 0);
  ::close(fd);
  TlsClient old(server_->port(), TLS1_1_VERSION);
  EXPECT_FALSE(old.connected()) << "TLS 1.1 accepted";
  TlsClient c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(Request("GET", "/health")));
  EXPECT_EQ(c.Read().status, 200);
}

}  // namespace
}  // namespace orderlog::testing
