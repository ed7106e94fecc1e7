// What an operator on a shared host relies on (../shared/API.md, "Security"): the data is the
// owner's alone, a directory others could change is refused, and tokens are checked properly —
// from a file re-read on SIGHUP while connections stay open, scoped to reading with "read:", and
// never printed.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace orderlog::testing {
namespace {

namespace fs = std::filesystem;

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<unsigned>(st.st_mode & 07777);
}

std::string PostBytes(int i) {
  const std::string body = OrderBody("cust-" + std::to_string(i), "Widget", 1);
  return "POST /orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

TEST(SecurityTest, TheDataDirectoryAndEveryFileInItAreTheOwnersAlone) {
  TempDir dir;
  const std::string data = dir.path() + "/data";  // made by the server
  // Small segments and snapshots: a roll-over and a snapshot happen within the test.
  ServerProcess server(
      data, {"--durability", "none", "--segment-size-mib", "1", "--snapshot-every", "1000"});
  ASSERT_TRUE(server.started()) << server.output();
  HttpClient c(server.port(), std::chrono::seconds(30));
  std::string batch;
  for (int i = 0; i < 10000; ++i) batch += PostBytes(i);
  ASSERT_TRUE(c.Send(batch));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(c.ReadResponse().status, 201);
  EXPECT_EQ(server.Terminate(), 0);  // the shutdown snapshot too

  EXPECT_EQ(ModeOf(data), 0700u);
  size_t files = 0;
  size_t segments = 0;
  size_t snapshots = 0;
  for (const auto& entry : fs::recursive_directory_iterator(data)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory()) {
      EXPECT_EQ(ModeOf(entry.path()), 0700u) << name;
      continue;
    }
    ++files;
    segments += name.find(".seg") != std::string::npos ? 1 : 0;
    snapshots += name.find("snap") != std::string::npos ? 1 : 0;
    EXPECT_EQ(ModeOf(entry.path()), 0600u) << name;
  }
  EXPECT_GT(segments, 1u) << "no roll-over happened";
  EXPECT_GT(snapshots, 0u) << "no snapshot was written";
  EXPECT_GT(files, segments + snapshots);
}

TEST(SecurityTest, ADirectoryOthersCouldWriteToIsRefusedWithTheFix) {
  TempDir dir;
  for (const unsigned mode : {0770u, 0757u}) {
    const std::string data = dir.path() + "/data" + std::to_string(mode);
    fs::create_directory(data);
    ASSERT_EQ(::chmod(data.c_str(), mode), 0);
    ServerProcess server(data);
    EXPECT_FALSE(server.started());
    EXPECT_NE(server.output().find("chmod 700 " + data), std::string::npos) << server.output();
    EXPECT_FALSE(fs::exists(data + "/LOCK")) << "nothing is written before the refusal";
  }
  // Readable by others: served, with a warning that says how to make it private.
  const std::string readable = dir.path() + "/readable";
  fs::create_directory(readable);
  ASSERT_EQ(::chmod(readable.c_str(), 0755), 0);
  ServerProcess server(readable);
  ASSERT_TRUE(server.started()) << server.output();
  EXPECT_NE(server.output().find("chmod 700 " + readable), std::string::npos) << server.output();
}

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = dir_.path() + "/tokens";
    Write("# operators\nalpha-token-1\n\nread:beta-token-2\n");
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data",
                                              std::vector<std::string>{"--auth-token-file", file_});
    ASSERT_TRUE(server_->started()) << server_->output();
  }
  void Write(const std::string& text) {
    std::ofstream(file_ + ".new") << text;
    fs::rename(file_ + ".new", file_);
  }
  // SIGHUP, then waits for the server to say what it did (the n-th such line).
  void Reload(int n) {
    ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      const std::string out = server_->FullOutput();
      size_t count = 0;
      for (size_t at = out.find("SIGHUP:"); at != std::string::npos;
           at = out.find("SIGHUP:", at + 1)) {
        ++count;
      }
      if (count >= static_cast<size_t>(n)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "no SIGHUP line: " << server_->FullOutput();
  }
  static std::map<std::string, std::string> As(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  TempDir dir_;
  std::string file_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(TokenFileTest, AReadTokenReadsAndGets403OnEveryWrite) {
  HttpClient c(server_->port());
  const HttpResponse created = c.Request("POST", "/orders/", OrderBody(), As("alpha-token-1"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = Json(created.body)["order_id"].GetString();
  const std::vector<std::string> reads = {"/orders/", "/orders/" + id + "/",
                                          "/orders/" + id + "/events/", "/events/", "/metrics"};
  for (const std::string& path : reads) {
    EXPECT_EQ(c.Request("GET", path, "", As("beta-token-2")).status, 200) << path;
    EXPECT_EQ(c.Request("HEAD", path, "", As("beta-token-2")).status, 200) << path;
    EXPECT_EQ(c.Request("GET", path).status, 401) << path;
  }
  const HttpResponse post = c.Request("POST", "/orders/", OrderBody(), As("beta-token-2"));
  EXPECT_EQ(post.status, 403);
  EXPECT_NE(Json(post.body)["detail"].GetString(), std::string());
  const HttpResponse put = c.Request("PUT", "/orders/" + id + "/status/",
                                     "{\"new_status\":\"shipped\"}", As("beta-token-2"));
  EXPECT_EQ(put.status, 403);
  EXPECT_STREQ(Json(c.Request("GET", "/orders/" + id + "/", "", As("beta-token-2")).body)["status"]
                   .GetString(),
               "processing")
      << "the refused write changed nothing";
  // Refused before its body is read, as every refusal is: no 100 Continue for it.
  const HttpResponse early = c.Raw(
      "POST /orders/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer beta-token-2\r\n"
      "Expect: 100-continue\r\nContent-Length: 40\r\n\r\n");
  EXPECT_EQ(early.status, 403);
  EXPECT_EQ(c.Request("GET", "/health").status, 200) << "/health needs no token";
  EXPECT_EQ(c.Request("GET", "/orders/", "", As("alpha-token-1x")).status, 401);
  EXPECT_EQ(c.Request("GET", "/orders/", "", As("alpha-token-")).status, 401);
  EXPECT_EQ(c.Request("GET", "/orders/", "", {{"Authorization", "bearer alpha-token-1"}}).status,
            200)
      << "the scheme is case-insensitive";
}

TEST_F(TokenFileTest, SighupRotatesTokensWhileAConnectionStaysOpen) {
  HttpClient c(server_->port());
  EXPECT_EQ(c.Request("GET", "/orders/", "", As("alpha-token-1")).status, 200);
  // Add the new token next to the old one: both work, on the same connection.
  Write("alpha-token-1\ngamma-token-3\n");
  Reload(1);
  EXPECT_EQ(c.Request("POST", "/orders/", OrderBody(), As("gamma-token-3")).status, 201);
  EXPECT_EQ(c.Request("GET", "/orders/", "", As("alpha-token-1")).status, 200);
  // Then retire the old one.
  Write("gamma-token-3\n");
  Reload(2);
  EXPECT_EQ(c.Request("GET", "/orders/", "", As("alpha-token-1")).status, 401);
  EXPECT_EQ(c.Request("GET", "/orders/", "", As("gamma-token-3")).status, 200);
  // A file that does not parse keeps the tokens in force.
  Write("gamma token with spaces\n");
  Reload(3);
  EXPECT_EQ(c.Request("GET", "/orders/", "", As("gamma-token-3")).status, 200);
  EXPECT_NE(server_->FullOutput().find("kept"), std::string::npos);
  // One connection all along, and no token ever printed or counted.
  const std::string out = server_->FullOutput();
  const std::string metrics = c.Request("GET", "/metrics", "", As("gamma-token-3")).body;
  for (const char* token : {"alpha-token-1", "beta-token-2", "gamma-token-3", "gamma token"}) {
    EXPECT_EQ(out.find(token), std::string::npos) << token;
    EXPECT_EQ(metrics.find(token), std::string::npos) << token;
  }
}

}  // namespace
}  // namespace orderlog::testing
