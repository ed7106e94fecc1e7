// A small blocking HTTP/1.1 client on Asio for end-to-end tests: exact bytes in, parsed response
// out, with a deadline on every read so a stalled response fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace orderlog::testing {

struct HttpResponse {
  int status = 0;  // 0: no response (connection closed or deadline passed)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // chunked bodies decoded
  int chunks = 0;  // chunks of a chunked body, the terminating one included
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds deadline = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request on the kept-alive connection (reconnecting if the server closed it).
  HttpResponse Request(const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});
  // Sends raw bytes and reads one response.
  HttpResponse Raw(const std::string& bytes);
  // Writes bytes without reading.
  bool Send(const std::string& bytes);
  // `to_head`: the response answers a HEAD request, so it has no body whatever its length says.
  HttpResponse ReadResponse(bool to_head = false);
  // True if the server has closed the connection (a read sees EOF within the timeout).
  bool ServerClosed(std::chrono::milliseconds wait = std::chrono::milliseconds(1000));
  void Reconnect();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderlog::testing
