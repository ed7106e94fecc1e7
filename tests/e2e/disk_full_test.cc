// The server on a small file system of its own (a tmpfs the test mounts) runs until the disk is
// full: writes answer 503 with a detail that says so, reads keep working, nothing acknowledged is
// lost, and after space is freed and the server restarted, writes work again.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

class Tmpfs {
 public:
  Tmpfs(const std::string& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool Resize(const std::string& size) {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, ("size=" + size).c_str()) == 0;
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

TEST(DiskFullTest, WritesGet503ReadsWorkAndNothingAcknowledgedIsLost) {
  TempDir dir;
  Tmpfs fs(dir.path() + "/fs", "3m");
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << fs.error() << ")";
  const std::string data = dir.path() + "/fs/data";
  std::vector<std::string> acked;
  {
    ServerProcess server(data, {"--segment-size-mib", "1", "--snapshot-every", "0"});
    ASSERT_TRUE(server.started()) << server.output();
    HttpClient c(server.port());
    const std::string pad(240, 'p');  // fields are at most 256 bytes
    HttpResponse last;
    for (int i = 0; i < 40000; ++i) {
      last = c.Request("POST", "/orders/", OrderBody("c", "product-" + pad));
      if (last.status != 201) break;
      acked.push_back(Json(last.body)["order_id"].GetString());
    }
    ASSERT_EQ(last.status, 503) << last.body;
    const std::string detail = Json(last.body)["detail"].GetString();
    EXPECT_NE(detail.find("disk is full"), std::string::npos) << detail;
    ASSERT_GT(acked.size(), 100u);
    // Every later write is refused the same way; reads keep working.
    EXPECT_EQ(c.Request("POST", "/orders/", OrderBody()).status, 503);
    EXPECT_EQ(
        c.Request("PUT", "/orders/" + acked[0] + "/status/", "{\"new_status\":\"shipped\"}").status,
        503);
    EXPECT_EQ(c.Request("GET", "/orders/" + acked.back() + "/").status, 200);
    // /health says it: a load balancer must stop sending writes here.
    const HttpResponse health = c.Request("GET", "/health");
    EXPECT_EQ(health.status, 503);
    const auto h = Json(health.body);
    EXPECT_STREQ(h["status"].GetString(), "read-only");
    EXPECT_NE(std::string(h["detail"].GetString()).find("disk is full"), std::string::npos);
    EXPECT_EQ(h["orders"].GetUint64(), acked.size());
    const std::string metrics = c.Request("GET", "/metrics").body;
    EXPECT_NE(metrics.find("\norderlog_writable 0\n"), std::string::npos) << metrics;
    EXPECT_EQ(metrics.find("orderlog_writes_refused_total{reason=\"no_space\"} 0\n"),
              std::string::npos)
        << "the refused writes are counted";
    server.Kill();  // as if the operator gave up on it
  }
  ASSERT_TRUE(fs.Resize("64m"));
  ServerProcess server(data);
  ASSERT_TRUE(server.started()) << server.output();
  HttpClient c(server.port());
  for (const auto& id : acked) {
    ASSERT_EQ(c.Request("GET", "/orders/" + id + "/").status, 200) << "lost " << id;
  }
  EXPECT_EQ(c.Request("POST", "/orders/", OrderBody()).status, 201);
  EXPECT_EQ(c.Request("GET", "/health").status, 200);
  EXPECT_NE(c.Request("GET", "/metrics").body.find("\norderlog_writable 1\n"), std::string::npos);
}

}  // namespace
}  // namespace orderlog::testing
