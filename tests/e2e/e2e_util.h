#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "engine/env.h"
#include "engine/segment.h"
#include "tests/e2e/http_client.h"
#include "tests/e2e/server_process.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {

// A raw socket connected to the server on loopback, or -1. receive_timeout: how long a read
// waits (zero: for ever); send_timeout likewise; rcvbuf: the receive buffer (0: the default).
inline int ConnectLoopback(uint16_t port,
                           std::chrono::seconds receive_timeout = std::chrono::seconds(0),
                           int rcvbuf = 0,
                           std::chrono::seconds send_timeout = std::chrono::seconds(0)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  const timeval receive{static_cast<time_t>(receive_timeout.count()), 0};
  const timeval send{static_cast<time_t>(send_timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive, sizeof receive);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send, sizeof send);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A process's resident memory in KiB (-1 if unknown).
inline long ResidentKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// The path of the segment that starts at `base` in a data directory.
inline std::string SegPath(const std::string& dir, uint64_t base) {
  return dir + "/" + SegmentFileName(Position(base));
}

// Where the record at `position` starts in its segment file (for a test that damages it).
inline uint64_t RecordOffset(const std::string& dir, uint64_t position) {
  auto bases = ListSegmentFiles(Env::Default(), dir);
  uint64_t base = 1;
  for (Position b : *bases) {
    if (b.value <= position) base = b.value;
  }
  auto file = Env::Default()->Open(SegPath(dir, base), OpenMode::kReadOnly);
  SegmentReader reader(file->get(), format::kSegmentHeaderSize, *(*file)->Size());
  RecordView rec;
  while (reader.Read(&rec) == SegmentReader::Next::kRecord) {
    if (rec.position.value == position) return reader.offset();
  }
  ADD_FAILURE() << "no record " << position;
  return 0;
}

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
