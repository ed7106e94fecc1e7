#include "server/http/http_util.h"

#include <pistache/peer.h>

#include <charconv>
#include <sstream>

#include "server/http/errors.h"
#include "server/http/json_out.h"

namespace orderlog::http {

namespace Http = Pistache::Http;

RequestContext MakeContext(const Http::Request& req, RouteId route) {
  RequestContext ctx;
  ctx.route = route;
  ctx.method = Http::methodString(req.method());
  ctx.keep_alive =
      req.version() == Http::Version::Http11 && !req.headers().tryGet<Http::Header::Connection>();
  ctx.head = req.method() == Http::Method::Head;
  ctx.http10 = req.version() == Http::Version::Http10;
  return ctx;
}

namespace {

// A HEAD answer: the GET answer's status line and headers, its Content-Length included, and no
// body. Pistache's ResponseWriter cannot leave the body out (it writes Content-Length from what
// it sends), so the head is written here, as putOnWire writes it, and sent on the peer.
void SendHeadOnly(Http::ResponseWriter& rw, const RequestContext& ctx, int code, size_t length,
                  const Http::Mime::MediaType& mime) {
  const auto status = static_cast<Http::Code>(code);
  std::string head = std::string(ctx.http10 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(code) +
                     " " + Http::codeString(status) + "\r\n";
  std::ostringstream value;
  for (const auto& h : rw.headers().list()) {
    value.str("");
    h->write(value);
    head += std::string(h->name()) + ": " + value.str() + "\r\n";
  }
  head += "Content-Type: " + mime.toString() + "\r\nContent-Length: " + std::to_string(length) +
          "\r\n\r\n";
  const auto peer = rw.peer();  // throws if the client has gone, as send() does
  peer->setIdle(true);          // what send() does: the request is answered
  const size_t size = head.size();
  peer->send(Pistache::RawBuffer(std::move(head), size))
      .then([](ssize_t) {}, Pistache::Async::IgnoreException);
}

}  // namespace

void Reply(Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics, int code,
           const std::string& body, const ReplyHeaders& h, const char* content_type) {
  auto& headers = rw.headers();
  if (ctx.keep_alive) {  // Pistache would say "Connection: Close" and keep the socket open
    headers.remove<Http::Header::Connection>();
    headers.add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
  }
  if (h.etag) headers.add<ETagHeader>("\"" + *h.etag + "\"");
  if (h.location) headers.add<Http::Header::Location>(*h.location);
  if (h.total_count) headers.add<TotalCountHeader>(std::to_string(*h.total_count));
  if (h.allow) headers.add<AllowHeader>(*h.allow);
  if (h.www_authenticate) headers.add<WwwAuthenticateHeader>("Bearer");
  const auto mime = content_type != nullptr ? Http::Mime::MediaType::fromString(content_type)
                                            : Http::Mime::MediaType(Http::Mime::Type::Application,
                                                                    Http::Mime::Subtype::Json);
  // Counted before the send: a client that has its answer may ask /metrics at once.
  metrics.CountRequest(ctx.route, ctx.method, code, std::chrono::steady_clock::now() - ctx.start);
  // A client that has gone makes Pistache throw from send() (synchronously, "Write failed"), or
  // reject its promise later: neither may escape into the reactor.
  try {
    if (ctx.head) {
      SendHeadOnly(rw, ctx, code, body.size(), mime);
    } else {
      rw.send(static_cast<Http::Code>(code), body, mime)
          .then([](ssize_t) {}, Pistache::Async::IgnoreException);
    }
  } catch (const std::exception&) {
  }
}

PreparedReply ErrorReply(const Status& status) {
  HttpError e = ToHttpError(status);
  return {e.code, ErrorJson(e.detail), {}};
}

void ReplyError(Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics, int code,
                const std::string& detail, const ReplyHeaders& headers) {
  Reply(rw, ctx, metrics, code, ErrorJson(detail), headers);
}

namespace {
int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> QueryParam(const Http::Request& req, const std::string& name) {
  auto raw = req.query().get(name);
  if (!raw) return std::nullopt;
  std::string out;
  const std::string& s = *raw;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) << 4 | Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<uint64_t> ParseCount(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace orderlog::http
