#include "tests/e2e/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <asio.hpp>
#include <cctype>
#include <charconv>

namespace orderlog::testing {

struct HttpClient::Impl {
  asio::io_context io;
  asio::ip::tcp::socket socket{io};
  uint16_t port;
  std::chrono::milliseconds deadline;
  std::string buffered;  // bytes read past the last response
  bool connected = false;

  void Connect() {
    asio::error_code ec;
    socket.close(ec);
    socket = asio::ip::tcp::socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    connected = !ec;
    buffered.clear();
    SetTimeout(deadline);
  }
  void SetTimeout(std::chrono::milliseconds ms) {
    if (!connected) return;
    timeval tv{};
    tv.tv_sec = static_cast<long>(ms.count() / 1000);
    tv.tv_usec = static_cast<long>((ms.count() % 1000) * 1000);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  // Reads more bytes into buffered; false on EOF, error or timeout.
  bool ReadMore() {
    char chunk[65536];
    asio::error_code ec;
    const size_t n = socket.read_some(asio::buffer(chunk), ec);
    if (ec || n == 0) return false;
    buffered.append(chunk, n);
    return true;
  }
};

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds deadline)
    : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->deadline = deadline;
  impl_->Connect();
}

HttpClient::~HttpClient() = default;

void HttpClient::Reconnect() {
  impl_->Connect();
}

bool HttpClient::Send(const std::string& bytes) {
  if (!impl_->connected) impl_->Connect();
  asio::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes), ec);
  return !ec;
}

HttpResponse HttpClient::ReadResponse(bool to_head) {
  HttpResponse r;
  size_t end;
  while ((end = impl_->buffered.find("\r\n\r\n")) == std::string::npos) {
    if (!impl_->ReadMore()) return r;
  }
  const std::string head = impl_->buffered.substr(0, end);
  impl_->buffered.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() >= 12) r.status = std::stoi(status_line.substr(9, 3));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string::npos) eol = head.size();
    const std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    r.headers[name] = line.substr(v);
  }
  if (!to_head && r.header("transfer-encoding") == "chunked") {
    // Strictly as RFC 9112 §7.1 frames it: hex size, CRLF, data, CRLF; size 0 and an empty
    // trailer end it. Anything else leaves the answer unread (status 0).
    for (;;) {
      size_t eol;
      while ((eol = impl_->buffered.find("\r\n")) == std::string::npos) {
        if (!impl_->ReadMore()) return HttpResponse{};
      }
      const std::string size_line = impl_->buffered.substr(0, eol);
      size_t size = 0;
      const auto [ptr, ec] =
          std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
      if (ec != std::errc() || ptr != size_line.data() + size_line.size() || size_line.empty()) {
        return HttpResponse{};
      }
      impl_->buffered.erase(0, eol + 2);
      while (impl_->buffered.size() < size + 2) {
        if (!impl_->ReadMore()) return HttpResponse{};
      }
      if (impl_->buffered.compare(size, 2, "\r\n") != 0) return HttpResponse{};
      r.body.append(impl_->buffered, 0, size);
      impl_->buffered.erase(0, size + 2);
      ++r.chunks;
      if (size == 0) return r;
    }
  }
  if (!to_head && !r.headers.count("content-length") && r.header("connection") == "Close" &&
      r.status >= 200 && r.status != 204 && r.status != 304) {
    while (impl_->ReadMore()) {  // the body ends with the connection
    }
    r.body = std::move(impl_->buffered);
    impl_->buffered.clear();
    return r;
  }
  const size_t length =
      !to_head && r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
  while (impl_->buffered.size() < length) {
    if (!impl_->ReadMore()) {
      r.status = 0;
      return r;
    }
  }
  r.body = impl_->buffered.substr(0, length);
  impl_->buffered.erase(0, length);
  return r;
}

HttpResponse HttpClient::Request(const std::string& method, const std::string& path,
                                 const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_connection = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (k == "Connection") has_connection = true;
  }
  if (!has_connection) req += "Connection: keep-alive\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connected || !Send(req)) {
      impl_->Connect();
      if (!Send(req)) continue;
    }
    HttpResponse r = ReadResponse(method == "HEAD");
    if (r.status != 0) return r;
    impl_->Connect();  // the server closed an idle connection: retry once on a new one
  }
  return {};
}

HttpResponse HttpClient::Raw(const std::string& bytes) {
  if (!Send(bytes)) return {};
  return ReadResponse();
}

bool HttpClient::ServerClosed(std::chrono::milliseconds wait) {
  impl_->SetTimeout(wait);
  char c;
  asio::error_code ec;
  const size_t n = impl_->socket.read_some(asio::buffer(&c, 1), ec);
  impl_->SetTimeout(impl_->deadline);
  return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
}

}  // namespace orderlog::testing
